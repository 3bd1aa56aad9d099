# psfleet: `make demo` and `make test` are the two set-up commands on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SYSTEM_STAMP := $(VENV)/.system-packages
KRB5_PACKAGES := krb5-kdc krb5-admin-server krb5-user libkrb5-dev

.PHONY: demo test lint typecheck unit integration bench bench-full clean system-packages

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

$(STAMP): pyproject.toml $(SYSTEM_STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	@touch $@

system-packages: $(SYSTEM_STAMP)

demo: $(STAMP)
	$(BIN)/python -m psfleet.demo

lint: $(STAMP)
	$(BIN)/ruff check engine plugins tests benchmarks
	$(BIN)/ruff format --check engine plugins tests benchmarks

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
