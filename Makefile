# Every target sets itself up from nothing: a fresh clone needs only python3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo-output

CHROMIUM := /usr/bin/chromium

.PHONY: install browser demo test test-fast check typecheck fuzz lint bench-quality bench-speed bench-deployment bench-scale clean protos bench-scoring bench-vertical

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch is pinned first, by pip, so that it takes the CPU wheel on disk instead of a CUDA
# build. The rest is installed by uv (a dependency of Flower's anyway): the same packages
# as pip resolves, in half the time; pip installs them where uv cannot (no registry access
# through uv's TLS, say). Bytecode is compiled at install: imports are twice as slow
# where Python may not write it.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip uv
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/uv pip install --quiet --native-tls --compile-bytecode --python $(BIN)/python \
		-e '.[dev,demo]' || $(BIN)/pip install --quiet -e '.[dev,demo]'
	touch $(STAMP)

install: $(STAMP)

# The HTML reports are tested in a real headless browser: Debian's Chromium.
$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "install Chromium at $(CHROMIUM) for the browser tests" >&2; exit 1; }
	SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null

browser: $(CHROMIUM)

# Chinese text in reports and figures (去标识化, display names) needs a CJK font: Debian's
# Noto CJK when fontconfig knows none; then matplotlib's font list, if older, is rebuilt.
.PHONY: fonts
fonts:
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
		command -v apt-get >/dev/null || { echo "install a CJK font (Debian: fonts-noto-cjk) so Chinese text renders in reports" >&2; exit 1; }; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends fonts-noto-cjk >/dev/null; }
	@[ ! -x $(BIN)/python ] || $(BIN)/python -c "import pathlib, matplotlib as mpl, matplotlib.font_manager as fm; \
		any('CJK' in name for name in fm.get_font_names()) or [p.unlink() for p in pathlib.Path(mpl.get_cachedir()).glob('fontlist-*.json')]"

# Train (and audit), then register the newest run and grade the large bank's book with it.
demo: $(STAMP) fonts
	FLWR_TELEMETRY_ENABLED=0 $(BIN)/fedscore demo --out $(DEMO_OUT)
	$(BIN)/fedscore models register "$$(ls -d $(DEMO_OUT)/runs/*/ | tail -n 1)" \
		--keys $(DEMO_OUT)/consortium/ledger_keys.toml --registry $(DEMO_OUT)/registry --promote
	$(BIN)/fedscore score --model production --registry $(DEMO_OUT)/registry \
		--input $(DEMO_OUT)/institutions/large_bank/data/customers.csv \
		--output $(DEMO_OUT)/large_bank_graded.parquet

# Three worker processes on two cores: the long tests wait much of their time (on the
# processes they start, on polls), so a third worker fills the cores they leave idle (a
# fourth was slower: measured 559 s against 542 s); a test
# file (or class) stays on one worker; a simulation starts one Ray worker. The static checks
# run beside the tests (mypy's 20 s of one core fit in what the tests leave idle); either
# failing fails `make test`.
test: $(STAMP) $(CHROMIUM) fonts
	$(MAKE) --no-print-directory -j2 check test-suite

.PHONY: test-suite
test-suite: $(STAMP) $(CHROMIUM) fonts
	FLWR_TELEMETRY_ENABLED=0 FEDSCORE_SIMULATION_WORKERS=1 FEDSCORE_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -n 3 --dist loadscope --no-loadscope-reorder

# The unit tests: no simulation, no processes, no browser (under two minutes on 2 cores).
test-fast: $(STAMP) check
	FLWR_TELEMETRY_ENABLED=0 $(BIN)/python -m pytest -n 2 --dist loadscope -q -m "not slow and not simulation"

# Lint, formatting and types.
check: $(STAMP) lint typecheck
	$(BIN)/ruff format --check .

# The PII validators against a million arbitrary texts (make test runs 10,000).
fuzz: $(STAMP)
	FEDSCORE_PII_FUZZ_EXAMPLES=1000000 $(BIN)/python -m pytest -q tests/test_pii_detectors.py -k fuzz

lint: $(STAMP)
	$(BIN)/ruff check .

# The documentation site (MkDocs Material, strict: a broken link or anchor fails).
# `make test` builds it too, through tests/test_docs.py.
.PHONY: docs
docs: $(STAMP)
	FLWR_TELEMETRY_ENABLED=0 $(BIN)/mkdocs build --strict --site-dir site

bench-quality: $(STAMP)
	FLWR_TELEMETRY_ENABLED=0 $(BIN)/python benchmarks/quality.py

bench-speed: $(STAMP)
	FLWR_TELEMETRY_ENABLED=0 $(BIN)/python benchmarks/speed.py

bench-deployment: $(STAMP)
	FLWR_TELEMETRY_ENABLED=0 $(BIN)/python benchmarks/deployment.py

bench-scale: $(STAMP)
	FLWR_TELEMETRY_ENABLED=0 $(BIN)/python benchmarks/scale.py

# Generated gRPC code of protos/*.proto (committed; rerun after editing a .proto).
PROTO_OUT := scoring/grpc_api/generated
VERTICAL_PROTO_OUT := vertical/scoring/generated
protos: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -I protos --python_out=$(PROTO_OUT) --pyi_out=$(PROTO_OUT) \
		--grpc_python_out=$(PROTO_OUT) protos/scoring.proto
	sed -i 's/^import scoring_pb2 as/from fedscore.scoring.grpc_api.generated import scoring_pb2 as/' \
		$(PROTO_OUT)/scoring_pb2_grpc.py
	$(BIN)/python -m grpc_tools.protoc -I protos --python_out=$(VERTICAL_PROTO_OUT) \
		--pyi_out=$(VERTICAL_PROTO_OUT) --grpc_python_out=$(VERTICAL_PROTO_OUT) protos/vertical_scoring.proto
	sed -i 's/^import vertical_scoring_pb2 as/from fedscore.vertical.scoring.generated import vertical_scoring_pb2 as/' \
		$(VERTICAL_PROTO_OUT)/vertical_scoring_pb2_grpc.py

# The vertical pair side by side: PSI, training, AUC table, online joint scoring.
bench-vertical: $(STAMP)
	FLWR_TELEMETRY_ENABLED=0 $(BIN)/python benchmarks/vertical.py

bench-scoring: $(STAMP)
	FLWR_TELEMETRY_ENABLED=0 $(BIN)/python benchmarks/scoring.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache

# mypy sees the package as installed (`fedscore.core`, ...) through a tree of links, since
# pyproject maps the top-level folders onto `fedscore.*` names (see [tool.mypy]).
TYPECHECK_TREE := build/typecheck
PACKAGE_FOLDERS := core server clients privacy datasets deployment scoring demo vertical decisions monitoring
typecheck: $(STAMP)
	rm -rf $(TYPECHECK_TREE) && mkdir -p $(TYPECHECK_TREE)/fedscore
	for entry in fedscore/* $(PACKAGE_FOLDERS); do \
		[ -e "$$entry" ] && ln -s "$(CURDIR)/$$entry" $(TYPECHECK_TREE)/fedscore/; done; true
	cd $(TYPECHECK_TREE) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
		--cache-dir $(CURDIR)/.mypy_cache -p fedscore
