# The two commands the README promises work on a fresh machine:
#   make bench   set up, then run the asv suite on HEAD and print the results table
#   make test    set up, then run the tests, asv check and a quick asv run
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Every install goes through constraints.txt: torch stays the local 2.13.0 CPU build.
PIP    := $(BIN)/python -m pip install --quiet --constraint constraints.txt

.PHONY: help setup bench test clean-env

help:
	@echo "make bench   set up .venv, run the asv suite on HEAD (progress as it runs), print the table"
	@echo "make test    set up .venv, run pytest, asv check and a quick asv run against .venv"

$(BIN)/embedload: pyproject.toml constraints.txt
	@echo ">> creating $(VENV) and installing embedload with torch==2.13.0 (CPU)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e '.[test]'
	@touch $@

setup: $(BIN)/embedload

bench: setup
	$(BIN)/asv machine --yes > /dev/null
	$(BIN)/asv run HEAD^! --record-samples --show-stderr
	@echo
	$(BIN)/embedload show --commit HEAD

test: setup
	$(BIN)/asv machine --yes > /dev/null
	$(BIN)/python -m pytest
	$(BIN)/asv check -E existing:$(BIN)/python
	$(BIN)/asv run --quick --dry-run --show-stderr -E existing:$(BIN)/python

clean-env:
	rm -rf $(VENV)
