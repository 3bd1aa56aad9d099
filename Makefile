# psfleet: `make demo` and `make test` are the two set-up commands on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-packages
# The exact versions the tests run with; pyproject.toml gives only compatible ranges.
CONSTRAINTS := .ci/constraints.txt
KRB5_PACKAGES := krb5-kdc krb5-admin-server krb5-user libkrb5-dev

.PHONY: demo test lint typecheck unit integration bench bench-full clean system-packages lock

# gssapi builds against libkrb5-dev and the Kerberos tests need a real MIT KDC.
$(SYSTEM_STAMP):
	@mkdir -p $(VENV)
	@if ! test -x /usr/sbin/krb5kdc || ! command -v krb5-config >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(KRB5_PACKAGES); \
		else \
			echo "psfleet needs: $(KRB5_PACKAGES) (run: sudo apt-get install $(KRB5_PACKAGES))"; exit 1; \
		fi; \
	fi
	@touch $@

$(STAMP): pyproject.toml $(CONSTRAINTS) $(SYSTEM_STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e '.[dev,bench]'
	@touch $@

system-packages: $(SYSTEM_STAMP)

# Rewrites $(CONSTRAINTS) from pyproject.toml, keeping its pins where they still fit:
# `make lock` after a dependency change, `make lock LOCK_FLAGS=--upgrade` to move every
# pin (or LOCK_FLAGS='--upgrade-package aiohttp' for one). Written by uv's resolver, not
# pip-tools: one --universal file holds the Windows-only and Linux-only pins under their
# markers (Windows admins run psfleet too), and uv does not break when pip moves (pip-tools
# drives pip's internals, and the install above upgrades pip). Only this target needs uv:
# installs, CI included, read the file with plain pip.
UV_VERSION := 0.13.9
LOCK_FLAGS ?=
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q 'uv==$(UV_VERSION)'
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench --universal \
		--python-version 3.11 --custom-compile-command 'make lock' $(LOCK_FLAGS) -o $(CONSTRAINTS)

demo: $(STAMP)
	$(BIN)/python -m psfleet.demo

lint: $(STAMP)
	$(BIN)/ruff check engine plugins tests benchmarks
	$(BIN)/ruff format --check engine plugins tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy -p psfleet -p psfleet_plugins

unit: $(STAMP)
	$(BIN)/pytest tests/unit -q

integration: $(STAMP)
	$(BIN)/pytest tests/integration -q

test: lint typecheck
	$(BIN)/pytest tests -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks --profile quick

bench-full: $(STAMP)
	$(BIN)/python -m benchmarks --profile full

clean:
	rm -rf build *.egg-info .mypy_cache .ruff_cache .pytest_cache
