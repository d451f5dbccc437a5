import dagster as dg


def test_definitions_load():
    from orchestration.definitions import defs

    dg.Definitions.validate_loadable(defs)
