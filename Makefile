# release-train: the two commands of the README are `make demo` and `make test`.
# Every target installs what it needs, so both work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Binaries built or downloaded once per machine, outside the clone.
export RELEASE_TRAIN_CACHE ?= $(HOME)/.cache/release-train
PULUMI_BIN = $(shell scripts/install-pulumi.sh --print-bin-dir)

.PHONY: venv pulumi openapi actionlint lint imports test e2e reliability bench demo clean

# The pinned packages, then this checkout installed editable: `.venv/bin/release` runs the
# checkout's code (the engine's program and providers import the same files).
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# compat mode: a plain path in a .pth file, no import hook at every interpreter start (the
	# PPC job must start light; tests/unit/test_ppc_deploy.py checks what it imports).
	$(PY) -m pip install --quiet --no-deps --config-settings editable_mode=compat -e .
	touch $@

venv: $(VENV)/.installed

pulumi: venv
	scripts/install-pulumi.sh

openapi:
	scripts/install-openapi.sh

actionlint:
	scripts/install-actionlint.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The layers of release/ (docs/architecture.md): the contracts are in .importlinter.
imports: venv
	$(VENV)/bin/lint-imports

test: venv pulumi openapi actionlint lint imports
	PATH="$(PULUMI_BIN):$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

reliability: venv pulumi
	PATH="$(PULUMI_BIN):$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -m slow $(PYTEST_ARGS)

bench: venv pulumi
	PATH="$(PULUMI_BIN):$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m devtools.bench

demo: venv pulumi
	PATH="$(PULUMI_BIN):$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m devtools.demo

clean:
	rm -rf .state .demo .pytest_cache .ruff_cache
