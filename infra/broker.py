"""Run a real single-node Apache Kafka broker on this machine, without Docker.

dorpspomp's local stack and its integration tests need a genuine Kafka broker
(KRaft mode, broker and controller in one JVM), not a mock. Kafka is published
to no registry this project uses except as jars on Maven Central, so this
script resolves them once with Maven (``infra/kafka/pom.xml``) into the
git-ignored ``.cache/kafka/<version>/lib`` and starts ``kafka.Kafka`` from there
with the machine's Java 17. Everything the broker writes lives under
``<home>/kafka``: ``server.properties``, ``cluster.id``, ``broker.pid``,
``broker.out`` (the JVM's own stdout/stderr), ``logs/server.log`` and the
partition data in ``data/``.

Command line (``python infra/broker.py <command> --help`` for details)::

    fetch                                   resolve the broker jars once
    start  --home DIR [--port 9092] ...     start detached, create topics, return
    run    --home DIR [--port 9092] ...     the same in the foreground; Ctrl-C stops it
    stop   --home DIR [--timeout 30]        SIGTERM, then SIGKILL after the timeout
    status --home DIR [--json]              running or not, port, topics

Exit codes: 0 success, 1 failure (tools missing, Maven failed, the broker did
not become ready), 2 a port is taken by something else, 3 a broker started by
this script is already running for that home. ``status`` exits 1 when no
broker runs.

From Python (the module also works when loaded by file path)::

    info = start_broker(home, port=19092, topics={"dorpspomp.events": 6})
    info.bootstrap            # "127.0.0.1:19092"
    broker_status(home).topics
    stop_broker(home)

Only the standard library is needed, plus kafka-python (imported where it is
used) to wait for the broker and manage topics.
"""

import argparse
import base64
import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

INFRA_DIR = Path(__file__).resolve().parent
KAFKA_POM = INFRA_DIR / "kafka" / "pom.xml"
KAFKA_LOG_CONFIG = INFRA_DIR / "kafka" / "log4j2.yaml"
INSTALL_HINT = "install Java 17 and Maven: apt-get install -y openjdk-17-jre-headless maven"
DEFAULT_PORT = 9092
DEFAULT_TOPICS = "dorpspomp.events:6,dorpspomp.alerts:3"
LOG_TAIL_LINES = 30
MAX_MESSAGE_BYTES = 10 * 1024 * 1024
# Kafka's own rule for topic names.
TOPIC_NAME = re.compile(r"[a-zA-Z0-9._-]{1,249}")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # Debian's Maven colours even in batch mode

EXIT_FAILED = 1
EXIT_USAGE = 2  # as argparse
EXIT_PORT_IN_USE = 2
EXIT_ALREADY_RUNNING = 3


class BrokerError(RuntimeError):
    """The broker could not be fetched, started or reached; the message says what to do."""

    exit_code = EXIT_FAILED


class PortInUse(BrokerError):
    """A port the broker needs is held by some other process."""

    exit_code = EXIT_PORT_IN_USE


class AlreadyRunning(BrokerError):
    """A broker started by this script is already running for the home."""

    exit_code = EXIT_ALREADY_RUNNING

    def __init__(self, home: Path, pid: int, port: int | None) -> None:
        where = f"127.0.0.1:{port}" if port else "an unknown port"
        super().__init__(
            f"a broker is already running (pid {pid}) on {where} — stop it with "
            f"`python infra/broker.py stop --home {home}`"
        )
        self.pid = pid
        self.port = port


@dataclass(frozen=True)
class BrokerPaths:
    """Where one home keeps its broker's files."""

    home: Path

    @property
    def root(self) -> Path:
        return self.home / "kafka"

    @property
    def properties(self) -> Path:
        return self.root / "server.properties"

    @property
    def cluster_id(self) -> Path:
        return self.root / "cluster.id"

    @property
    def pid(self) -> Path:
        return self.root / "broker.pid"

    @property
    def stdout(self) -> Path:
        return self.root / "broker.out"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def server_log(self) -> Path:
        return self.logs / "server.log"

    @property
    def data(self) -> Path:
        return self.root / "data"


@dataclass(frozen=True)
class BrokerInfo:
    """A broker that `start_broker` left running and ready for clients."""

    home: Path
    pid: int
    port: int
    controller_port: int
    topics: dict[str, int]
    created_topics: list[str]
    ready_seconds: float
    log: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


@dataclass(frozen=True)
class BrokerStatus:
    """What `broker_status` found for one home; `topics` is None when unknown."""

    home: Path
    running: bool
    pid: int | None = None
    port: int | None = None
    controller_port: int | None = None
    topics: dict[str, int] | None = None
    error: str | None = None
    log: Path | None = None

    @property
    def bootstrap(self) -> str | None:
        return f"127.0.0.1:{self.port}" if self.port else None

    def to_json(self) -> dict[str, Any]:
        return {
            "home": str(self.home),
            "running": self.running,
            "pid": self.pid,
            "port": self.port,
            "controller_port": self.controller_port,
            "bootstrap": self.bootstrap,
            "topics": self.topics,
            "error": self.error,
            "log": str(self.log) if self.log else None,
            "kafka_version": kafka_version(),
        }


@dataclass(frozen=True)
class _Launch:
    """How to launch the JVM: the one switch `run` needs on top of `start`."""

    die_with_parent: bool = False


# -- the jars -------------------------------------------------------------------------


def repo_root() -> Path:
    """The checkout this script belongs to (the parent of infra/)."""
    return INFRA_DIR.parent


def kafka_version() -> str:
    """The Kafka version pinned in infra/kafka/pom.xml (the one source of it)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(KAFKA_POM).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not (node.text or "").strip():
        raise BrokerError(f"{KAFKA_POM} has no <kafka.version> property")
    return (node.text or "").strip()


def lib_dir() -> Path:
    """Where the broker jars live once fetched."""
    return repo_root() / ".cache" / "kafka" / kafka_version() / "lib"


def _pom_digest() -> str:
    return hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()


def _marker(lib: Path) -> Path:
    return lib / ".complete"


def jars_present() -> bool:
    """True when lib_dir() holds a complete download for the current pom."""
    try:
        recorded = json.loads(_marker(lib_dir()).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(recorded, dict) and recorded.get("pom_sha256") == _pom_digest()


def require_tools(*names: str) -> None:
    """Fail with the install hint when java (17+) or mvn is not on PATH."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise BrokerError(f"{' and '.join(missing)} not found on PATH — {INSTALL_HINT}")
    if "java" in names:
        probe = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
        found = re.search(r'version "(\d+)(?:\.(\d+))?', probe.stderr + probe.stdout)
        if found:
            major = int(found.group(1))
            if major == 1 and found.group(2):  # "1.8.0_x" style
                major = int(found.group(2))
            if major < 17:
                raise BrokerError(f"Kafka {kafka_version()} needs Java 17 or newer, found "
                                  f"Java {major} — {INSTALL_HINT}")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch_jars(say: Callable[[str], None] = print) -> bool:
    """Resolve the broker jars with Maven into lib_dir(); False when already there.

    Maven's output goes to a log next to the jars and is shown only on failure.
    Concurrent callers wait for one another instead of downloading twice.
    """
    lib = lib_dir()
    if jars_present():
        return False
    with _file_lock(lib.parent / ".fetch.lock"):
        if jars_present():
            return False
        require_tools("java", "mvn")
        version = kafka_version()
        say(f"fetching the Kafka {version} broker jars with Maven (once) …")
        partial = lib.with_name(f"lib.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        maven_log = lib.parent / "maven.log"
        started = time.monotonic()
        with maven_log.open("w") as log:
            result = subprocess.run(
                ["mvn", "-B", "-ntp", "-Dstyle.color=never", "-f", str(KAFKA_POM),
                 "dependency:copy-dependencies", f"-DoutputDirectory={partial}"],
                cwd=lib.parent, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                check=False,
            )
        jars = sorted(p.name for p in partial.glob("*.jar")) if partial.is_dir() else []
        if result.returncode != 0 or not any(j.startswith("kafka_2.13-") for j in jars):
            shutil.rmtree(partial, ignore_errors=True)
            raise BrokerError(
                f"Maven could not resolve the Kafka {version} jars (exit {result.returncode}); "
                f"its output ({maven_log}):\n{ANSI_ESCAPE.sub('', tail(maven_log, 60))}"
            )
        _marker(partial).write_text(json.dumps(
            {"kafka_version": version, "pom_sha256": _pom_digest(), "jars": jars}, indent=1))
        shutil.rmtree(lib, ignore_errors=True)
        partial.rename(lib)
        say(f"fetched {len(jars)} jars for Kafka {version} into {lib} "
            f"in {time.monotonic() - started:.1f} s")
        return True


# -- processes and ports ----------------------------------------------------------------


def _reap(pid: int) -> bool:
    """Collect `pid` when it is an exited child of this process; True if it was."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child (or already collected)
        return False
    return reaped == pid


def _process_alive(pid: int) -> bool:
    """True while `pid` runs; an exited process (a zombie too) counts as gone."""
    if _reap(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    if stat.rpartition(")")[2].split()[:1] in (["Z"], ["X"]):
        _reap(pid)  # it may have exited since the first look
        return False
    return True


def _is_our_broker(pid: int, paths: BrokerPaths) -> bool:
    """True when `pid` is alive and is the kafka.Kafka JVM of this home."""
    if not _process_alive(pid):
        return False
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc here: trust the pid file
    return b"kafka.Kafka" in args and str(paths.properties).encode() in args


def _read_pid(paths: BrokerPaths) -> int | None:
    try:
        return int(paths.pid.read_text().strip())
    except (OSError, ValueError):
        return None


def _running_pid(paths: BrokerPaths) -> int | None:
    """The pid of this home's broker when it runs; a stale pid file is removed."""
    pid = _read_pid(paths)
    if pid is None:
        return None
    if _is_our_broker(pid, paths):
        return pid
    paths.pid.unlink(missing_ok=True)
    return None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port (binds the way the JVM does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` lines of a text file, or a note that it is empty or missing."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"({path} does not exist)"
    kept = text.splitlines()[-lines:]
    return "\n".join(kept) if kept else f"({path} is empty)"


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies (Linux only)."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))


# -- configuration and storage ------------------------------------------------------


def server_properties(paths: BrokerPaths, port: int, controller_port: int) -> str:
    """server.properties for one combined broker+controller listening on 127.0.0.1."""

    def escaped(path: Path) -> str:
        return str(path).replace("\\", "\\\\")

    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": escaped(paths.data),
        "num.partitions": "1",
        # Above the producers' 8 MiB max_request_size: an oversized event must reach the
        # pipeline, which files it under dead_letters, instead of being refused here.
        "message.max.bytes": str(MAX_MESSAGE_BYTES),
        "auto.create.topics.enable": "true",
        # One node: every internal topic has one replica.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Consumer groups start at once instead of waiting for more members.
        "group.initial.rebalance.delay.ms": "0",
    }
    lines = [
        "# Written by infra/broker.py on every start; edits are overwritten.",
        *(f"{key}={value}" for key, value in settings.items()),
    ]
    return "\n".join(lines) + "\n"


def _read_properties(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return values
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _configured_ports(paths: BrokerPaths) -> tuple[int | None, int | None]:
    """(port, controller port) from the home's server.properties, if it has one."""
    props = _read_properties(paths.properties)
    port = controller = None
    with contextlib.suppress(ValueError):
        if "advertised.listeners" in props:
            port = int(props["advertised.listeners"].rsplit(":", 1)[1])
        if "controller.quorum.voters" in props:
            controller = int(props["controller.quorum.voters"].rsplit(":", 1)[1])
    return port, controller


def _new_cluster_id() -> str:
    # Kafka's Uuid.randomUuid().toString(): url-safe base64 of 16 random bytes,
    # never starting with "-" (it would read as a command-line option).
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _cluster_id(paths: BrokerPaths) -> str:
    """The home's cluster id: kept in cluster.id, taken from the storage if formatted."""
    meta = _read_properties(paths.data / "meta.properties")
    cluster_id = meta.get("cluster.id")
    if not cluster_id:
        with contextlib.suppress(OSError):
            cluster_id = paths.cluster_id.read_text().strip()
    cluster_id = cluster_id or _new_cluster_id()
    paths.cluster_id.write_text(cluster_id + "\n")
    return cluster_id


def _java_command(paths: BrokerPaths, main_class: str, *args: str, heap: str) -> list[str]:
    return [
        "java", f"-Xmx{heap}",
        "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={KAFKA_LOG_CONFIG}",
        f"-Ddorpspomp.kafka.logs.dir={paths.logs}",
        "-cp", f"{lib_dir()}{os.sep}*",
        main_class, *args,
    ]


def _format_storage(paths: BrokerPaths) -> None:
    """Format the KRaft log directory the first time; later starts keep their data."""
    if (paths.data / "meta.properties").is_file():
        return
    cluster_id = _cluster_id(paths)
    result = subprocess.run(
        _java_command(paths, "kafka.tools.StorageTool", "format", "-t", cluster_id,
                      "-c", str(paths.properties), heap="256m"),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise BrokerError(
            f"formatting the Kafka storage in {paths.data} failed (exit {result.returncode}):\n"
            f"{(result.stdout + result.stderr).strip()}\n{tail(paths.server_log)}"
        )


# -- waiting and topics -------------------------------------------------------------


@contextlib.contextmanager
def _quiet_kafka_client() -> Iterator[None]:
    """Hide kafka-python's connection warnings while the broker is expected to be down."""
    logger = logging.getLogger("kafka")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _admin(bootstrap: str, timeout: float) -> Any:
    from kafka.admin import KafkaAdminClient

    millis = max(100, int(timeout * 1000))
    return KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="dorpspomp-broker-script",
        bootstrap_timeout_ms=millis,
        request_timeout_ms=max(millis, 5000),
    )


def wait_until_ready(bootstrap: str, timeout: float, *, pid: int | None = None) -> float:
    """Block until the broker at `bootstrap` answers a metadata request listing a broker.

    Returns the seconds waited. Raises BrokerError after `timeout` seconds, or as
    soon as process `pid` (when given) has exited.
    """
    started = time.monotonic()
    deadline = started + timeout
    last_error = "no answer yet"
    with _quiet_kafka_client():
        while True:
            if pid is not None and not _process_alive(pid):
                raise BrokerError(f"the broker process {pid} exited during start-up")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerError(
                    f"no Kafka broker answered at {bootstrap} within {timeout:.0f} s "
                    f"(last error: {last_error})"
                )
            try:
                admin = _admin(bootstrap, min(2.0, remaining))
                try:
                    if admin.describe_cluster().get("brokers"):
                        return time.monotonic() - started
                    last_error = "the cluster has no registered broker yet"
                finally:
                    admin.close()
            except Exception as exc:  # every client error means "not ready yet"
                last_error = _describe(exc)
            time.sleep(0.2)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"


def _kafkaadmin() -> ModuleType:
    """pipelines/ingest/kafkaadmin.py, the project's one home for topic creation and listing.

    Imported from the installed package (the venv's python, as `dorpspomp up`, setup.sh
    and the tests run this script), else from this checkout, which holds the script in
    infra/ beside pipelines/; the module needs only the standard library and kafka-python.
    """
    try:
        from pipelines.ingest import kafkaadmin
    except ModuleNotFoundError:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from pipelines.ingest import kafkaadmin
    return kafkaadmin


def list_topics(bootstrap: str, timeout: float = 10.0) -> dict[str, int]:
    """Every non-internal topic with its partition count."""
    topics: dict[str, int] = _kafkaadmin().list_topics(bootstrap, timeout)
    return topics


def ensure_topics(
    bootstrap: str, topics: Mapping[str, int], timeout: float = 30.0
) -> tuple[dict[str, int], list[str]]:
    """Create the missing topics (replication 1); returns (partitions per topic, created).

    An existing topic is left as it is, even with another partition count.
    """
    partitions, created = _kafkaadmin().ensure_topics(bootstrap, topics, timeout)
    return partitions, created


def parse_topics(spec: str) -> dict[str, int]:
    """'events:6,alerts:3' -> {'events': 6, 'alerts': 3}; a bare name gets 1 partition."""
    topics: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = item.partition(":")
        name = name.strip()
        if not TOPIC_NAME.fullmatch(name) or name in (".", ".."):
            raise ValueError(f"{name!r} is not a valid Kafka topic name")
        try:
            partitions = int(count) if count.strip() else 1
        except ValueError:
            raise ValueError(f"{item!r}: partitions must be a whole number") from None
        if partitions < 1:
            raise ValueError(f"{item!r}: a topic needs at least one partition")
        topics[name] = partitions
    return topics


# -- the public operations -----------------------------------------------------------


def _launch(
    home: Path,
    port: int,
    controller_port: int | None,
    topics: Mapping[str, int] | None,
    timeout: float,
    launch: _Launch,
    say: Callable[[str], None],
) -> BrokerInfo:
    paths = BrokerPaths(Path(home).resolve())
    controller_port = port + 1 if controller_port is None else controller_port
    if port == controller_port:
        raise BrokerError(f"the broker and controller ports must differ (both {port})")
    paths.root.mkdir(parents=True, exist_ok=True)
    with _file_lock(paths.root / ".start.lock"):
        pid = _running_pid(paths)
        if pid is not None:
            raise AlreadyRunning(paths.home, pid, _configured_ports(paths)[0])
        for option, number in (("--port", port), ("--controller-port", controller_port)):
            if not port_is_free(number):
                raise PortInUse(
                    f"port {number} on 127.0.0.1 is already in use by another process; "
                    f"choose a free one with {option}"
                )
        fetch_jars(say)
        require_tools("java")
        paths.logs.mkdir(parents=True, exist_ok=True)
        paths.data.mkdir(parents=True, exist_ok=True)
        paths.properties.write_text(server_properties(paths, port, controller_port))
        _format_storage(paths)
        started = time.monotonic()
        with paths.stdout.open("ab") as out:
            process = subprocess.Popen(
                _java_command(paths, "kafka.Kafka", str(paths.properties), heap="512m"),
                cwd=paths.root, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if launch.die_with_parent else None,
            )
        paths.pid.write_text(f"{process.pid}\n")
    bootstrap = f"127.0.0.1:{port}"
    try:
        wait_until_ready(bootstrap, max(0.0, timeout - (time.monotonic() - started)),
                         pid=process.pid)
        try:
            partitions, created = ensure_topics(bootstrap, topics or {})
        except Exception as exc:
            raise BrokerError(f"creating the topics {dict(topics or {})} failed: "
                              f"{_describe(exc)}") from exc
    except BaseException as exc:
        _terminate(process.pid, grace=10)
        paths.pid.unlink(missing_ok=True)
        if not isinstance(exc, BrokerError):
            raise
        logs = f"last {LOG_TAIL_LINES} lines of {paths.server_log}:\n{tail(paths.server_log)}"
        jvm = paths.stdout.read_text(errors="replace").strip() if paths.stdout.is_file() else ""
        if jvm:
            logs += f"\nlast lines of {paths.stdout}:\n{tail(paths.stdout)}"
        raise BrokerError(f"{exc}\n{logs}") from None
    return BrokerInfo(
        home=paths.home, pid=process.pid, port=port, controller_port=controller_port,
        topics=partitions, created_topics=created,
        ready_seconds=time.monotonic() - started, log=paths.server_log,
    )


def start_broker(
    home: Path | str,
    port: int = DEFAULT_PORT,
    controller_port: int | None = None,
    topics: Mapping[str, int] | None = None,
    timeout: float = 60.0,
    *,
    say: Callable[[str], None] = print,
) -> BrokerInfo:
    """Start a detached broker for `home` and wait until it is ready; create `topics`.

    `controller_port` defaults to port + 1. Raises AlreadyRunning, PortInUse or
    BrokerError (whose message carries the tail of the broker log).
    """
    return _launch(Path(home), port, controller_port, topics, timeout, _Launch(), say)


def _terminate(pid: int, grace: float) -> bool:
    """SIGTERM, wait up to `grace` s, then SIGKILL; True when it exited cleanly."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _process_alive(pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    while _process_alive(pid):
        time.sleep(0.05)
    return False


def stop_broker(home: Path | str, timeout: float = 30.0) -> int | None:
    """Stop the broker of `home`; returns its pid, or None when none was running."""
    paths = BrokerPaths(Path(home).resolve())
    pid = _running_pid(paths)
    if pid is None:
        return None
    clean = _terminate(pid, grace=timeout)
    paths.pid.unlink(missing_ok=True)
    if not clean:
        raise BrokerError(f"the broker (pid {pid}) did not stop within {timeout:.0f} s "
                          f"and was killed; see {paths.server_log}")
    return pid


def broker_status(home: Path | str, timeout: float = 5.0) -> BrokerStatus:
    """Whether this home's broker runs, on which ports, and its topics when it does."""
    paths = BrokerPaths(Path(home).resolve())
    port, controller_port = _configured_ports(paths)
    log = paths.server_log if paths.server_log.exists() else None
    pid = _running_pid(paths)
    if pid is None or port is None:
        return BrokerStatus(paths.home, running=False, port=port,
                            controller_port=controller_port, log=log)
    topics: dict[str, int] | None = None
    error = None
    try:
        topics = list_topics(f"127.0.0.1:{port}", timeout)
    except Exception as exc:  # a broker still starting, or hung
        error = f"the broker did not answer: {_describe(exc.__cause__ or exc)}"
    return BrokerStatus(paths.home, running=True, pid=pid, port=port,
                        controller_port=controller_port, topics=topics, error=error, log=log)


def run_broker(
    home: Path | str,
    port: int = DEFAULT_PORT,
    controller_port: int | None = None,
    topics: Mapping[str, int] | None = None,
    timeout: float = 60.0,
    *,
    say: Callable[[str], None] = print,
) -> int:
    """Start the broker and keep it in the foreground until SIGINT/SIGTERM; an exit code.

    The broker is stopped cleanly on the way out, and it also gets SIGTERM from
    the kernel should this process die without cleaning up.
    """

    class Stop(Exception):
        pass

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise Stop

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    info: BrokerInfo | None = None
    try:
        info = _launch(Path(home), port, controller_port, topics, timeout,
                       _Launch(die_with_parent=True), say)
        say(summary(info) + " — in the foreground, Ctrl-C stops it")
        while _process_alive(info.pid):
            time.sleep(0.5)
        say(f"the broker (pid {info.pid}) exited on its own; last lines of {info.log}:\n"
            f"{tail(info.log)}")
        return EXIT_FAILED
    except Stop:
        say("stopping the broker …")
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if info is not None:
            try:
                stopped = stop_broker(home)
                if stopped is not None:
                    say(f"broker stopped (pid {stopped})")
            except BrokerError as exc:
                say(str(exc))


# -- command line ---------------------------------------------------------------------


def summary(info: BrokerInfo) -> str:
    topics = ", ".join(
        f"{name}:{n}{' (new)' if name in info.created_topics else ''}"
        for name, n in info.topics.items()
    ) or "none requested"
    return (f"kafka {kafka_version()} ready on {info.bootstrap} (pid {info.pid}, "
            f"{info.ready_seconds:.1f} s); topics: {topics}; log: {info.log}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infra/broker.py",
        description="Run a real single-node Kafka (KRaft) broker for dorpspomp, without Docker.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("fetch", help="resolve the broker jars with Maven (once)")

    def home_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--home", type=Path, required=True,
                       help="state folder; the broker keeps its files in HOME/kafka")

    for name, text in (("start", "start a detached broker and create the topics"),
                       ("run", "start the broker in the foreground; Ctrl-C stops it")):
        p = commands.add_parser(name, help=text)
        home_arg(p)
        p.add_argument("--port", type=int, default=DEFAULT_PORT, help="client port (127.0.0.1)")
        p.add_argument("--controller-port", type=int, default=None,
                       help="KRaft controller port (default: port + 1)")
        p.add_argument("--topics", default=DEFAULT_TOPICS,
                       help="NAME:PARTITIONS,... to create when missing (default: %(default)s)")
        p.add_argument("--timeout", type=float, default=60.0,
                       help="seconds to wait for the broker to accept clients")

    p = commands.add_parser("stop", help="stop the broker of a home")
    home_arg(p)
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds to wait for a clean exit before SIGKILL")

    p = commands.add_parser("status", help="is the broker of a home running, with which topics")
    home_arg(p)
    p.add_argument("--json", action="store_true", help="one JSON object")
    return parser


def _format_status(status: BrokerStatus) -> str:
    if not status.running:
        return f"no broker running for {status.home}"
    lines = [f"broker running (pid {status.pid}) on {status.bootstrap} for {status.home}"]
    if status.topics is not None:
        listed = ", ".join(f"{name}:{n}" for name, n in sorted(status.topics.items()))
        lines.append(f"topics: {listed or 'none'}")
    if status.error:
        lines.append(status.error)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    def err(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def out(message: str) -> None:
        print(message, flush=True)

    try:
        if args.command == "fetch":
            if not fetch_jars(out):
                out(f"the Kafka {kafka_version()} jars are already in {lib_dir()}")
            return 0
        if args.command in ("start", "run"):
            try:
                topics = parse_topics(args.topics)
            except ValueError as exc:
                err(f"--topics: {exc}")
                return EXIT_USAGE
            if args.command == "run":
                return run_broker(args.home, args.port, args.controller_port, topics,
                                  args.timeout, say=out)
            out(summary(start_broker(args.home, args.port, args.controller_port, topics,
                                     args.timeout, say=out)))
            return 0
        if args.command == "stop":
            pid = stop_broker(args.home, args.timeout)
            out("no broker running" if pid is None else f"broker stopped (pid {pid})")
            return 0
        status = broker_status(args.home)
        out(json.dumps(status.to_json(), indent=2) if args.json else _format_status(status))
        return 0 if status.running else EXIT_FAILED
    except BrokerError as exc:
        err(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        err("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
