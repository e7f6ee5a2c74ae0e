#!/usr/bin/env bash
# Installs everything dorpspomp needs on a fresh Debian machine, once:
# system packages (Java 17 and Maven for the Kafka broker; for tests also
# docker-compose, to check docker-compose.yml, and Chromium with chromedriver,
# for the dashboard's end-to-end test), the virtualenv with the project and its dev
# tools, and the Kafka broker jars. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
want_apt=()
command -v java >/dev/null 2>&1 || want_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || want_apt+=(maven)
if [[ "${1:-}" == "--test" ]]; then
  command -v docker-compose >/dev/null 2>&1 || want_apt+=(docker-compose)
  # Headless Chromium and its WebDriver for the dashboard's end-to-end test.
  command -v chromium >/dev/null 2>&1 || want_apt+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || want_apt+=(chromium-driver)
fi
if ((${#want_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "dorpspomp needs these Debian packages: ${want_apt[*]} — run: sudo apt-get install -y ${want_apt[*]}" >&2
    exit 1
  fi
  echo "installing ${want_apt[*]} …"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want_apt[@]}" >/dev/null
fi
if [[ ! -x .venv/bin/python ]]; then
  echo "creating .venv …"
  "$PY" -m venv .venv
fi
stamp=.venv/.dorpspomp-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  # uv (from PyPI) resolves and installs in parallel: ~30 s here against ~4 min for pip.
  echo "installing dorpspomp and its dependencies into .venv (about 30 s the first time) …"
  [[ -x .venv/bin/uv ]] || .venv/bin/python -m pip install -q --disable-pip-version-check uv
  .venv/bin/uv pip install -q --python .venv/bin/python -e ".[dev]"
  touch "$stamp"
fi
# uv writes no bytecode, and where PYTHONDONTWRITEBYTECODE is set (this machine's shell has
# it) no import ever caches any: every process compiled pandas, faust and the rest again:
# ~1.3 s of CPU for the worker's imports alone; a worker restart in `bench --quick` took
# 5.4 s against 2.8 s with the bytecode. Once per install (and once for an older .venv).
compiled=.venv/.dorpspomp-bytecode
if [[ ! -f $compiled || $stamp -nt $compiled ]]; then
  echo "compiling the installed packages' bytecode (about 15 s, once) …"
  .venv/bin/python -m compileall -q -j 0 "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" >/dev/null \
    || echo "some installed files did not compile (they work, their imports are only slower)"
  touch "$compiled"
fi
# The project's own modules too (only what changed since; a stale file is never used).
.venv/bin/python -m compileall -q -j 0 pipelines dashboard bench schemas tests infra >/dev/null \
  || echo "some of the project's files did not compile: run ruff check to see which" >&2
.venv/bin/python infra/broker.py fetch
