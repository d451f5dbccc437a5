"""The site's stored Journal Entries: naming series, the unique custom field, submit and cancel."""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Mapping
from datetime import date
from typing import Any

from sandbox.frappe.chart import Chart
from sandbox.frappe.doctypes import JE, JEA, POSTING_KEY_LABEL
from sandbox.frappe.errors import FrappeError, msg_log_entry, not_found, random_hash, throw
from sandbox.frappe.rules import JournalEntryRules, docstatus_of, transition_error
from sandbox.frappe.values import timestamp


class JournalEntryStore:
    """The site's Journal Entries: naming series, the unique custom field, submit and cancel.
    Every write runs under one lock, like one database transaction."""

    def __init__(
        self, chart: Chart, *, strict: bool, posting_key_field: str | None, user: str
    ) -> None:
        self.lock = threading.RLock()
        self.docs: dict[str, dict[str, Any]] = {}
        self.counters: dict[str, int] = {}
        self.posting_key_field = posting_key_field
        self.user = user
        self.rules = JournalEntryRules(
            chart,
            strict=strict,
            posting_key_field=posting_key_field,
            entry_exists=self.docs.__contains__,
        )

    def _series_prefix(self, raw: Mapping[str, Any]) -> str:
        # ACC-JV-.YYYY.- : the year of the posting date (today's when it is missing or bad).
        year = date.today().year
        posting = raw.get("posting_date")
        if isinstance(posting, str) and re.match(r"\d{4}-", posting):
            year = int(posting[:4])
        return f"ACC-JV-{year}-"

    def _peek_name(self, raw: Mapping[str, Any]) -> str:
        prefix = self._series_prefix(raw)
        return f"{prefix}{self.counters.get(prefix, 0) + 1:05d}"

    def _check_unique(self, doc: Mapping[str, Any], name: str) -> None:
        key_field = self.posting_key_field
        value = doc.get(key_field) if key_field else None
        if not value or not value.strip():
            return  # a unique column holds any number of NULLs
        if any(d.get(key_field) == value and n != name for n, d in self.docs.items()):
            # BaseDocument.show_unique_validation_message after MariaDB's IntegrityError 1062.
            raise FrappeError(
                417,
                "UniqueValidationError",
                [msg_log_entry(f"{POSTING_KEY_LABEL} must be unique", raise_exception=False)],
                text=f"('{JE}', '{name}', IntegrityError(1062, \"Duplicate entry '{value}' for "
                f"key '{key_field}'\"))",
            )

    def _finish(
        self, doc: dict[str, Any], name: str, *, creation: str, owner: str, keep_row_names: bool
    ) -> dict:
        now = timestamp()
        meta = {
            "name": name,
            "owner": owner,
            "creation": creation,
            "modified": now,
            "modified_by": self.user,
            "docstatus": doc["docstatus"],
            "idx": 0,
        }
        rows = doc.pop("accounts")
        out = {**meta, **{k: v for k, v in doc.items() if v is not None}}
        out["doctype"] = JE
        out["accounts"] = []
        for row in rows:
            row_name = (keep_row_names and row.get("name")) or random_hash()
            row_meta = {
                "name": row_name,
                "owner": owner,
                "creation": creation,
                "modified": now,
                "modified_by": self.user,
                "docstatus": doc["docstatus"],
                "idx": row["idx"],
            }
            body = {k: v for k, v in row.items() if v is not None and k not in ("idx", "name")}
            out["accounts"].append(
                {
                    **row_meta,
                    **body,
                    "parent": name,
                    "parentfield": "accounts",
                    "parenttype": JE,
                    "doctype": JEA,
                }
            )
        return out

    def insert(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            docstatus = docstatus_of(raw.get("docstatus"))
            if docstatus == 2:
                raise transition_error(0, 2)
            name = self._peek_name(raw)  # set_new_name; the counter rolls back on failure
            doc = self.rules.prepare(raw, docstatus, name)
            self._check_unique(doc, name)  # db_insert
            if docstatus == 1:
                self.rules.on_submit(doc, name)
            prefix = self._series_prefix(raw)
            self.counters[prefix] = self.counters.get(prefix, 0) + 1
            stored = self._finish(
                doc, name, creation=timestamp(), owner=self.user, keep_row_names=False
            )
            self.docs[name] = stored
            return copy.deepcopy(stored)

    def get(self, name: str) -> dict[str, Any]:
        with self.lock:
            if name not in self.docs:
                raise not_found(JE, name)
            return copy.deepcopy(self.docs[name])

    def update(self, name: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """PUT: save a draft, submit it (0→1), cancel (1→2) or change allow-on-submit fields."""
        with self.lock:
            current = self.get(name)
            old = current["docstatus"]
            new = docstatus_of(raw.get("docstatus", old))
            if old == 2:
                raise FrappeError(417, "ValidationError", text="Cannot edit cancelled document")
            if (old, new) in ((0, 2), (1, 0)):
                raise transition_error(old, new)
            if old == 1:
                return self._update_submitted(current, raw, new)
            merged = {**current, **raw}
            merged.pop("accounts", None)
            rows = raw.get("accounts", current["accounts"])  # a child table key replaces it
            merged["accounts"] = rows
            doc = self.rules.prepare(merged, new, name)
            self._check_unique(doc, name)
            if new == 1:
                self.rules.on_submit(doc, name)
            stored = self._finish(
                doc, name, creation=current["creation"], owner=current["owner"], keep_row_names=True
            )
            self.docs[name] = stored
            return copy.deepcopy(stored)

    def _update_submitted(
        self, current: dict[str, Any], raw: Mapping[str, Any], new: int
    ) -> dict[str, Any]:
        fields = self.rules.header_fields
        if new == 1:
            for key, value in raw.items():
                f = fields.get(key)
                if f is None or key == "docstatus" or value == current.get(key):
                    continue
                if not f.allow_on_submit:
                    raise throw(
                        f"Not allowed to change <strong>{f.label}</strong> after "
                        f"submission from <strong>{current.get(key)}</strong> to "
                        f"<strong>{value}</strong>",
                        "UpdateAfterSubmitError",
                        title="Cannot Update After Submit",
                        source=None,
                    )
                current[key] = value
        else:  # cancel: the GL is reversed; the unique key stays taken (amendments get none)
            current["docstatus"] = 2
            for row in current["accounts"]:
                row["docstatus"] = 2
        current["modified"] = timestamp()
        self.docs[current["name"]] = current
        return copy.deepcopy(current)

    def delete(self, name: str) -> None:
        with self.lock:
            doc = self.get(name)
            if doc["docstatus"] == 1:
                link = (
                    "<a href='https://docs.erpnext.com//docs/user/manual/en/setting-up/"
                    "articles/delete-submitted-document' target='_blank'>"
                )
                raise throw(
                    f"{JE} {name}: Submitted Record cannot be deleted. You must {link} "
                    "Cancel </a> it first.",
                    source=None,
                )
            del self.docs[name]
