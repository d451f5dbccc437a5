"""Bank statements: the sandbox writes them, `extract.bank` reads them back to the cent."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from schwifty import IBAN

from extract.bank import (
    COLUMNS,
    CSV_COLUMNS,
    BankStatementError,
    load_bank_statements,
    parse_bank_csv,
    parse_camt053,
)
from sandbox.bank import CSV_HEADER, MOLLIE_IBAN, MOLLIE_NAME, write_bank_csv, write_camt053
from sandbox.clock import add_business_days, local_date
from sandbox.generate import SandboxConfig, build_world
from sandbox.money import to_decimal

CONFIG = SandboxConfig.from_cli(seed=11, payments=300, days=40, now="2026-10-15T12:00:00Z")
# Fields both formats carry (CSV has no statement id or bank entry reference of its own).
SHARED = (
    "account_iban",
    "booking_date",
    "value_date",
    "amount",
    "currency",
    "counterparty_name",
    "counterparty_iban",
    "description",
    "end_to_end_id",
)


@pytest.fixture(scope="module")
def world():
    return build_world(CONFIG)


def camt_rows(world, folder: Path, **options) -> list[dict]:
    return [row for path in write_camt053(world, folder, **options) for row in parse_camt053(path)]


def landed(world) -> list:
    return [s for s in world.settlements if s.bank_booking_date <= world.now]


def by_reference(rows: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for row in rows:
        found.setdefault(row["end_to_end_id"], []).append(row)
    return found


def test_every_landed_payout_appears_once_with_its_exact_amount(world, tmp_path):
    rows = by_reference(camt_rows(world, tmp_path))
    paid = landed(world)
    assert paid and len(paid) < len(world.settlements)  # the last payout is still on its way
    for s in paid:
        [row] = rows[s.reference]
        balance = world.by_id[s.balance_id]
        assert row["amount"] == to_decimal(s.amount)
        assert row["amount"].as_tuple().exponent == -2
        assert row["currency"] == s.currency
        assert row["account_iban"] == balance.iban
        assert row["booking_date"] == local_date(s.bank_booking_date)
        assert row["counterparty_name"] == MOLLIE_NAME
        assert row["counterparty_iban"] == MOLLIE_IBAN
        assert row["description"] == f"MOLLIE PAYOUT {s.reference} Vereniging Groene Vork"
    for s in world.settlements:
        if s.bank_booking_date > world.now:
            assert s.reference not in rows


def test_non_mollie_lines_parse_with_signs(world, tmp_path):
    others = [r for r in camt_rows(world, tmp_path) if r["counterparty_iban"] != MOLLIE_IBAN]
    rent = [r for r in others if r["description"].startswith("Huur")]
    contributions = [r for r in others if r["description"].startswith("Contributie")]
    charges = [r for r in others if r["counterparty_name"] is None]
    assert rent and all(r["amount"] == Decimal("-1450.00") for r in rent)
    assert all(r["end_to_end_id"].startswith("HUUR") for r in rent)
    assert contributions and all(r["amount"] > 0 for r in contributions)
    assert all(r["end_to_end_id"] is None for r in contributions)  # NOTPROVIDED
    assert charges and all(r["amount"] < 0 for r in charges)


def test_generated_ibans_are_valid(world, tmp_path):
    rows = camt_rows(world, tmp_path)
    ibans = {r["account_iban"] for r in rows} | {r["counterparty_iban"] for r in rows}
    ibans.discard(None)
    assert MOLLIE_IBAN in ibans and len(ibans) > 3
    for iban in ibans:
        assert str(IBAN(iban)) == iban


def test_opening_plus_entries_is_closing(world, tmp_path):
    for path in write_camt053(world, tmp_path):
        stmt = ET.parse(path).getroot().find("{*}BkToCstmrStmt/{*}Stmt")
        balances = {}
        for bal in stmt.iterfind("{*}Bal"):
            value = Decimal(bal.findtext("{*}Amt"))
            sign = 1 if bal.findtext("{*}CdtDbtInd") == "CRDT" else -1
            balances[bal.findtext("{*}Tp/{*}CdOrPrtry/{*}Cd")] = sign * value
        entries = sum(row["amount"] for row in parse_camt053(path))
        assert balances["OPBD"] + entries == balances["CLBD"]


def test_writing_is_deterministic(world, tmp_path):
    first = [p.read_bytes() for p in write_camt053(world, tmp_path / "a")]
    again = [p.read_bytes() for p in write_camt053(build_world(CONFIG), tmp_path / "b")]
    assert first == again


def test_csv_round_trips_to_the_same_rows(world, tmp_path):
    csv_paths = write_bank_csv(world, tmp_path / "csv")
    assert csv_paths[0].read_text(encoding="utf-8").splitlines()[0] == ",".join(CSV_HEADER)
    assert CSV_HEADER == CSV_COLUMNS
    from_csv = [row for path in csv_paths for row in parse_bank_csv(path)]
    from_xml = camt_rows(world, tmp_path / "xml")
    assert [[r[k] for k in SHARED] for r in from_csv] == [[r[k] for k in SHARED] for r in from_xml]


def test_missing_late_and_wrong_deposits(world, tmp_path):
    paid = landed(world)
    gone, late, off = paid[0].reference, paid[1].reference, paid[2].reference
    rows = by_reference(
        camt_rows(
            world,
            tmp_path,
            omit={gone},
            delay_days={late: 2},
            amount_delta={off: Decimal("-0.01")},
        )
    )
    assert gone not in rows
    expected = local_date(add_business_days(paid[1].bank_booking_date, 2))
    assert [r["booking_date"] for r in rows[late]] == [expected]
    assert [r["amount"] for r in rows[off]] == [to_decimal(paid[2].amount) - Decimal("0.01")]
    with pytest.raises(ValueError, match="no settlement has the reference"):
        write_camt053(world, tmp_path, omit={"9999999.2610.99"})


# -- malformed files: the message says which file, where, and what ---------------------------


def test_malformed_xml_names_the_file_and_position(tmp_path):
    path = tmp_path / "statement_2026-10.xml"
    path.write_text("<Document><BkToCstmrStmt></Document>", encoding="utf-8")
    with pytest.raises(BankStatementError, match=r"statement_2026-10\.xml: not well-formed XML"):
        parse_camt053(path)


def test_missing_amt_names_the_entry(world, tmp_path):
    path = write_camt053(world, tmp_path)[0]
    text = path.read_text(encoding="utf-8")
    # Drop the third entry's amount (the statement balances' <Amt>s come first, then entries').
    entries = text.split("<Ntry>")
    start = entries[3].index("<Amt ")
    entries[3] = entries[3][:start] + entries[3][entries[3].index("</Amt>") + 6 :]
    bad = tmp_path / "statement_2026-10.xml"
    bad.write_text("<Ntry>".join(entries), encoding="utf-8")
    with pytest.raises(BankStatementError, match=r"^statement_2026-10\.xml: entry 3 has no <Amt>$"):
        parse_camt053(bad)


def test_other_documents_are_refused(tmp_path):
    path = tmp_path / "report.xml"
    path.write_text('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02"/>')
    with pytest.raises(BankStatementError, match=r"report\.xml: not a CAMT\.053 statement"):
        parse_camt053(path)


HEADER = ",".join(CSV_COLUMNS)
GOOD = "NL21KNAB6840079269,2026-10-01,2026-10-01,12.50,EUR,Anna Bos,,Contributie,"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'NL21KNAB6840079269,2026-10-01,,"1,00",EUR,,,x,',
            r"^bank\.csv line 7: amount '1,00' is not a decimal like 1234\.56$",
        ),
        (
            "NL21KNAB6840079269,2026-10-01,,1.005,EUR,,,x,",
            r"^bank\.csv line 7: amount '1\.005' is not a decimal",
        ),
        (
            "NL21KNAB6840079269,01-10-2026,,1.00,EUR,,,x,",
            r"^bank\.csv line 7: booking_date '01-10-2026' is not a date like 2026-10-31$",
        ),
        ("NL21KNAB6840079269,2026-10-01,,1.00,euro,,,x,", r"line 7: currency 'euro'"),
        ("NL21KNAB6840079269,2026-10-01,,1.00,EUR", r"line 7: 5 fields, the header has 9"),
    ],
)
def test_bad_csv_line_names_the_line(tmp_path, line, message):
    path = tmp_path / "bank.csv"
    path.write_text("\n".join([HEADER, *[GOOD] * 5, line, GOOD]) + "\n", encoding="utf-8")
    with pytest.raises(BankStatementError, match=message):
        parse_bank_csv(path)


def test_csv_without_the_header_is_refused(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text("iban,date,amount\nNL21KNAB6840079269,2026-10-01,1.00\n", encoding="utf-8")
    with pytest.raises(BankStatementError, match=r"bank\.csv line 1: header lacks account_iban"):
        parse_bank_csv(path)


def test_namespace_08_is_accepted(tmp_path):
    # From .08 on, the status is <Sts><Cd> and a party's name sits in <Pty>.
    path = tmp_path / "camt08.xml"
    path.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
 <GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-10-02T06:00:00+02:00</CreDtTm></GrpHdr>
 <Stmt><Id>S1</Id><Acct><Id><IBAN>NL21 KNAB 6840 0792 69</IBAN></Id></Acct>
  <Ntry><Amt Ccy="EUR">1450</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
   <BookgDt><DtTm>2026-10-01T08:00:00+02:00</DtTm></BookgDt><AcctSvcrRef>R1</AcctSvcrRef>
   <NtryDtls><TxDtls><Refs><EndToEndId>HUUR202610</EndToEndId></Refs>
    <RltdPties><Cdtr><Pty><Nm>Vastgoed Keizersgracht B.V.</Nm></Pty></Cdtr>
     <CdtrAcct><Id><IBAN>NL13RABO0543210006</IBAN></Id></CdtrAcct></RltdPties>
    <RmtInf><Ustrd>Huur oktober</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
  <Ntry><Amt Ccy="EUR">5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>PDNG</Cd></Sts>
   <BookgDt><Dt>2026-10-02</Dt></BookgDt></Ntry>
 </Stmt></BkToCstmrStmt></Document>""",
        encoding="utf-8",
    )
    [row] = parse_camt053(path)  # the pending entry is not a booked line
    assert row["account_iban"] == "NL21KNAB6840079269"
    assert row["amount"] == Decimal("-1450.00")
    assert row["booking_date"].isoformat() == "2026-10-01"
    assert row["value_date"] is None
    assert (row["counterparty_name"], row["counterparty_iban"]) == (
        "Vastgoed Keizersgracht B.V.",
        "NL13RABO0543210006",
    )
    assert (row["end_to_end_id"], row["entry_reference"]) == ("HUUR202610", "R1")


# -- DuckDB ------------------------------------------------------------------------------------


def table(con) -> list[tuple]:
    return con.sql("SELECT * FROM bank.statement_lines ORDER BY source_file, line_no").fetchall()


def test_load_types_and_idempotent_reload(world, tmp_path, caplog):
    folder = tmp_path / "drop"
    paths = write_camt053(world, folder)
    (folder / "notes.txt").write_text("not a statement", encoding="utf-8")
    con = duckdb.connect()
    with caplog.at_level(logging.WARNING, logger="mollie_ledger.extract.bank"):
        counts = load_bank_statements(con, folder)
    assert "notes.txt: not a bank statement" in caplog.text
    assert counts == {p.name: len(parse_camt053(p)) for p in paths}
    types = dict(
        con.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'bank' AND table_name = 'statement_lines' "
            "ORDER BY ordinal_position"
        ).fetchall()
    )
    assert list(types) == [name for name, _ in COLUMNS]
    assert types["amount"] == "DECIMAL(18,2)"
    assert types["booking_date"] == types["value_date"] == "DATE"
    first = table(con)
    assert len(first) == sum(counts.values())
    assert load_bank_statements(con, folder) == counts
    assert table(con) == first
    total = con.execute("SELECT sum(amount) FROM bank.statement_lines").fetchall()[0][0]
    assert total == sum(r[7] for r in first) and isinstance(total, Decimal)


def test_bad_file_leaves_the_previous_table(world, tmp_path):
    folder = tmp_path / "drop"
    write_camt053(world, folder)
    con = duckdb.connect()
    load_bank_statements(con, folder)
    before = table(con)
    (folder / "broken.csv").write_text(HEADER + "\nNL21KNAB6840079269,2026-10-01,,1;00,EUR,,,,\n")
    with pytest.raises(BankStatementError, match=r"broken\.csv line 2: amount '1;00'"):
        load_bank_statements(con, folder)
    assert table(con) == before


@pytest.mark.parametrize("make", [lambda p: p / "missing", lambda p: p])
def test_missing_or_empty_folder_gives_an_empty_table(tmp_path, make):
    con = duckdb.connect()
    assert load_bank_statements(con, make(tmp_path)) == {}
    assert table(con) == []
    columns = [d[0] for d in con.sql("SELECT * FROM bank.statement_lines").description]
    assert columns == [name for name, _ in COLUMNS]
