# Two commands on a fresh machine: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
OUT ?= out/demo

.PHONY: setup demo test lint bench bench-setup clean browser postgres

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/openwfm demo --out $(OUT)

lint: setup
	$(VENV)/bin/ruff check src tests bench

# What the tests need beyond Python packages: Debian's chromium (scripts/ensure-chromium).
browser:
	scripts/ensure-chromium

# Debian's postgresql for the router's production store (the tests start their own cluster).
postgres:
	scripts/ensure-postgres

test: lint browser postgres
	$(PY) -m pytest -q -n 2

# Peers for the benchmarks. pyworkforce 0.5.4 declares an upper Python bound that 3.11 fails,
# so it is installed on its own with the bound ignored.
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(PY) -m pip install -q --ignore-requires-python pyworkforce==0.5.4
	touch $(BENCH_STAMP)

bench-setup: $(BENCH_STAMP)

bench: bench-setup postgres
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) out openwfm.duckdb
