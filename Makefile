# Callguard: `make run` starts the whole local stack; `make test` runs lint, types and every test.
SHELL := /bin/bash
PY_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit integration bench mutation system-deps pbx-rootfs clean lock

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PY_SYS) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,sip]'
	@touch $(STAMP)

system-deps:
	@scripts/system-deps

pbx-rootfs: system-deps $(STAMP)
	$(PY) -m sandbox.pbx build

run: system-deps $(STAMP) pbx-rootfs
	$(PY) -m sandbox.run

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

unit: $(STAMP)
	CALLGUARD_TEST_PG_URL=$$(scripts/pg-up) $(PY) -m pytest -q -m "not integration" tests

integration: system-deps $(STAMP) pbx-rootfs
	CALLGUARD_TEST_PG_URL=$$(scripts/pg-up) $(PY) -m pytest -q -m integration tests

test: system-deps $(STAMP) pbx-rootfs lint typecheck
	CALLGUARD_TEST_PG_URL=$$(scripts/pg-up) $(PY) -m pytest -q -p no:cacheprovider tests

bench: system-deps $(STAMP) pbx-rootfs
	CALLGUARD_BENCH_PG_URL=$$(scripts/pg-up) $(PY) bench/run.py

# Mutation testing of the safety core ([tool.mutmut] in pyproject.toml), from scratch each time; the score per
# module goes to bench/results.json. Not part of `make test`: about an hour on 2 cores (docs/MUTATION.md).
mutation: $(STAMP)
	rm -rf mutants
	CALLGUARD_TEST_PG_URL=$$(scripts/pg-up) $(VENV)/bin/mutmut run
	$(PY) bench/mutation_scores.py

lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^callguard' > constraints.txt

clean:
	rm -rf .run .mypy_cache .ruff_cache .pytest_cache mutants
