"""docker-compose.yml is valid and wires the stack the way the README promises.

No Docker engine is needed: Debian's `docker-compose` (1.29) checks the file on
its own. The test fails, rather than skips, without it, so a machine that
cannot check the file never reports it as fine.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
USERS_D = "/etc/clickhouse-server/users.d/"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict) and isinstance(loaded.get("services"), dict)
    return loaded


def users_file(compose: dict[str, Any]) -> Path:
    """The host file mounted into ClickHouse's users.d/."""
    for volume in compose["services"]["clickhouse"].get("volumes", []):
        source, _, rest = volume.partition(":")
        if rest.startswith(USERS_D):
            return (ROOT / source).resolve()
    raise AssertionError(f"clickhouse mounts no file into {USERS_D}")


def test_docker_compose_accepts_the_file() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed, so docker-compose.yml cannot be checked: "
                    "run `apt-get install -y docker-compose` (it needs no Docker engine)")
    result = subprocess.run([binary, "-f", str(COMPOSE_FILE), "config", "-q"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"docker-compose config rejected the file:\n{result.stderr}"


def test_the_four_services_exist(compose: dict[str, Any]) -> None:
    assert {"kafka", "clickhouse", "worker", "dashboard"} <= set(compose["services"])
    assert compose["services"]["kafka"]["image"] == "apache/kafka:4.1.1"
    assert compose["services"]["clickhouse"]["image"].startswith("clickhouse/clickhouse-server")


@pytest.mark.parametrize("service", ["worker", "dashboard"])
def test_worker_and_dashboard_build_from_the_dockerfile(compose: dict[str, Any],
                                                        service: str) -> None:
    build = compose["services"][service]["build"]
    assert (ROOT / build["context"]).resolve() == ROOT
    assert build["dockerfile"] == "infra/Dockerfile"
    assert (ROOT / "infra" / "Dockerfile").is_file()
    assert compose["services"][service]["command"][:2] == ["dorpspomp", service]


def test_kafka_is_reachable_from_containers_and_from_the_host(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    advertised = kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert any(a.endswith("//kafka:9092") for a in advertised)
    assert any(a.endswith("//localhost:9092") for a in advertised)
    assert any(p.startswith("127.0.0.1:9092:") for p in kafka["ports"])
    assert compose["services"]["worker"]["environment"]["DORPSPOMP_KAFKA"] == "kafka:9092"


def test_the_worker_waits_for_healthy_services(compose: dict[str, Any]) -> None:
    for service, needs in (("worker", {"kafka", "clickhouse"}), ("dashboard", {"clickhouse"})):
        depends = compose["services"][service]["depends_on"]
        assert needs <= set(depends)
        assert all(depends[name]["condition"] == "service_healthy" for name in needs)
    for service in ("kafka", "clickhouse", "worker", "dashboard"):
        assert "healthcheck" in compose["services"][service], service


def test_the_reader_user_is_read_only(compose: dict[str, Any]) -> None:
    users = ET.parse(users_file(compose)).getroot()
    reader = users.find("users/dorpspomp_reader")
    assert reader is not None, "no dorpspomp_reader user in the mounted users file"
    profile = users.find(f"profiles/{reader.findtext('profile')}")
    assert profile is not None, "the reader's profile is not defined in the same file"
    assert profile.findtext("readonly") == "1"

    writer = users.find("users/dorpspomp")
    assert writer is not None, "no dorpspomp (writer) user in the mounted users file"
    writer_profile = users.find(f"profiles/{writer.findtext('profile')}")
    assert writer_profile is None or writer_profile.findtext("readonly") in (None, "0")


def test_the_dsns_log_in_as_the_configured_users(compose: dict[str, Any]) -> None:
    users = ET.parse(users_file(compose)).getroot()
    services = compose["services"]
    logins = {
        "worker": urlsplit(services["worker"]["environment"]["DORPSPOMP_WAREHOUSE"]),
        "dashboard": urlsplit(services["dashboard"]["environment"]["DORPSPOMP_WAREHOUSE_READER"]),
    }
    assert logins["worker"].username == "dorpspomp"
    assert logins["dashboard"].username == "dorpspomp_reader"
    for login in logins.values():
        assert login.hostname == "clickhouse" and login.port == 8123
        assert users.findtext(f"users/{login.username}/password") == login.password
    dashboard_env = services["dashboard"]["environment"]
    assert urlsplit(dashboard_env["DORPSPOMP_WAREHOUSE"]).username == "dorpspomp_reader", (
        "the dashboard must hold only the read-only login"
    )
