"""Bank statements from a drop folder into `bank.statement_lines` (reconciliation identity 8).

The merchant drops its bank's exports into one folder; every file is read on each load:

- `*.xml`: ISO 20022 CAMT.053 (bank-to-customer statement), versions camt.053.001.02 to .08.
  Elements are matched on local names, so any of those namespaces works. One row per booked
  entry (`Ntry` with status BOOK); entries in another status (pending, info) are skipped with a
  logged warning. Counterparty, remittance text and end-to-end id come from the entry's
  transaction details when it has exactly one (a batch booking keeps only its entry-level text).
- `*.csv`: the project's simple format, UTF-8 (a BOM is tolerated), comma-separated, with this
  header (extra columns are ignored)::

      account_iban,booking_date,value_date,amount,currency,counterparty_name,counterparty_iban,description,reference

  `booking_date` and `value_date` are ISO dates (2026-10-31; `value_date` may be empty),
  `amount` is a signed decimal with a point and at most 2 decimals ("1234.56" a credit,
  "-1450.00" a debit, no thousands separator), `currency` an ISO 4217 code, `reference` the
  payer's end-to-end id (for a Mollie payout: the settlement reference, e.g. 1234567.2610.03).
- Anything else is ignored with a logged warning.

A malformed file stops the load with `BankStatementError` naming the file, the entry or line and
what is wrong; the table is only replaced once every file has parsed, so a bad file never leaves
a half-loaded table. Money is `Decimal` in Python and DECIMAL(18,2) in DuckDB, never a float.
"""

from __future__ import annotations

import csv
import logging
import re
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

log = logging.getLogger("mollie_ledger.extract.bank")

# The table contract: (column, DuckDB type). Row dicts carry exactly these keys.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("source_file", "VARCHAR NOT NULL"),  # the file's name inside the drop folder
    ("statement_id", "VARCHAR"),  # CAMT <Stmt><Id>; for CSV the file name without extension
    ("line_no", "INTEGER NOT NULL"),  # CAMT: entry number in the file; CSV: line in the file
    ("account_iban", "VARCHAR NOT NULL"),  # the merchant's account the statement is for
    ("entry_reference", "VARCHAR"),  # the bank's id for the entry (AcctSvcrRef); CSV: none
    ("booking_date", "DATE NOT NULL"),
    ("value_date", "DATE"),
    ("amount", "DECIMAL(18,2) NOT NULL"),  # signed: credits positive, debits negative
    ("currency", "VARCHAR NOT NULL"),
    ("counterparty_name", "VARCHAR"),
    ("counterparty_iban", "VARCHAR"),
    ("description", "VARCHAR"),  # remittance information as the bank shows it
    ("end_to_end_id", "VARCHAR"),  # the payer's reference; Mollie puts the settlement's here
)
TABLE = "bank.statement_lines"
CSV_COLUMNS = (
    "account_iban",
    "booking_date",
    "value_date",
    "amount",
    "currency",
    "counterparty_name",
    "counterparty_iban",
    "description",
    "reference",
)

_CAMT053_NS = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.0([2-8])")
_CAMT_AMOUNT = re.compile(r"\d+(\.\d{1,2})?")  # unsigned: the sign is CdtDbtInd
_CSV_AMOUNT = re.compile(r"-?\d+(\.\d{1,2})?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_NOT_PROVIDED = "NOTPROVIDED"  # banks' placeholder for "the payer gave no end-to-end id"


class BankStatementError(ValueError):
    """A bank statement file that cannot be read; the message names the file and the spot."""


# -- CAMT.053 -----------------------------------------------------------------------------------


def _find(el: ET.Element, path: str) -> ET.Element | None:
    """`path` of local names ("BookgDt/Dt"), in whatever namespace the document uses."""
    return el.find("/".join(f"{{*}}{part}" for part in path.split("/")))


def _text(el: ET.Element, *paths: str) -> str | None:
    """Stripped text of the first of `paths` that exists and is non-empty."""
    for path in paths:
        found = _find(el, path)
        if found is not None and found.text and found.text.strip():
            return found.text.strip()
    return None


def _iban(text: str | None) -> str | None:
    # Banks sometimes print IBANs in groups of four ("NL91 ABNA ..."); store the compact form.
    return re.sub(r"\s+", "", text).upper() if text else None


def _date(text: str, where: str, what: str) -> date:
    # A date, or a date-time (<DtTm>) of which the date part counts.
    if _ISO_DATE.fullmatch(text[:10]) and (len(text) == 10 or text[10] == "T"):
        try:
            return date.fromisoformat(text[:10])
        except ValueError:  # 2026-13-01
            pass
    raise BankStatementError(f"{where}: {what} '{text}' is not a date like 2026-10-31")


def parse_camt053(path: str | Path) -> list[dict[str, Any]]:
    """The booked entries of a CAMT.053 file, one dict per entry (keys: `COLUMNS`)."""
    path = Path(path)
    name = path.name
    try:
        # The merchant's own bank export, not hostile input; expat also refuses entity bombs.
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise BankStatementError(f"{name}: not well-formed XML ({exc})") from exc
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    if not _CAMT053_NS.fullmatch(namespace) or root.tag.rpartition("}")[2] != "Document":
        raise BankStatementError(
            f"{name}: not a CAMT.053 statement (root <{root.tag}>); expected <Document> in "
            "namespace urn:iso:std:iso:20022:tech:xsd:camt.053.001.02 … .08"
        )
    rows: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    entry_no = 0
    for stmt_no, stmt in enumerate(root.iterfind("{*}BkToCstmrStmt/{*}Stmt"), start=1):
        statement_id = _text(stmt, "Id")
        account = _iban(_text(stmt, "Acct/Id/IBAN", "Acct/Id/Othr/Id"))
        if account is None:
            raise BankStatementError(f"{name}: statement {stmt_no} has no <Acct><Id><IBAN>")
        for entry in stmt.iterfind("{*}Ntry"):
            entry_no += 1
            where = f"{name}: entry {entry_no}"
            # .02 writes <Sts>BOOK</Sts>, .08 <Sts><Cd>BOOK</Cd></Sts>; schema-required, but a
            # missing status is read as booked rather than losing the line.
            status = _text(entry, "Sts/Cd", "Sts") or "BOOK"
            if status != "BOOK":
                skipped[status] = skipped.get(status, 0) + 1
                continue
            row = {"source_file": name, "statement_id": statement_id, "line_no": entry_no}
            rows.append(row | _camt_entry(entry, where, account))
    if entry_no == 0:
        log.warning("%s: CAMT.053 file has no entries", name)
    for status, count in sorted(skipped.items()):
        log.warning("%s: skipped %d entries with status %s (only BOOK loads)", name, count, status)
    return rows


def _camt_entry(entry: ET.Element, where: str, account: str) -> dict[str, Any]:
    amt = _find(entry, "Amt")
    if amt is None or not (amt.text or "").strip():
        raise BankStatementError(f"{where} has no <Amt>")
    value = amt.text.strip()
    if not _CAMT_AMOUNT.fullmatch(value):
        raise BankStatementError(f"{where}: <Amt> '{value}' is not a decimal like 1234.56")
    currency = amt.get("Ccy")
    if not currency or not _CURRENCY.fullmatch(currency):
        raise BankStatementError(f'{where}: <Amt> needs a Ccy attribute like Ccy="EUR"')
    direction = _text(entry, "CdtDbtInd")
    if direction not in ("CRDT", "DBIT"):
        raise BankStatementError(f"{where}: <CdtDbtInd> is {direction!r}, expected CRDT or DBIT")
    booked = _text(entry, "BookgDt/Dt", "BookgDt/DtTm")
    if booked is None:
        raise BankStatementError(f"{where} has no <BookgDt>")
    valued = _text(entry, "ValDt/Dt", "ValDt/DtTm")

    details = entry.findall("{*}NtryDtls/{*}TxDtls")
    tx = details[0] if len(details) == 1 else None
    # The counterparty is whoever is on the other side: the debtor of a credit, the creditor
    # of a debit. .02 has Dbtr/Nm, from .08 on it is Dbtr/Pty/Nm.
    role = "Dbtr" if direction == "CRDT" else "Cdtr"
    counterparty = iban = description = end_to_end = None
    if tx is not None:
        counterparty = _text(tx, f"RltdPties/{role}/Nm", f"RltdPties/{role}/Pty/Nm")
        iban = _iban(_text(tx, f"RltdPties/{role}Acct/Id/IBAN"))
        lines = [u.text.strip() for u in tx.iterfind("{*}RmtInf/{*}Ustrd") if u.text]
        description = " ".join(lines) or _text(tx, "RmtInf/Strd/CdtrRefInf/Ref", "AddtlTxInf")
        end_to_end = _text(tx, "Refs/EndToEndId")
    amount = Decimal(value).quantize(Decimal("0.01"))
    return {
        "account_iban": account,
        "entry_reference": _text(entry, "AcctSvcrRef", "NtryRef"),
        "booking_date": _date(booked, where, "<BookgDt>"),
        "value_date": _date(valued, where, "<ValDt>") if valued else None,
        "amount": amount if direction == "CRDT" else -amount,
        "currency": currency,
        "counterparty_name": counterparty,
        "counterparty_iban": iban,
        "description": description or _text(entry, "AddtlNtryInf"),
        "end_to_end_id": None if end_to_end == _NOT_PROVIDED else end_to_end,
    }


# -- CSV ----------------------------------------------------------------------------------------


def parse_bank_csv(path: str | Path) -> list[dict[str, Any]]:
    """The lines of a CSV statement in the format of this module's docstring (keys: `COLUMNS`)."""
    path = Path(path)
    name = path.name
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            return _csv_rows(csv.reader(f), name, path.stem)
    except UnicodeDecodeError as exc:
        raise BankStatementError(
            f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"
        ) from exc
    except csv.Error as exc:
        raise BankStatementError(f"{name}: not readable as CSV ({exc})") from exc


def _csv_rows(reader: Any, name: str, stem: str) -> list[dict[str, Any]]:
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise BankStatementError(
            f"{name} line 1: header lacks {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}"
        )
    at = {column: header.index(column) for column in CSV_COLUMNS}
    rows = []
    for record in reader:
        line = reader.line_num
        if not any(field.strip() for field in record):
            continue  # blank lines (a trailing newline, a spreadsheet's empty rows)
        if len(record) != len(header):
            raise BankStatementError(
                f"{name} line {line}: {len(record)} fields, the header has {len(header)}"
            )
        get = {c: record[i].strip() or None for c, i in at.items()}
        where = f"{name} line {line}"
        amount, currency = get["amount"] or "", get["currency"] or ""
        if not _CSV_AMOUNT.fullmatch(amount):
            raise BankStatementError(f"{where}: amount '{amount}' is not a decimal like 1234.56")
        if not _CURRENCY.fullmatch(currency):
            raise BankStatementError(f"{where}: currency '{currency}' is not a code like EUR")
        if get["account_iban"] is None:
            raise BankStatementError(f"{where}: account_iban is empty")
        if get["booking_date"] is None:
            raise BankStatementError(f"{where}: booking_date is empty")
        rows.append(
            {
                "source_file": name,
                "statement_id": stem,
                "line_no": line,
                "account_iban": _iban(get["account_iban"]),
                "entry_reference": None,
                "booking_date": _date(get["booking_date"], where, "booking_date"),
                "value_date": _date(get["value_date"], where, "value_date")
                if get["value_date"]
                else None,
                "amount": Decimal(amount).quantize(Decimal("0.01")),
                "currency": currency,
                "counterparty_name": get["counterparty_name"],
                "counterparty_iban": _iban(get["counterparty_iban"]),
                "description": get["description"],
                "end_to_end_id": get["reference"],
            }
        )
    return rows


# -- DuckDB -------------------------------------------------------------------------------------

_PARSERS = {".xml": parse_camt053, ".csv": parse_bank_csv}


def read_folder(folder: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Parse every statement file in `folder` (by name, so loads are repeatable): name → rows."""
    folder = Path(folder)
    if not folder.exists():
        log.info("bank statement folder %s does not exist: no bank lines loaded", folder)
        return {}
    if not folder.is_dir():
        raise BankStatementError(f"{folder}: is a file; the bank statement drop must be a folder")
    parsed = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue  # .DS_Store and friends: not a statement, not worth a warning
        parse = _PARSERS.get(path.suffix.lower())
        if parse is None or not path.is_file():
            log.warning("%s: not a bank statement (*.xml CAMT.053 or *.csv), ignored", path)
            continue
        parsed[path.name] = parse(path)
    return parsed


def load_bank_statements(con: duckdb.DuckDBPyConnection, folder: str | Path) -> dict[str, int]:
    """(Re)build `bank.statement_lines` from the files in `folder`; returns rows per file.

    The whole table is rebuilt from the folder each time, so loading twice gives the same
    table, and a file removed from the folder disappears from it. A missing or empty folder gives
    an empty table. Every file is parsed before the table is touched, and the replace runs in one
    transaction, so a malformed file leaves the previous table as it was.
    """
    parsed = read_folder(folder)
    names = [column for column, _ in COLUMNS]
    ddl = ", ".join(f"{column} {kind}" for column, kind in COLUMNS)
    con.execute("CREATE SCHEMA IF NOT EXISTS bank")
    con.begin()
    try:
        con.execute(f"CREATE OR REPLACE TABLE {TABLE} ({ddl}, PRIMARY KEY (source_file, line_no))")
        values = [tuple(row[c] for c in names) for rows in parsed.values() for row in rows]
        if values:
            marks = ", ".join("?" for _ in names)
            con.executemany(f"INSERT INTO {TABLE} ({', '.join(names)}) VALUES ({marks})", values)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return {name: len(rows) for name, rows in parsed.items()}
