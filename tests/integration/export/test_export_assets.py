"""The export assets in a real Dagster run, against a built warehouse."""

from __future__ import annotations

import dagster as dg
import pytest

from export.run import NO_FRAPPE
from orchestration.export_assets import export_assets, export_csv_files, export_frappe_entries
from orchestration.warehouse import Warehouse


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("MOLLIE_LEDGER_EXPORT_DIR", str(tmp_path / "exports"))
    for name in ("FRAPPE_URL", "FRAPPE_API_KEY", "FRAPPE_API_SECRET", "MOLLIE_LEDGER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "exports"


def materialize(db):
    return dg.materialize(
        export_assets, resources={"warehouse": Warehouse(database=str(db))}, raise_on_error=False
    )


def metadata(result, asset):
    (event,) = result.asset_materializations_for_node(asset.op.name)
    return {k: v.value for k, v in event.metadata.items()}


def test_csv_asset_and_frappe_skipped_without_url(db, env):
    result = materialize(db)

    assert result.success
    csv = metadata(result, export_csv_files)
    assert csv["files"] >= 13 and csv["rows"] > 0
    assert set(csv["checksums"]) == {p.name for p in env.glob("*.csv")}
    assert metadata(result, export_frappe_entries) == {"status": NO_FRAPPE}


def test_frappe_asset_posts_with_counts(db, env, frappe, monkeypatch):
    monkeypatch.setenv("FRAPPE_URL", frappe.url)
    monkeypatch.setenv("FRAPPE_API_KEY", frappe.api_key)
    monkeypatch.setenv("FRAPPE_API_SECRET", frappe.api_secret)

    result = materialize(db)

    assert result.success
    meta = metadata(result, export_frappe_entries)
    assert meta["posted"] == len(frappe.journal_entries) > 0
    assert meta["failed"] == 0 and meta["review"] > 0
    assert frappe.api_secret not in str(meta)

    again = metadata(materialize(db), export_frappe_entries)
    assert again["posted"] == 0 and again["unchanged"] == meta["posted"]


def test_export_assets_are_downstream_of_every_mart():
    from transforms.models import discover

    marts = {dg.AssetKey([m.schema, m.name]) for m in discover() if m.schema == "marts"}
    csv_deps = set(export_csv_files.asset_deps[dg.AssetKey(["export", "csv"])])
    assert csv_deps == marts
    frappe_deps = set(export_frappe_entries.asset_deps[dg.AssetKey(["export", "frappe"])])
    assert {k.path[1] for k in frappe_deps} == {
        "journal_entries",
        "journal_entry_lines",
        "settlement_reconciliation",
    }
    for asset in export_assets:
        spec = next(iter(asset.specs))
        assert spec.group_name == "exports" and asset.op.pool == "duckdb"
