# The README's commands. Each target installs what it needs first (infra/setup.sh).
.PHONY: setup up demo test test-unit test-integration lint bench

setup:
	@infra/setup.sh

# The example roster unless DORPSPOMP_ROSTER names your own.
up: setup
	DORPSPOMP_ROSTER="$${DORPSPOMP_ROSTER:-examples/roster.yaml}" .venv/bin/dorpspomp up

# The stack plus a simulated world of 60 organisations, with its own roster, in a home of its
# own (it never mixes with the events `make up` takes): four weeks of history up to now as
# fast as the worker takes them (once per home), then live. `up` says when the history is in.
demo: setup
	DORPSPOMP_HOME="$${DORPSPOMP_HOME:-.dorpspomp-demo}" .venv/bin/dorpspomp up --simulate

# Linters, unit tests, integration tests, then every benchmark phase at a small size.
test:
	@infra/setup.sh --test
	.venv/bin/ruff check pipelines dashboard schemas bench tests infra
	.venv/bin/mypy
	.venv/bin/python -m pytest -m "not integration" -q
	.venv/bin/python -m pytest -m integration -q -n 2 --dist loadfile
	.venv/bin/dorpspomp bench --quick

# The full measurement (about 5 minutes): bench/results.json and a table.
bench: setup
	.venv/bin/dorpspomp bench

test-unit:
	@infra/setup.sh --test
	.venv/bin/python -m pytest -m "not integration" -q

test-integration:
	@infra/setup.sh --test
	.venv/bin/python -m pytest -m integration -q -n 2 --dist loadfile

lint: setup
	.venv/bin/ruff check pipelines dashboard schemas bench tests infra
	.venv/bin/mypy
