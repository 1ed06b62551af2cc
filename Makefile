# Pool Lab: two commands.
#   make lab    create .venv on first use, start the database, open JupyterLab on notebook 00
#   make test   the whole suite against a real PostgreSQL (what CI runs), but the
#               Binder launch simulation: `make test-binder` (root, a few minutes), and
#               three learners on a real JupyterHub: `make test-workshop` (root, a few minutes)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# JupyterLab refuses to run as root unless told; CI and some containers are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test test-binder test-workshop lint db-stop clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# LABKIT_LANG=zh make lab: the Chinese notebooks (notebooks/zh/) and a Chinese JupyterLab.
# `labkit translate lab-config` writes this launch's interface language as a settings
# default (a learner's own choice in Settings > Language still wins) and prints the config
# folder that holds it; in English it prints nothing and JupyterLab is left as it is.
lab: $(INSTALLED)
	$(BIN)/labkit db start
	@config="$$($(BIN)/labkit translate lab-config)"; \
	if [ -n "$$config" ]; then \
		export JUPYTER_CONFIG_PATH="$$config$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}"; \
	fi; \
	exec $(BIN)/jupyter lab --ip=127.0.0.1 $(ROOT_FLAG) \
		"$$($(BIN)/labkit translate lab-config --start-notebook)"

test: $(INSTALLED) lint
	$(BIN)/python -m pytest -m "not binder and not workshop"

test-binder: $(INSTALLED)
	$(BIN)/python -m pytest -m binder -s tests/test_binder.py

# Creates system accounts and builds the hub's environment under /opt/poollab-hub.
test-workshop: $(INSTALLED)
	$(BIN)/python -m pytest -m workshop tests/test_workshop.py

lint: $(INSTALLED)
	$(BIN)/ruff check labkit tests benchmarks
	$(BIN)/ruff format --check labkit tests benchmarks

db-stop: $(INSTALLED)
	$(BIN)/labkit db stop

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
