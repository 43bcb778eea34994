# Two commands do all the set-up on a fresh clone: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# bytecode, as pip writes it for a package it installs from a wheel (an editable install
# writes none): a new process then loads lograph without compiling it from source, even
# where PYTHONDONTWRITEBYTECODE is set. A module edited since is compiled as before.
BYTECODE := $(BIN)/python -m compileall -q runtime eventlog adapters benchmarks

.PHONY: demo test bench lint typecheck imports check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# the editable install's notice about folders named like the package: there is none here
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/pip install -q -e '.[dev]'
	$(BYTECODE)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lograph demo

# two processes: each starts its own throwaway PostgreSQL server
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 $(PYTEST_ARGS)

# (bytecode of the sources as they are now: a cold-process cell measures what an installed
# lograph costs to start)
bench: $(STAMP)
	$(BYTECODE)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check runtime eventlog adapters tests benchmarks

# mypy cannot follow the editable install's path hook: it reads a tree of links named lograph.*
typecheck: $(STAMP)
	rm -rf $(VENV)/typecheck && mkdir -p $(VENV)/typecheck/lograph
	for p in eventlog runtime adapters; do ln -sfn $(CURDIR)/$$p $(VENV)/typecheck/lograph/$$p; done
	MYPYPATH=$(VENV)/typecheck $(BIN)/mypy -p lograph.eventlog -p lograph.runtime -p lograph.adapters

imports: $(STAMP)
	$(BIN)/lint-imports

# the gates CI runs before the tests: lint, types (strict on eventlog), import contracts
check: lint typecheck imports

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
	find runtime eventlog adapters benchmarks tests -name __pycache__ -type d -prune -exec rm -rf {} +
