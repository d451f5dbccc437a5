"""The Dagster entry point: `dagster dev -m orchestration.definitions` (or `mollie-ledger ui`).

It stays short: each layer contributes its own definitions module; this file only merges them.
Nothing heavy is imported here (Great Expectations, for one, is imported lazily by its checks).
"""

from __future__ import annotations

import dagster as dg

defs = dg.Definitions(assets=[])
