"""Webhooks → a targeted refresh: the sensor that drains the webhook queue into one run.

The receiver (`mollie-ledger webhooks`, `extract/webhooks.py`) records verified events and classic
re-fetch hints in a SQLite queue. Each tick this sensor takes what arrived since its cursor and
asks for ONE run of the extract assets those webhooks touch (payments, the ledger, …) plus
everything downstream of them, so a paid payment reaches the marts without a full refresh.

No webhook is lost: the cursor (the last queue row handled) is committed by Dagster together with
the run request, and rows are selected by cursor, not by `processed_at`. If a tick dies after
marking rows processed but before Dagster stored its result, the next tick asks again with the
same `run_key`, which Dagster launches at most once.
"""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from extract.organizations import DEFAULT_NAME
from extract.pipeline import DATASET
from extract.webhook_queue import (
    LEDGER_TABLES,
    PAYMENT_TABLES,
    SUBSCRIPTION_TABLES,
    WebhookQueue,
    queue_path_from_env,
    tables_to_refresh,
)
from orchestration.extract_assets import SWEEP_TAG
from orchestration.organizations import ORGANIZATION_TAG

SENSOR_NAME = "mollie_webhook_sensor"
MAX_BATCH = 5000  # rows per tick: bounds one tick's memory; the cursor picks up the rest

# Every asset a webhook can refresh; the sensor's target must cover all its run requests.
REFRESHABLE = dg.AssetSelection.assets(
    *(
        dg.AssetKey([DATASET, t])
        for t in sorted({*PAYMENT_TABLES, *LEDGER_TABLES, *SUBSCRIPTION_TABLES})
    )
).downstream()


def _read_cursor(raw: str | None, queue_id: str) -> int:
    """The last row handled, or 0 when the cursor belongs to another queue file (a new file
    restarts its row ids: the old cursor would skip its first events)."""
    if not raw:
        return 0
    cursor = json.loads(raw)
    return int(cursor["seq"]) if cursor.get("queue") == queue_id else 0


def _selection(context: dg.SensorEvaluationContext, keys: list[dg.AssetKey]) -> list[dg.AssetKey]:
    """`keys` and everything downstream of them in the loaded definitions."""
    repository = context.repository_def
    if repository is None:  # only when evaluated outside a code location (a bare test context)
        context.log.warning("no definitions loaded: refreshing the extract assets only")
        return keys
    resolved = dg.AssetSelection.assets(*keys).downstream().resolve(repository.asset_graph)
    return sorted(resolved, key=lambda k: k.to_user_string())


@dg.sensor(
    name=SENSOR_NAME,
    target=REFRESHABLE,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Turns received Mollie webhooks (signed events and classic re-fetch hints, queued by "
        "`mollie-ledger webhooks`) into one targeted refresh of the streams they touch and "
        "everything downstream. Queue: $MOLLIE_LEDGER_WEBHOOK_QUEUE or data/webhooks.sqlite."
    ),
)
def webhook_sensor(context: dg.SensorEvaluationContext):
    path = queue_path_from_env()
    if not path.exists():
        yield dg.SkipReason(f"No webhook queue at {path}: start `mollie-ledger webhooks`.")
        return
    with WebhookQueue(path) as queue:
        after = _read_cursor(context.cursor, queue.queue_id)
        items = queue.after(after, limit=MAX_BATCH)
        if not items:
            yield dg.SkipReason("No webhooks received since the last refresh.")
            return
        tables = tables_to_refresh(items)
        events = sum(item.kind == "event" for item in items)
        if tables:
            keys = [dg.AssetKey([DATASET, t]) for t in tables]
            run_key = hashlib.sha256("\n".join(i.key for i in items).encode()).hexdigest()[:32]
            yield dg.RunRequest(
                run_key=f"webhooks-{run_key}",
                asset_selection=_selection(context, keys),
                tags={
                    "mollie_ledger/trigger": "webhooks",
                    ORGANIZATION_TAG: DEFAULT_NAME,  # one run per warehouse (dagster.yaml)
                    # A webhook says an object changed, maybe without moving money: re-read
                    # the look-back window of the touched lists now.
                    SWEEP_TAG: "true",
                    "mollie_ledger/webhook_events": str(events),
                    "mollie_ledger/webhook_hints": str(len(items) - events),
                    "mollie_ledger/streams": ",".join(tables)[:200],
                },
            )
        else:
            types = sorted({i.type or i.entity_id.split("_", 1)[0] for i in items})
            yield dg.SkipReason(f"{len(items)} webhook(s) touch no extracted stream: {types}.")
        # Only now, after the request: a crash before this line re-handles the same rows.
        queue.mark_processed(i.seq for i in items)
        context.update_cursor(json.dumps({"queue": queue.queue_id, "seq": items[-1].seq}))
