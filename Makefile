# Distill: make install | demo | test | lint | protos | bench | chaos | test-llm | images
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
UV := .tools/bin/uv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: help install test-tools protos demo test test-unit test-integration lint format bench chaos test-llm images clean

help:
	@echo "make install   create .venv with every package and the distill command"
	@echo "make demo      start the embedded stack, process the sample pages, show the results"
	@echo "make test      run the test suite (unit, integration, e2e, browser, bounded chaos, bench smoke)"
	@echo "make lint      ruff"
	@echo "make protos    regenerate libs/proto from protos/"
	@echo "make bench     benchmarks (results in bench/results/)"
	@echo "make chaos     the full chaos suite"
	@echo "make test-llm  the pipeline against a real llama.cpp server (optional, slow to install)"
	@echo "make images    build the five service images from deploy/Dockerfile (needs Docker; see deploy/README.md)"

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Bytecode is compiled once here (and for our own sources before tests): the test suite
# starts hundreds of service processes, and each would compile every module it imports
# again where PYTHONDONTWRITEBYTECODE is set.
$(VENV)/.installed: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages --compile-bytecode --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed

# Debian's chromium, chromedriver and promtool for tests/browser and tests/deploy (quick when present; says why when it cannot).
test-tools:
	bash scripts/ensure_test_tools.sh

protos: install
	$(PY) scripts/gen_protos.py

demo: install
	$(PY) scripts/demo.py

test: install test-tools
	$(PY) -m compileall -q -j 0 libs services tests bench >/dev/null
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: install
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check libs/core libs/cli libs/client services tests scripts bench

format: install
	$(VENV)/bin/ruff format libs/core libs/cli libs/client services tests scripts bench
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) -m bench

chaos: install
	DISTILL_CHAOS_FULL=1 $(PY) -m pytest tests/chaos -m chaos $(PYTEST_ARGS)

test-llm: install
	bash scripts/test_llm.sh

images:
	bash scripts/build_images.sh

clean:
	rm -rf .venv .tools .pytest_cache .ruff_cache .data
