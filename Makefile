# `make test` and `make demo` are the whole set-up on a fresh machine: each (re)builds .venv when
# pyproject.toml changed, then runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install test test-all faults demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

# pytest exits 5 when it collected no test: that is a failure here, never a green run.
test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" || { rc=$$?; [ $$rc -eq 5 ] && echo "no tests ran" >&2; exit $$rc; }

test-all: $(STAMP)
	$(PY) -m pytest -q || { rc=$$?; [ $$rc -eq 5 ] && echo "no tests ran" >&2; exit $$rc; }

faults: $(STAMP)
	$(PY) -m pytest -q tests/faults

demo: $(STAMP)
	$(VENV)/bin/vidseq demo --out demo-run

bench: $(STAMP)
	$(PY) benchmarks/loader.py
	$(PY) benchmarks/train.py

clean:
	rm -rf $(VENV) demo-run .pytest_cache
