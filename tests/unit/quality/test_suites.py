"""The contract files: complete (one beside each staging and mart model), loadable without losing
an expectation, consistent with the helper columns quality.frames computes, and loud when wrong.
Also the privacy detectors the shared privacy suite relies on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from quality import foreign_keys, frames, pii_functions
from quality.contracts import SHARED_DIR, SUFFIX, contract_path, table_of
from quality.suites import (
    SuiteError,
    gx_suites,
    load_suite,
    read_all,
    suite_paths,
)
from quality.tables import GOVERNED
from transforms.models import discover

SUITE_FILES = suite_paths()


def _json_count(path: Path) -> int:
    data = json.loads(path.read_text(encoding="utf-8"))
    included = sum(
        len(json.loads((SHARED_DIR / f"{name}.json").read_text())["expectations"])
        for name in data.get("meta", {}).get("include", [])
    )
    return len(data["expectations"]) + included


def test_every_staging_and_mart_table_has_a_contract_beside_its_model():
    governed = [m for m in discover() if m.schema in GOVERNED]
    assert set(SUITE_FILES) == {contract_path(m.path) for m in governed}
    assert all(p.name.endswith(SUFFIX) for p in SUITE_FILES)


@pytest.mark.parametrize("path", SUITE_FILES, ids=table_of)
def test_suite_loads_with_its_full_expectation_count(path):
    suite = load_suite(path)
    assert len(suite.expectations) == _json_count(path)
    kept = sum(len(s.expectations) for s in gx_suites(suite).values())
    assert kept == len(suite.expectations)


def test_every_helper_column_a_suite_uses_is_computed():
    """`<fk>_exists` columns and integrity frames exist in quality.frames, so a typo in a suite
    fails here rather than as a puzzling GX error on the warehouse."""
    for suite in read_all():
        fks = {fk.helper for fk in foreign_keys.FOREIGN_KEYS.get(suite.name, ())}
        for e in suite.for_frame("rows"):
            column = e.kwargs.get("column", "")
            if column.endswith("_exists"):
                assert column in fks, f"{e.where()}: no foreign key {column} in quality.frames"
        if suite.for_frame("layers"):
            assert suite.name in frames.INTEGRITY, f"{suite.name}: no integrity measures"
        assert "columns" in suite.frames, f"{suite.name}: must include the privacy scan"


def test_every_declared_helper_is_used_by_its_suite():
    suites = {s.name: s for s in read_all()}
    for table, fks in foreign_keys.FOREIGN_KEYS.items():
        used = {e.kwargs.get("column") for e in suites[table].for_frame("rows")}
        assert {fk.helper for fk in fks} <= used, f"{table}: a foreign key nobody checks"
    for table in frames.INTEGRITY:
        assert suites[table].for_frame("layers"), f"{table}: integrity measures nobody checks"
    for table, flags in foreign_keys.DERIVED.items():
        used = {e.kwargs.get("column") for e in suites[table].for_frame("rows")}
        assert set(flags) <= used, f"{table}: a derived flag nobody checks"


def test_no_suite_reads_a_table_built_after_its_own():
    """A check runs right after its table; a foreign key or integrity measure reading a table
    built later would read last run's data (or a missing table on a fresh warehouse), and as a
    Dagster dependency it would be a cycle."""
    models = {m.key: m for m in discover()}
    downstream: dict[tuple[str, str], set[tuple[str, str]]] = {k: set() for k in models}
    for model in reversed(discover()):  # dependents first
        for dep in model.deps:
            if dep in downstream:
                downstream[dep] |= {model.key} | downstream[model.key]
    for suite in read_all():
        later = frames.reads(suite.name) & downstream[suite.key]
        assert not later, f"{suite.name} reads {sorted(later)}, built after it"


def _write(folder: Path, expectations: list[dict], name: str = "stg_mollie__payments") -> Path:
    path = folder / f"{name}{SUFFIX}"
    path.write_text(json.dumps({"name": name, "expectations": expectations}))
    return path


GOOD = {
    "type": "expect_column_values_to_not_be_null",
    "kwargs": {"column": "payment_id"},
    "meta": {"severity": "error", "why": "key"},
}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            {
                "type": "expect_column_values_to_be_bogus",
                "kwargs": {"column": "x"},
                "meta": {"severity": "error", "why": "typo"},
            },
            r"#1 \(expect_column_values_to_be_bogus\): GX cannot build it",
        ),
        (
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"colum": "status"},
                "meta": {"severity": "warning", "why": "typo in kwargs"},
            },
            r"#1 \(expect_column_values_to_be_in_set\): GX cannot build it",
        ),
        (
            {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {}},
            r"#1: needs a 'type'",
        ),
        (
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "x"},
                "meta": {"severity": "fatal", "why": "?"},
            },
            r"#1 .*severity must be one of",
        ),
        (
            {
                "type": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "x"},
                "meta": {"severity": "error", "why": ""},
            },
            r"#1 .*meta.why",
        ),
    ],
    ids=["unknown-type", "bad-kwargs", "0.x-format", "bad-severity", "no-why"],
)
def test_an_invalid_expectation_fails_loudly_naming_file_and_entry(tmp_path, bad, message):
    path = _write(tmp_path, [GOOD, bad])
    with pytest.raises(SuiteError, match=re.escape(path.name) + r".*" + message):
        load_suite(path)


def test_shared_suites_stay_in_quality():
    assert (SHARED_DIR / "privacy.json").is_file()


def test_a_contracts_foreign_keys_name_a_model_and_its_flags_say_why():
    """A typo in a contract's parent table fails here, not as a DuckDB error in a gate run."""
    models = {f"{m.schema}.{m.name}" for m in discover()}
    for path in SUITE_FILES:
        data = json.loads(path.read_text(encoding="utf-8"))
        for fk in data.get("foreign_keys", []):
            assert fk["parent"] in models, f"{path.name}: no model {fk['parent']}"
            assert fk["column"] and fk["parent_column"], f"{path.name}: {fk}"
        for flag in data.get("derived_flags", []):
            assert flag["sql"].strip() and flag["why"].strip(), f"{path.name}: {flag}"
    assert foreign_keys.FOREIGN_KEYS and foreign_keys.DERIVED  # the catalogue reads them


# -- the privacy detectors --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111111",
        "card 4111 1111 1111 1111 used",
        "5500-0000-0000-0004",
        "378282246310005",
        '{"cardNumber":"4012888888881881"}',
    ],
)
def test_card_numbers_are_found_and_masked(text):
    found = pii_functions.card_numbers(text)
    assert len(found) == 1
    masked = pii_functions.mask_pii(text)
    assert found[0] not in masked.replace(" ", "").replace("-", "")
    assert pii_functions.mask_card(found[0]) in masked


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # fails Luhn
        "202609010789994252",  # a bank entry reference: no card network starts with 20
        "px_90eaa584cd05bb43ca6e502c8868a60d4111111111111111",  # inside a hash-like token
        "1234",
        "8572713.2608.06",
    ],
)
def test_ordinary_numbers_are_not_card_numbers(text):
    assert pii_functions.card_numbers(text) == []


def test_mask_pii_hides_emails_and_ibans_too():
    masked = pii_functions.mask_pii("jan.devries@example.nl paid from NL91ABNA0417164300")
    assert masked == "j***@example.nl paid from NL91***4300"


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("NL91ABNA0417164300", "valid"),
        ("pay to NL91 ABNA 0417 1643 00 please", "valid"),
        ("NL92ABNA0417164300", "invalid"),  # check digits wrong: a typo
        ("BE5995B47D0F9E96", None),  # a PayPal reference: not an IBAN at all
        ("NL888786487B01", None),  # a VAT number
        (None, None),
    ],
)
def test_iban_state(text, state):
    assert pii_functions._iban_state(text) == state


@pytest.mark.parametrize(
    ("column", "flagged"),
    [
        ("name", True),
        ("customer_name", True),
        ("consumer_email", True),
        ("email", True),
        ("account_iban", True),
        ("card_holder", True),
        ("check_name", False),
        ("table_name", False),
        ("email_domain", True),
        ("reason_meaning", False),
    ],
)
def test_pii_column_names(column, flagged):
    assert bool(re.search(pii_functions.PII_NAME_REGEX, column)) is flagged


def test_one_blocking_check_per_suite_loads_with_the_definitions():
    """The checks' extra deps (foreign-key parents, the layer below) form no cycle, and loading
    them does not import Great Expectations (~15 s)."""
    import subprocess
    import sys

    code = (
        "import sys, dagster as dg\n"
        "from orchestration.definitions import defs\n"
        "from orchestration.quality_checks import quality_checks\n"
        "dg.Definitions.validate_loadable("
        "dg.Definitions.merge(defs, dg.Definitions(asset_checks=quality_checks)))\n"
        "blocking = [c for c in quality_checks if all(s.blocking for s in c.check_specs)]\n"
        "print(len(blocking), 'great_expectations' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [str(len(SUITE_FILES)), "False"]
