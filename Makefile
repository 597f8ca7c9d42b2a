# Every target sets itself up from nothing: a fresh clone needs only python3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo-output

CHROMIUM := /usr/bin/chromium

.PHONY: install browser demo test lint bench-quality bench-speed bench-deployment clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is pinned first so pip takes the CPU wheel on disk instead of a CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The HTML reports are tested in a real headless browser: Debian's Chromium.
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install Chromium at $(CHROMIUM) for the browser tests" >&2; exit 1; }
	SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null

browser: $(CHROMIUM)

demo: $(STAMP)
	FLWR_TELEMETRY_ENABLED=0 $(BIN)/fedscore demo --out $(DEMO_OUT)

# Two worker processes (one per core); a test file stays on one worker.
test: $(STAMP) $(CHROMIUM)
	FLWR_TELEMETRY_ENABLED=0 FEDSCORE_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -n 2 --dist loadfile
	$(BIN)/ruff check .

lint: $(STAMP)
	$(BIN)/ruff check .

bench-quality: $(STAMP)
	FLWR_TELEMETRY_ENABLED=0 $(BIN)/python benchmarks/quality.py

bench-speed: $(STAMP)
	FLWR_TELEMETRY_ENABLED=0 $(BIN)/python benchmarks/speed.py

bench-deployment: $(STAMP)
	FLWR_TELEMETRY_ENABLED=0 $(BIN)/python benchmarks/deployment.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
