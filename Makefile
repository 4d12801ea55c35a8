# The two commands of the README: `make run` serves the app with every tool on,
# `make test` runs the whole suite. Both install what they need first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install system-deps

run: install
	$(BIN)/flask --app wsgi seed --if-empty
	$(BIN)/flask --app wsgi serve --host $(HOST) --port $(PORT)

test: install system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(STAMP)

# The pinned requirements, then flask_perf itself (editable, --no-deps): its pytest11
# entry point is what gives `pytest --perf`.
$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

system-deps:
	bash scripts/system-deps.sh
