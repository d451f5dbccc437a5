"""`mollie-ledger ui` prepares a persistent DAGSTER_HOME holding the project's dagster.yaml."""

from __future__ import annotations

from click.testing import CliRunner

from cli.main import main
from cli.ui import INSTANCE_CONFIG, dev_command, dev_environment, prepare_home


def test_help():
    result = CliRunner().invoke(main, ["ui", "--help"])
    assert result.exit_code == 0, result.output
    assert "--port" in result.output and "--dagster-home" in result.output


def test_home_is_created_with_the_project_config_linked(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = prepare_home(tmp_path / "home")
    assert home == (tmp_path / "home").resolve()
    config = home / "dagster.yaml"
    assert config.read_text() == INSTANCE_CONFIG.read_text()
    assert prepare_home(tmp_path / "home") == home  # idempotent


def test_an_existing_config_is_kept_and_a_broken_link_repaired(tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    prepare_home(own)
    assert (own / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"

    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "dagster.yaml").symlink_to(tmp_path / "gone.yaml")
    prepare_home(moved)
    assert (moved / "dagster.yaml").read_text() == INSTANCE_CONFIG.read_text()


def test_dagster_home_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "from-env"))
    assert prepare_home() == (tmp_path / "from-env").resolve()


def test_command_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_WEBSERVER_URL", raising=False)
    command = dev_command("127.0.0.1", 3999)
    assert command[1:4] == ["-m", "dagster", "dev"]
    assert "orchestration.definitions" in command and command[-2:] == ["--port", "3999"]
    env = dev_environment(tmp_path, "http://127.0.0.1:3999")
    assert env["DAGSTER_HOME"] == str(tmp_path)
    assert env["DAGSTER_WEBSERVER_URL"] == "http://127.0.0.1:3999"  # alerts link to this UI
