"""The merchant's bank statements, as its Dutch bank would export them.

Reconciliation identity 8 (docs/design.md) matches each payout to the deposit on the merchant's bank
account. So that the demo and the tests have a bank side, this writes, per balance, the statement
of the account its payouts go to (`Balance.iban`): one credit per settlement whose deposit has
landed by `world.now`, plus ordinary non-Mollie traffic (members paying their contribution by
transfer, the rent, bank charges) that a matcher has to leave alone.

Two forms of the same lines: ISO 20022 CAMT.053 (`camt.053.001.02`, what ING, ABN AMRO, Rabobank
and others export) and the project's simple CSV (see `extract/bank.py` for the format). Write
only one form into a drop folder, or the loader sees every line twice.

Everything is derived from the world and the seed, one random stream per month, so the same world
gives byte-identical files and a later `now` only adds lines.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import xml.etree.ElementTree as ET
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from extract.bank import CSV_COLUMNS
from sandbox.clock import add_business_days, iso, local_date, local_midnight, next_business_day
from sandbox.generate import World
from sandbox.model import NEVER, Balance
from sandbox.money import fmt, units
from sandbox.people import make_iban, make_person

CAMT053_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
CSV_HEADER = CSV_COLUMNS  # the format is the reader's (extract/bank.py)

# Invented, but valid (mod-97 and the Dutch eleven-test) so IBAN checks downstream pass.
MOLLIE_NAME = "Stichting Mollie Payments"
MOLLIE_IBAN = "NL09ABNA0411145665"
LANDLORD_NAME = "Vastgoed Keizersgracht B.V."
LANDLORD_IBAN = "NL13RABO0543210006"
NOT_PROVIDED = "NOTPROVIDED"  # what banks put in EndToEndId when the payer gave none

# ISO 20022 bank transaction codes (domain, family, sub-family): required in camt.053.001.02.
_CODES = {
    "received": ("PMNT", "RCDT", "ESCT"),  # SEPA credit transfer received
    "sent": ("PMNT", "ICDT", "ESCT"),  # SEPA credit transfer issued
    "charge": ("ACMT", "MDOP", "CHRG"),  # account charges
}
_MONTHS_NL = (
    "januari februari maart april mei juni juli augustus september oktober november december"
).split()


@dataclass(frozen=True, slots=True)
class BankLine:
    """One booked entry on a statement. `amount` in units (1/10 000), credits positive."""

    booking: date
    value: date
    amount: int
    kind: str  # a key of _CODES
    counterparty_name: str | None
    counterparty_iban: str | None
    description: str
    end_to_end_id: str  # NOTPROVIDED when the payer gave none


@dataclass(frozen=True, slots=True)
class Statement:
    balance: Balance
    first_day: date
    last_day: date
    opening: int  # units
    lines: list[BankLine]

    @property
    def closing(self) -> int:
        return self.opening + sum(line.amount for line in self.lines)


def statements(
    world: World,
    *,
    omit: Collection[str] = (),
    delay_days: Mapping[str, int] | None = None,
    amount_delta: Mapping[str, Decimal] | None = None,
) -> list[Statement]:
    """One statement per balance's payout account, from the start of history to `world.now`.

    `omit`, `delay_days` (business days) and `amount_delta` take settlement references and bend
    that payout's deposit, so tests can make a deposit go missing, arrive late or differ.
    """
    delay_days, amount_delta = delay_days or {}, amount_delta or {}
    unknown = (set(omit) | set(delay_days) | set(amount_delta)) - set(world.settlement_by_reference)
    if unknown:
        raise ValueError(f"no settlement has the reference(s) {sorted(unknown)}")
    first, last = local_date(world.config.start), local_date(world.now)

    def landed(day: date) -> bool:
        return first <= day and local_midnight(day) <= world.now

    result = []
    for index, balance in enumerate(world.balances):
        lines = []
        for s in world.settlements:
            if s.balance_id != balance.id or s.reference in omit or s.bank_booking_date == NEVER:
                continue  # a returned or canceled payout never lands
            booked = add_business_days(s.bank_booking_date, delay_days.get(s.reference, 0))
            day = local_date(booked)
            if not landed(day):
                continue
            lines.append(
                BankLine(
                    booking=day,
                    value=day,
                    amount=s.amount + units(amount_delta.get(s.reference, Decimal(0))),
                    kind="received",
                    counterparty_name=MOLLIE_NAME,
                    counterparty_iban=MOLLIE_IBAN,
                    description=f"MOLLIE PAYOUT {s.reference} {balance.beneficiary}",
                    end_to_end_id=s.reference,
                )
            )
        lines += [x for x in _other_traffic(world, balance, index == 0) if landed(x.booking)]
        lines += [x for x in _balance_transfers(world, balance) if landed(x.booking)]
        lines.sort(key=lambda x: (x.booking, x.end_to_end_id, x.description))
        rng = random.Random(f"{world.config.seed}:bank:opening:{balance.currency}")
        opening = units(f"{rng.randrange(1_000, 6_000)}.{rng.randrange(100):02d}")
        result.append(Statement(balance, first, last, opening, lines))
    return result


# Ledger rows that are money moving between this bank account and the Mollie balance outside
# the payouts: a top-up leaves the bank for Mollie, a custom-amount payout arrives from it.
_FROM_BANK = ("topup", "balance-topup", "incoming-transfer")
_TO_BANK = ("outgoing-custom-amount-transfer",)


def _balance_transfers(world: World, balance: Balance) -> list[BankLine]:
    lines = []
    for r in world.transactions:
        if r.balance_id != balance.id or r.type not in _FROM_BANK + _TO_BANK:
            continue
        day = local_date(r.created_at)
        to_bank = r.type in _TO_BANK
        lines.append(
            BankLine(
                booking=day,
                value=day,
                amount=-r.result,  # the bank side of the balance's movement
                kind="received" if to_bank else "sent",
                counterparty_name=MOLLIE_NAME,
                counterparty_iban=MOLLIE_IBAN,
                description=("MOLLIE TRANSFER " if to_bank else "MOLLIE TOP-UP ")
                + f"{r.id} {balance.beneficiary}",
                end_to_end_id=r.id,
            )
        )
    return lines


def _other_traffic(world: World, balance: Balance, main_account: bool) -> list[BankLine]:
    """Non-Mollie lines: monthly charges on each account; rent and contributions on the main one."""
    lines = []
    month = local_date(world.config.start).replace(day=1)
    while month <= local_date(world.now):
        rng = random.Random(f"{world.config.seed}:bank:{balance.currency}:{month:%Y-%m}")
        first_workday = month if month.weekday() < 5 else next_business_day(month)
        label = f"{_MONTHS_NL[month.month - 1]} {month.year}"
        charge = "9.50" if main_account else "5.00"
        lines.append(
            BankLine(
                booking=first_workday,
                value=first_workday,
                amount=-units(charge),
                kind="charge",
                counterparty_name=None,
                counterparty_iban=None,
                description=f"Kosten zakelijke rekening {label}",
                end_to_end_id=NOT_PROVIDED,
            )
        )
        if main_account:
            lines.append(
                BankLine(
                    booking=first_workday,
                    value=first_workday,
                    amount=-units("1450.00"),
                    kind="sent",
                    counterparty_name=LANDLORD_NAME,
                    counterparty_iban=LANDLORD_IBAN,
                    description=f"Huur Keizersgracht 126 {label}",
                    end_to_end_id=f"HUUR{month:%Y%m}",
                )
            )
            for _ in range(rng.randrange(2, 5)):
                day = month + timedelta(days=rng.randrange(28))
                if day.weekday() >= 5:
                    day = next_business_day(day)
                name, _, _ = make_person(rng)
                iban, _ = make_iban(rng)
                member = rng.randrange(1000, 2000)
                lines.append(
                    BankLine(
                        booking=day,
                        value=day,
                        amount=units(rng.choice(("25.00", "35.00", "60.00"))),
                        kind="received",
                        counterparty_name=name,
                        counterparty_iban=iban,
                        description=f"Contributie {month.year} lidnr {member} {name}",
                        end_to_end_id=NOT_PROVIDED,
                    )
                )
        month = (month + timedelta(days=32)).replace(day=1)
    return lines


def _entry_reference(iban: str, line: BankLine) -> str:
    """The bank's own id for an entry (AcctSvcrRef): stable for the same line."""
    key = f"{iban}|{line.booking}|{line.end_to_end_id}|{line.description}|{line.amount}"
    digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=6).digest())
    return f"{line.booking:%Y%m%d}{digest % 10**10:010d}"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrib)
    if text is not None:
        el.text = text
    return el


def _balance(stmt: ET.Element, code: str, amount: int, currency: str, day: date) -> None:
    bal = _sub(stmt, "Bal")
    _sub(_sub(_sub(bal, "Tp"), "CdOrPrtry"), "Cd", code)
    _sub(bal, "Amt", fmt(abs(amount), 2), Ccy=currency)
    _sub(bal, "CdtDbtInd", "CRDT" if amount >= 0 else "DBIT")
    _sub(_sub(bal, "Dt"), "Dt", day.isoformat())


def camt053_document(world: World, statement: Statement) -> bytes:
    """A CAMT.053.001.02 document (elements in the XSD's order) for one statement."""
    b, currency = statement.balance, statement.balance.currency
    stamp = f"{statement.last_day:%Y%m%d}"
    # A plain xmlns attribute puts every element in the namespace without a global registration.
    root = ET.Element("Document", {"xmlns": CAMT053_NS})
    report = _sub(root, "BkToCstmrStmt")
    header = _sub(report, "GrpHdr")
    _sub(header, "MsgId", f"CAMT053-{b.iban}-{stamp}")
    _sub(header, "CreDtTm", iso(world.now))
    stmt = _sub(report, "Stmt")
    _sub(stmt, "Id", f"{b.iban}-{stamp}")
    _sub(stmt, "ElctrncSeqNb", "1")
    _sub(stmt, "CreDtTm", iso(world.now))
    period = _sub(stmt, "FrToDt")
    _sub(period, "FrDtTm", iso(local_midnight(statement.first_day)))
    _sub(period, "ToDtTm", iso(local_midnight(statement.last_day + timedelta(days=1)) - 1))
    acct = _sub(stmt, "Acct")
    _sub(_sub(acct, "Id"), "IBAN", b.iban)
    _sub(acct, "Ccy", currency)
    _sub(_sub(acct, "Ownr"), "Nm", b.beneficiary)
    _balance(stmt, "OPBD", statement.opening, currency, statement.first_day)
    _balance(stmt, "CLBD", statement.closing, currency, statement.last_day)
    for line in statement.lines:
        credit = line.amount >= 0
        entry = _sub(stmt, "Ntry")
        _sub(entry, "Amt", fmt(abs(line.amount), 2), Ccy=currency)
        _sub(entry, "CdtDbtInd", "CRDT" if credit else "DBIT")
        _sub(entry, "Sts", "BOOK")
        _sub(_sub(entry, "BookgDt"), "Dt", line.booking.isoformat())
        _sub(_sub(entry, "ValDt"), "Dt", line.value.isoformat())
        _sub(entry, "AcctSvcrRef", _entry_reference(b.iban, line))
        domain, family, sub_family = _CODES[line.kind]
        code = _sub(_sub(entry, "BkTxCd"), "Domn")
        _sub(code, "Cd", domain)
        fmly = _sub(code, "Fmly")
        _sub(fmly, "Cd", family)
        _sub(fmly, "SubFmlyCd", sub_family)
        tx = _sub(_sub(entry, "NtryDtls"), "TxDtls")
        _sub(_sub(tx, "Refs"), "EndToEndId", line.end_to_end_id)
        if line.counterparty_name:
            # On a credit the counterparty paid us (debtor); on a debit we paid it (creditor).
            role = "Dbtr" if credit else "Cdtr"
            parties = _sub(tx, "RltdPties")
            _sub(_sub(parties, role), "Nm", line.counterparty_name)
            if line.counterparty_iban:
                _sub(_sub(_sub(parties, f"{role}Acct"), "Id"), "IBAN", line.counterparty_iban)
        _sub(_sub(tx, "RmtInf"), "Ustrd", line.description)
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def _csv_document(st: Statement) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for line in st.lines:
        writer.writerow(
            [
                st.balance.iban,
                line.booking.isoformat(),
                line.value.isoformat(),
                fmt(line.amount, 2),
                st.balance.currency,
                line.counterparty_name or "",
                line.counterparty_iban or "",
                line.description,
                "" if line.end_to_end_id == NOT_PROVIDED else line.end_to_end_id,
            ]
        )
    return out.getvalue().encode("utf-8")


def _write(
    world: World, folder: str | Path, name: str, suffix: str, render, **options
) -> list[Path]:
    """One file per payout account: `<name>_<iban>_<last day>.<suffix>`, rendered by `render`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for st in statements(world, **options):
        path = folder / f"{name}_{st.balance.iban}_{st.last_day:%Y-%m-%d}.{suffix}"
        path.write_bytes(render(st))
        paths.append(path)
    return paths


def write_camt053(
    world: World,
    folder: str | Path,
    *,
    omit: Collection[str] = (),
    delay_days: Mapping[str, int] | None = None,
    amount_delta: Mapping[str, Decimal] | None = None,
) -> list[Path]:
    """Write one CAMT.053 file per payout account into `folder`; returns their paths."""
    return _write(
        world,
        folder,
        "camt053",
        "xml",
        lambda st: camt053_document(world, st),
        omit=omit,
        delay_days=delay_days,
        amount_delta=amount_delta,
    )


def write_bank_csv(
    world: World,
    folder: str | Path,
    *,
    omit: Collection[str] = (),
    delay_days: Mapping[str, int] | None = None,
    amount_delta: Mapping[str, Decimal] | None = None,
) -> list[Path]:
    """Write the same lines as `write_camt053` in the simple CSV format, one file per account."""
    return _write(
        world,
        folder,
        "bank",
        "csv",
        _csv_document,
        omit=omit,
        delay_days=delay_days,
        amount_delta=amount_delta,
    )
