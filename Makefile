# `make test` and `make demo` are the whole set-up on a fresh machine: each (re)builds .venv when
# pyproject.toml changed, installs the Debian tools the tests use where they are missing, then runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch only for the EfficientNet-Lite parity test, and only this CPU build where the machine has it
# on disk: any other torch spec pulls a multi-GB CUDA build. Without it the parity tests skip.
TORCH_WHEEL := $(firstword $(wildcard /opt/wheels/torch-2.13.0+cpu-*.whl))

.PHONY: install ffmpeg chromium lint test test-all faults conformance demo bench bench-scale clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	$(if $(TORCH_WHEEL),$(PY) -m pip install -q "$(TORCH_WHEEL)")
	touch $(STAMP)

# The conformance tests write their corpus with the ffmpeg CLI and use it as the oracle: install
# it (Debian, as root, as in CI) only where it is not on PATH.
ffmpeg:
	@command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg; }

# The `vidseq serve` test drives a real headless Chromium (through the playwright pip package, never
# `playwright install`): install Debian's (as root, as in CI) only where /usr/bin/chromium is missing.
chromium:
	@[ -x /usr/bin/chromium ] || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples

# pytest exits 5 when it collected no test: that is a failure here, never a green run.
test: $(STAMP) ffmpeg chromium lint
	$(PY) -m pytest -q -m "not slow" || { rc=$$?; [ $$rc -eq 5 ] && echo "no tests ran" >&2; exit $$rc; }

test-all: $(STAMP) ffmpeg chromium lint
	$(PY) -m pytest -q || { rc=$$?; [ $$rc -eq 5 ] && echo "no tests ran" >&2; exit $$rc; }

faults: $(STAMP)
	$(PY) -m pytest -q tests/faults

# The corpus 4x longer plus LARGE_ONLY, its table (ffprobe's count beside the decoded one), then the test.
conformance: $(STAMP) ffmpeg
	rm -rf conformance-corpus
	VIDSEQ_CONFORMANCE=large $(PY) -m tests.conformance.corpus conformance-corpus
	VIDSEQ_CONFORMANCE=large VIDSEQ_CONFORMANCE_DIR=conformance-corpus $(PY) -m pytest -q tests/conformance

demo: $(STAMP)
	$(VENV)/bin/vidseq demo --out demo-run

bench: $(STAMP)
	$(PY) benchmarks/loader.py
	$(PY) benchmarks/train.py

# Ray (prepare, features) with 1 and 2 workers, and 2-process training against 1 (docs/scaling.md)
bench-scale: $(STAMP)
	$(PY) benchmarks/scale.py

clean:
	rm -rf $(VENV) demo-run .pytest_cache conformance-corpus
