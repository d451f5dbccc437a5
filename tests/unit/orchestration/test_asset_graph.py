"""The Dagster graph as a reviewed snapshot: assets (groups, kinds, owners, deps, checks,
freshness, retries), jobs, schedules and sensors. A change to any of them shows up as a diff of
__snapshots__/test_asset_graph.ambr; accept it with `pytest --snapshot-update` when intended.

Only stable facts go in: no metadata values, descriptions or code versions, everything sorted.
"""

from __future__ import annotations

import dagster as dg
import pytest

from orchestration import schedules


def _freshness(policy) -> str | None:
    if policy is None:
        return None
    return f"warn after {policy.warn_window}, fail after {policy.fail_window}"


def _retry(assets_def: dg.AssetsDefinition | None) -> str | None:
    policy = assets_def.op.retry_policy if assets_def is not None else None
    if policy is None:
        return None
    return (
        f"{policy.max_retries}x from {policy.delay}s, {policy.backoff.value.lower()}, "
        f"jitter {policy.jitter.value.lower()}"
    )


def graph_snapshot(defs: dg.Definitions) -> dict:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": {
                c.name: "blocking" if graph.get(c).blocking else "non-blocking"
                for c in sorted(node.check_keys, key=lambda c: c.name)
            },
            "pools": sorted(node.pools or ()),
            "freshness": _freshness(node.freshness_policy),
            "retry": _retry(node.assets_def if node.is_executable else None),
        }
    executable = {k for k in graph.get_all_asset_keys() if graph.get(k).is_executable}

    def selection(job: dg.JobDefinition) -> str | list[str]:
        keys = set(job.asset_layer.executable_asset_keys)
        return "every asset" if keys == executable else sorted(k.to_user_string() for k in keys)

    jobs = {
        job.name: selection(job)
        for job in sorted(repo.get_all_jobs(), key=lambda j: j.name)
        if not job.name.startswith("__")  # Dagster's own implicit jobs
    }
    schedule_defs = sorted(repo.schedule_defs, key=lambda s: s.name)
    sensor_defs = sorted(repo.sensor_defs, key=lambda s: s.name)
    return {
        "assets": assets,
        "jobs": jobs,
        "schedules": {
            s.name: {
                "cron": s.cron_schedule,
                "timezone": s.execution_timezone,
                "job": s.job_name,
                "default_status": s.default_status.value,
            }
            for s in schedule_defs
        },
        "sensors": {
            s.name: {
                "type": s.sensor_type.value,
                "default_status": s.default_status.value,
                "minimum_interval_seconds": s.minimum_interval_seconds,
            }
            for s in sensor_defs
        },
    }


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> dg.Definitions:
    # The schedule reads its cron and time zone from the environment: snapshot the defaults.
    with pytest.MonkeyPatch.context() as env:
        env.delenv(schedules.ENV_CRON, raising=False)
        env.delenv(schedules.ENV_TIMEZONE, raising=False)
        from orchestration.definitions import defs

        dg.Definitions.validate_loadable(defs)
        return defs


def test_asset_graph_snapshot(defs, snapshot):
    assert graph_snapshot(defs) == snapshot


def test_every_asset_has_a_group_an_owner_and_a_description(defs):
    graph = defs.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name in {"extract", "staging", "reconciliation", "revenue", "exports"}
        assert node.owners, key
        assert node.description, key
        assert node.kinds, key


def test_marts_are_fresh_within_a_day_and_a_half(defs):
    graph = defs.get_repository_def().asset_graph
    marts = [k for k in graph.get_all_asset_keys() if k.path[0] == "marts"]
    assert marts
    for key in marts:
        policy = graph.get(key).freshness_policy
        assert (
            policy.warn_window.to_timedelta().total_seconds(),
            policy.fail_window.to_timedelta().total_seconds(),
        ) == (26 * 3600, 36 * 3600)


def test_schedule_is_configurable_by_environment():
    schedule = schedules.daily_schedule(
        {schedules.ENV_CRON: "30 5 * * 1-5", schedules.ENV_TIMEZONE: "UTC"}
    )
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 5 * * 1-5", "UTC")
    default = schedules.daily_schedule({})
    assert (default.cron_schedule, default.execution_timezone) == ("0 6 * * *", "Europe/Amsterdam")
    assert default.default_status == dg.DefaultScheduleStatus.RUNNING


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {schedules.ENV_CRON: "at six"},
            "MOLLIE_LEDGER_SCHEDULE_CRON='at six' is not a valid cron",
        ),
        ({schedules.ENV_TIMEZONE: "Europe/Utrecht"}, "is not an IANA time zone"),
    ],
)
def test_bad_schedule_settings_name_the_variable(env, message):
    with pytest.raises(ValueError, match=message):
        schedules.daily_schedule(env)
