"""Settings come from the documented environment variables, validated once."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.settings import Settings, SettingsError, documented_variables

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_work_on_one_machine(tmp_path: Path) -> None:
    s = Settings.from_env({"DORPSPOMP_HOME": str(tmp_path)})
    assert s.kafka == "localhost:9092"
    assert s.embedded and s.warehouse_path == tmp_path / "warehouse"
    assert s.database_name == "dorpspomp"
    assert s.roster is None


def test_the_contract_names_and_defaults() -> None:
    defaults = {name: default for name, default, _ in documented_variables()}
    assert defaults["DORPSPOMP_HOME"] == "./.dorpspomp"
    assert defaults["DORPSPOMP_KAFKA"] == "localhost:9092"
    assert defaults["DORPSPOMP_WAREHOUSE"] == "chdb://$DORPSPOMP_HOME/warehouse"
    assert defaults["DORPSPOMP_ROSTER"] is None


def test_server_dsn_names_the_database() -> None:
    s = Settings.from_env({"DORPSPOMP_WAREHOUSE": "http://u:p@ch:8123/agency"})
    assert not s.embedded and s.database_name == "agency"


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"DORPSPOMP_WAREHOUSE": "mysql://x"}, "chdb://PATH"),
        ({"DORPSPOMP_ROSTER": "/nonexistent/roster.yaml"}, "no such file"),
        ({"DORPSPOMP_BATCH_SIZE": "many"}, "is not a number"),
        ({"DORPSPOMP_WORKER_PORT": "0"}, "positive"),
    ],
)
def test_bad_values_say_which_variable_and_what_to_do(env: dict, words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        Settings.from_env(env)


def test_the_readme_documents_every_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name, _, _ in documented_variables() if f"`{name}`" not in readme]
    assert not missing, f"README.md does not document {missing}"
