"""Several sandbox organizations on disk: one ledger configuration each and the organizations
file (`MOLLIE_LEDGER_ORGANIZATIONS`, read by extract/organizations.py) that lists them.

Each organization is a synthetic association with its own name, ERPNext company and
abbreviation ("groene-vork" → "Vereniging Groene Vork", VGV), Mollie token variable
(MOLLIE_TOKEN_GROENE_VORK) and sandbox world (its own seed). Its ledger configuration is the
repository's config/ledger.toml with the company, cost centre and every " - VGV" account suffix
made its own, so it names exactly the accounts `Chart.for_companies` gives its company on the
Frappe stand-in. `sandbox/demo.py`'s `sandbox_organizations` serves the worlds and points the
settings at these files.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from extract.organizations import read_organizations
from sandbox.frappe.chart import Chart
from transforms.config import DEFAULT_CONFIG

# The first organizations' names; more are called club-4, club-5, …
DEFAULT_NAMES = ("groene-vork", "blauwe-reiger", "rode-kaart")
ORGANIZATIONS_FILE = "organizations.toml"


@dataclass(frozen=True)
class SandboxOrganization:
    """One sandbox organization: who it is in Mollie and ERPNext, and where its files are."""

    name: str  # its entry in the organizations file (a folder name and a partition key)
    company: str  # its ERPNext company
    abbr: str  # the company's abbreviation: every account is "<Account> - <abbr>"
    token_env: str  # the variable that holds its access token
    token: str  # its organization access token on the sandbox (invented, not a secret)
    seed: int  # its sandbox world's seed: ids differ between organizations
    ledger_config: Path  # its ledger configuration (accounts, company, cost centre)
    folder: Path  # its warehouse, publication, exports and report
    bank_dir: Path  # where its bank statements are dropped


@dataclass(frozen=True)
class SandboxOrganizations:
    """What `write_organizations` wrote: the organizations file and its organizations, in file
    order."""

    file: Path  # the organizations file: MOLLIE_LEDGER_ORGANIZATIONS
    organizations: tuple[SandboxOrganization, ...]

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.organizations]

    def __getitem__(self, name: str) -> SandboxOrganization:
        for o in self.organizations:
            if o.name == name:
                return o
        raise KeyError(name)

    def chart(self) -> Chart:
        """The Frappe stand-in's chart holding every organization's company."""
        return Chart.for_companies((o.company, o.abbr) for o in self.organizations)


def organization_names(count: int) -> list[str]:
    """The first `count` default names: groene-vork, blauwe-reiger, rode-kaart, club-4, …"""
    if count < 1:
        raise ValueError(f"at least one organization, not {count}")
    return [DEFAULT_NAMES[i] if i < len(DEFAULT_NAMES) else f"club-{i + 1}" for i in range(count)]


def write_organizations(
    folder: str | Path,
    names: int | Sequence[str] = len(DEFAULT_NAMES),
    *,
    first_seed: int = 7,
    data_dir: str | Path | None = None,
) -> SandboxOrganizations:
    """Write one ledger configuration per organization and the organizations file into
    `folder`.

    Args:
        folder: where the files go: `organizations.toml` and `config/<name>.toml`.
        names: how many organizations (named from `DEFAULT_NAMES`), or their names.
        first_seed: the first organization's world seed; the next ones count up from it.
        data_dir: None (default): the file names each organization's folder explicitly,
            `<folder>/orgs/<name>`, so its data stays in `folder` whatever the working
            directory. A path: the file leaves `folder` out, so the product's default
            `<data_dir>/orgs/<name>` applies (the product must then run with that data folder).
    """
    folder = Path(folder)
    chosen = organization_names(names) if isinstance(names, int) else list(names)
    if not chosen:
        raise ValueError("at least one organization name")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"organization names repeat: {chosen}")
    companies = [_company(n) for n in chosen]
    if len(set(companies)) != len(companies):
        raise ValueError(f"organization names {chosen} give the same company twice: {companies}")
    abbrs = _abbreviations(companies)
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / ORGANIZATIONS_FILE
    file.write_text(
        "# Sandbox organizations (sandbox/organizations.py): one synthetic association each.\n\n"
        + "\n".join(
            f"[organizations.{json.dumps(name)}]\n"
            f'token_env = "{token_env(name)}"\n'
            f'ledger_config = "config/{name}.toml"\n'
            + ("" if data_dir is not None else f'folder = "orgs/{name}"\n')
            for name in chosen
        ),
        encoding="utf-8",
    )
    # Read back as the product reads it, before anything else is written: its checks hold
    # (a name it refuses is refused here), and the folders are the ones it will use.
    read = read_organizations(file, Path(data_dir) if data_dir is not None else Path("data"))
    template = DEFAULT_CONFIG.read_text(encoding="utf-8")
    (folder / "config").mkdir(exist_ok=True)
    for name, company, abbr in zip(chosen, companies, abbrs, strict=True):
        text = ledger_config_text(template, company, abbr)
        (folder / "config" / f"{name}.toml").write_text(text, encoding="utf-8")
    return SandboxOrganizations(
        file=file,
        organizations=tuple(
            SandboxOrganization(
                name=o.name,
                company=company,
                abbr=abbr,
                token_env=token_env(o.name),
                token=f"access_sandbox0{re.sub('[^a-z0-9]', '0', o.name)}0{seed}",
                seed=seed,
                ledger_config=folder / "config" / f"{o.name}.toml",
                folder=_known(o.folder),
                bank_dir=_known(o.bank_dir),
            )
            for seed, o, company, abbr in zip(
                range(first_seed, first_seed + len(read)), read, companies, abbrs, strict=True
            )
        ),
    )


def token_env(name: str) -> str:
    """The variable holding an organization's token: MOLLIE_TOKEN_GROENE_VORK."""
    return "MOLLIE_TOKEN_" + re.sub("[^A-Z0-9]", "_", name.upper())


def ledger_config_text(template: str, company: str, abbr: str) -> str:
    """The ledger configuration `template` (config/ledger.toml's text) for another company:
    its company, cost centre and account suffix replaced, everything else as it is."""
    books = tomllib.loads(template)["books"]
    old_company, old_abbr = books["company"], books["cost_center"].rsplit(" - ", 1)[-1]
    text = template.replace(f'"{old_company}"', f'"{company}"')
    text = text.replace(f' - {old_abbr}"', f' - {abbr}"')
    written = tomllib.loads(text)["books"]
    named = [written["cost_center"], *written["clearing_accounts"].values()]
    named += [a for a in written["accounts"].values() if a]
    stray = [a for a in named if not a.endswith(f" - {abbr}")]
    if written["company"] != company or stray:
        raise ValueError(
            f"config/ledger.toml no longer has the shape this copies (company {company!r}, "
            f"accounts ending ' - {abbr}'); these were not replaced: {stray}"
        )
    return text


def _company(name: str) -> str:
    words = [w for w in re.split("[-_]", name) if w]
    return "Vereniging " + " ".join(w.capitalize() for w in words)


def _abbreviations(companies: list[str]) -> list[str]:
    """ERPNext-style abbreviations from the initials (Vereniging Groene Vork → VGV), a number
    added where two would be the same, since the abbreviation keeps the companies' accounts
    apart."""
    out: list[str] = []
    for company in companies:
        base = "".join(w[0] for w in company.split()).upper()
        abbr, n = base, 1
        while abbr in out:
            n += 1
            abbr = f"{base}{n}"
        out.append(abbr)
    return out


def _known(path: Path | None) -> Path:
    assert path is not None  # a configured organization always has its folders
    return path
