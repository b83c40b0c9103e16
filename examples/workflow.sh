#!/usr/bin/env bash
# examples/workflow.sh: from a baseline to a verified fix, with embedload, on a small application.
#
# The seed's interactive tutorial, on real measurements. In a scratch git repository it writes a
# small application (an embedding loader that imports sentence-transformers only when called),
# then, step by step, pausing to explain each step and its output:
#   1. the application, and `embedload init` (asv.conf.json, its benchmarks, its suite settings);
#   2. a baseline: `embedload profile --save-runs` (every stage, fresh processes), and the
#      commit measured with asv;
#   3. a change: a planted slowdown at the module's import, committed (the script adds it);
#   4. profile again and compare with the baseline (`profile --baseline`): the stages say where;
#   5. the gate on the two commits (`embedload gate`): exit 1, the regression named;
#   6. the fix (the script removes the plant), measured and gated: exit 0, an improvement;
#      then `asv compare` with the baseline, read and not gated (same code, separate runs);
#   7. the dashboard: `asv publish` and `embedload publish` over the three commits.
# Exit 0 when every step behaved as described (the gate failed at the planted commit and passed
# after the fix), 1 when one did not, 2 on bad usage or a missing tool.
set -uo pipefail

usage() {
    cat <<'EOF'
usage: examples/workflow.sh [--yes] [--model NAME|FOLDER] [--runs N] [--slowdown SECONDS]
                            [--workdir DIR] [--python PATH]

From a baseline to a verified fix with embedload, on a small application written into a scratch
git repository: profile, plant a slowdown, profile and compare, gate, fix, gate, publish.
Interactive: it pauses before each step and explains what the step does and what its output says.

  --yes               run every step without pausing (CI)
  --model NAME|DIR    the model the application loads (default: all-MiniLM-L6-v2, packaged)
  --runs N            fresh processes per profile (default: 5, the fewest for which the
                      comparison of 4 stages can reach significance)
  --slowdown S        CPU seconds the planted change adds to the application's import (default: 0.25)
  --workdir DIR       keep the repository, results and dashboard in DIR (a new folder); by
                      default they go to a temporary folder, removed at the end
  --python PATH       an interpreter with embedload installed (default: .venv/bin/python of this
                      checkout, else python3)
  -h, --help          this text

Exit 0 when every step behaved as described, 1 when one did not, 2 on bad usage.
EOF
}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
YES=0
MODEL=all-MiniLM-L6-v2
RUNS=5
SLOWDOWN=0.25
WORKDIR=
PY=
while [ $# -gt 0 ]; do
    case "$1" in
        --yes|-y) YES=1 ;;
        --model) MODEL=${2:?--model needs a name or a folder}; shift ;;
        --runs) RUNS=${2:?--runs needs a number}; shift ;;
        --slowdown) SLOWDOWN=${2:?--slowdown needs seconds}; shift ;;
        --workdir) WORKDIR=${2:?--workdir needs a folder}; shift ;;
        --python) PY=${2:?--python needs an interpreter}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "workflow.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

fail_usage() { echo "workflow.sh: $*" >&2; exit 2; }
[[ "$RUNS" =~ ^[0-9]+$ ]] && [ "$RUNS" -ge 5 ] || fail_usage "--runs is a whole number of at least 5 (the comparison needs 5 a side); got $RUNS"
[[ "$SLOWDOWN" =~ ^[0-9]*\.?[0-9]+$ ]] || fail_usage "--slowdown is a number of seconds such as 0.25; got $SLOWDOWN"
if [ -z "$PY" ]; then
    if [ -x "$HERE/.venv/bin/python" ]; then PY=$HERE/.venv/bin/python; else PY=$(command -v python3 || true); fi
fi
[ -n "$PY" ] && [ -x "$PY" ] || fail_usage "no interpreter at ${PY:-(none)}; run \`make setup\` or pass --python"
BIN=$(dirname "$PY")
for tool in embedload asv; do
    [ -x "$BIN/$tool" ] || fail_usage "$BIN/$tool not found: install embedload into that interpreter (make setup) or pass --python"
done
command -v git > /dev/null || fail_usage "git not found; the tutorial measures commits"
if [ "$YES" = 0 ] && [ ! -t 0 ]; then
    fail_usage "standard input is not a terminal: pass --yes to run without pausing"
fi
if [ -d "$MODEL" ]; then
    MODEL_DIR=$(cd "$MODEL" && pwd)
    MODEL_NAME=$(basename "$MODEL_DIR")
else
    MODEL_DIR=
    MODEL_NAME=$MODEL
fi

# The scratch repository: a new folder, never one that holds anything.
if [ -n "$WORKDIR" ]; then
    [ -e "$WORKDIR" ] && fail_usage "--workdir $WORKDIR exists; name a new folder (nothing is ever written over)"
    mkdir -p "$WORKDIR" || fail_usage "cannot create $WORKDIR"
    W=$(cd "$WORKDIR" && pwd)
    KEEP=1
else
    W=$(mktemp -d "${TMPDIR:-/tmp}/embedload-tutorial.XXXXXX") || fail_usage "cannot create a temporary folder"
    KEEP=0
fi
# Long commands run in the background and are waited for, so that a signal is handled at once:
# their whole process tree is stopped and the temporary folder removed.
kill_tree() { local child; for child in $(pgrep -P "$1"); do kill_tree "$child"; done; kill -TERM "$1" 2> /dev/null; }
stop() {
    for child in $(pgrep -P $$); do kill_tree "$child"; done
    wait 2> /dev/null
    echo "workflow.sh: stopped by a signal; nothing of the run is left running" >&2
    exit "$1"
}
cleanup() {
    local status=$?
    if [ "$KEEP" = 0 ]; then rm -rf "$W"; else rm -rf "$W/tmp"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'stop 130' INT
trap 'stop 143' TERM

APP=$W/app
# Every temporary file of the run goes into the run's folder and goes with it: `import
# sentence_transformers` creates torch's compile cache, $TMPDIR/torchinductor_$USER, in whichever
# process gets that far before a stop (it did, once, in the middle of the first profile).
export TMPDIR=$W/tmp
mkdir -p "$TMPDIR"
# asv's machine file goes to $W/home, not to your ~/.asv-machine.json; caches stay where they are.
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$HOME/.cache}
ASV_HOME=$W/home
# The application's module is imported from its working tree, which is each commit measured.
export PYTHONPATH=$APP${PYTHONPATH:+:$PYTHONPATH}
export ASV_PYTHONPATH=$APP
export HF_HUB_OFFLINE=1

bold= plain=
if [ -t 1 ]; then bold=$(tput bold 2> /dev/null || true); plain=$(tput sgr0 2> /dev/null || true); fi
STEP=0
step() {  # step TITLE, then the explanation on stdin
    STEP=$((STEP + 1))
    echo
    echo "${bold}== $STEP. $1 ==${plain}"
    cat
    if [ "$YES" = 0 ]; then
        read -r -p "[Enter] to run it, q to stop: " answer < /dev/tty || answer=q
        [ "$answer" = q ] && { echo "stopped at step $STEP"; exit 0; }
    fi
}
run() {  # run FILE COMMAND...: in the application's folder; the command line and its output into FILE
    local out=$1; shift
    local shown="${*/#$BIN\//}"
    echo "\$ ${shown#env HOME=$ASV_HOME }" | tee "$out"
    if [ "${PROGRESS:-0}" = 1 ]; then
        (cd "$APP" && exec "$@") >> "$out" &  # its progress (stderr) shows as it runs
    else
        (cd "$APP" && exec "$@") >> "$out" 2>&1 &
    fi
    wait $!
}
# The report's sections whose title matches PATTERN (a section ends at a blank line), and its verdict.
sections() { awk -v pat="$2" '/^$/ {p = 0} $0 ~ pat {p = 1; print ""} p' "$1"; echo; tail -n 1 "$1"; }
ASV=(env "HOME=$ASV_HOME" "$BIN/asv")
commit() { git -C "$APP" add -A && git -C "$APP" commit -q -m "$1" && git -C "$APP" rev-parse --short=8 HEAD; }
PROBLEMS=()
expect() {  # expect WHAT WANTED GOT
    if [ "$2" = "$3" ]; then
        echo "-> as expected: $1 (exit $3)"
    else
        echo "-> NOT as expected: $1 should exit $2, exited $3"
        PROBLEMS+=("step $STEP: $1 exited $3, expected $2")
    fi
}
gate() {  # gate FILE BASELINE WHAT EXPECTED [SECTIONS]: HEAD gated against BASELINE, as CI gates it
    run "$1" "$BIN/embedload" gate --machine tutorial --commit HEAD --baseline "$2"
    local status=$?
    if [ -n "${5:-}" ]; then sections "$1" "$5"; else tail -n 1 "$1"; fi
    expect "$3" "$4" "$status"
}
measure() {  # the commit at HEAD, with asv, in this interpreter (-E existing)
    run "$W/asv-run.log" "${ASV[@]}" run -E "existing:$PY" --machine tutorial --set-commit-hash "$(git -C "$APP" rev-parse HEAD)" \
        -a rounds=4 --record-samples --bench 'bench_embedload[.]Stages[.]track_import'
    local status=$?
    grep -v '^\$' "$W/asv-run.log" | grep -E 'track_import|±' | tail -n 2
    if [ $status != 0 ]; then
        echo "asv run failed (exit $status); its output:"; tail -20 "$W/asv-run.log"
        PROBLEMS+=("step $STEP: asv run failed")
    fi
}

step "The application" <<EOF
The tutorial writes a small application into $APP: a git repository with tutorial_app.py,
whose load(model_path, device) returns a sentence-transformers model. It imports
sentence-transformers inside load(), so that importing the application stays fast (the
lazy-import pattern). \`embedload init\` then adds what tracks its load with asv:
asv.conf.json, benchmarks/bench_embedload.py and [tool.embedload.suite] in pyproject.toml.
The model: $MODEL_NAME${MODEL_DIR:+ (the folder $MODEL_DIR)}.
EOF
mkdir -p "$APP" "$ASV_HOME" && git -C "$APP" init -q -b main || exit 2
git -C "$APP" config user.email tutorial@embedload.invalid && git -C "$APP" config user.name "embedload tutorial"
cat > "$APP/tutorial_app.py" <<'EOF'
"""The tutorial's application: its embedding loader (written by embedload's examples/workflow.sh)."""


def load(model_path, device):
    from sentence_transformers import SentenceTransformer  # here, not at the top: the import stays fast

    return SentenceTransformer(model_path, device=device)
EOF
{
    printf '[project]\nname = "tutorial-app"\nversion = "0.1"\n\n[tool.embedload]\nloader = "tutorial_app:load"\n'
    if [ -n "$MODEL_DIR" ]; then printf '\n[tool.embedload.models]\n"%s" = "%s"\n' "$MODEL_NAME" "$MODEL_DIR"; fi
} > "$APP/pyproject.toml"
# asv's environment installs embedload from this checkout: the tutorial runs here, never on a runner
run "$W/init.txt" "$BIN/embedload" init --loader tutorial_app:load --model "$MODEL_NAME" --no-workflow \
    --embedload-spec "$HERE"
sed -n '/^written\|^appended\|^kept/p' "$W/init.txt"
[ -f "$APP/benchmarks/bench_embedload.py" ] || { echo "embedload init wrote no suite"; exit 1; }
grep -qx ".asv/" "$APP/.gitignore" || { echo "embedload init did not add .asv/ to .gitignore"; exit 1; }
BASE=$(commit "the application, tracked by embedload")
(cd "$APP" && "${ASV[@]}" machine --yes --machine tutorial > /dev/null) || { echo "asv machine failed"; exit 1; }
echo "commit $BASE: the application"

PROFILE=("$BIN/embedload" profile --loader tutorial_app:load --model "$MODEL_NAME" --runs "$RUNS")
step "A baseline" <<EOF
Before changing anything, measure. \`embedload profile\` runs the whole load in $RUNS fresh
processes and times each stage: import (of tutorial_app), init (load(): here that includes
importing sentence-transformers), first encode, and the total; --save-runs keeps the runs as a
baseline file. Without a baseline the report judges nothing (its last line says REPORT), but
it shows each stage beside embedload's default targets: load() includes sentence-transformers'
import, so init misses the default 3-s target (reported; the gate gates only the targets a
project sets in [tool.embedload.targets], and this one sets none). Then asv measures the commit's import (8 fresh processes),
which the gate will compare commit to commit.
EOF
PROGRESS=1 run "$W/before.txt" "${PROFILE[@]}" --save-runs "$W/before.json"
status=$?
sections "$W/before.txt" "Timing Breakdown"
expect "the baseline profile" 0 $status
measure

step "A change that slows the import" <<EOF
Someone adds a dependency to tutorial_app.py whose import costs CPU time. The tutorial plants
that change itself: $SLOWDOWN s of CPU at the module's import, marked PLANTED, and commits it.
EOF
cp "$APP/tutorial_app.py" "$W/tutorial_app.before"
cat >> "$APP/tutorial_app.py" <<EOF

# PLANTED by examples/workflow.sh: stands for a new dependency whose import costs $SLOWDOWN s of CPU.
import time as _time  # noqa: E402

_until = _time.process_time() + $SLOWDOWN
while _time.process_time() < _until:
    pass
EOF
PLANTED=$(commit "use a new dependency (planted slowdown)")
echo "commit $PLANTED: tutorial_app.py now ends with:"; tail -6 "$APP/tutorial_app.py" | sed 's/^/    /'

step "Profile again, and compare with the baseline" <<EOF
The same profile, with --baseline: each stage is compared with the baseline's runs by the
gate's test (Mann-Whitney U, one-sided, 5% false-alarm budget over the stages). Each
comparison states the smallest slowdown it could have seen. Expect exit 1 and the import named:
the total moves by a few percent, the import by far more. The recommendations at the end cite
the measured numbers.
EOF
PROGRESS=1 run "$W/after.txt" "${PROFILE[@]}" --baseline "$W/before.json"
status=$?
sections "$W/after.txt" "Timing Breakdown|Compared with|Smallest slowdown|Recommendations"
expect "the profile against the baseline" 1 $status

step "The gate, as CI runs it" <<EOF
asv measures the planted commit's import; \`embedload gate\` then judges HEAD against its
parent, in the same asv machine and environment: the targets the project set (none here) and
regressions. Exit 0 pass, 1 a target missed or a regression, 2 cannot judge. Expect 1.
EOF
measure
gate "$W/gate-planted.txt" HEAD~1 "the gate at the planted commit $PLANTED" 1 "Compared with|Smallest slowdown"

step "The fix, verified" <<EOF
The tutorial removes the planted lines and commits, asv measures the new commit, and the gate
judges it against the planted one: expect exit 0, with the import improved. Then \`asv compare\`
shows the fix beside the baseline commit $BASE: the import is back where it was. That one is
read, not gated: the two commits have the same code and were measured in separate asv runs
minutes apart, so a gate between them is an A/A test that also sees the machine's drift, and
it would fail now and then by chance. \`make gate\` in embedload, or \`asv continuous
--interleave-rounds\` in your CI, measures two commits back to back for a verdict.
EOF
cp "$W/tutorial_app.before" "$APP/tutorial_app.py"
FIXED=$(commit "drop the new dependency")
echo "commit $FIXED: the plant removed"
measure
gate "$W/gate-fixed.txt" HEAD~1 "the gate at the fix $FIXED against the planted commit" 0 "Compared with"
run "$W/compare-base.txt" "${ASV[@]}" compare --machine tutorial "$BASE" "$FIXED" \
    || PROBLEMS+=("step $STEP: asv compare failed")
grep -E 'track_import' "$W/compare-base.txt" | tail -n 1

step "The dashboard" <<EOF
\`asv publish\` writes asv's pages for the three commits; \`embedload publish\` makes them work
offline and writes the stage page beside them (embedload/index.html, which opens from file://).
EOF
run "$W/publish.log" "${ASV[@]}" publish && tail -n 1 "$W/publish.log"
run "$W/embedload-publish.txt" "$BIN/embedload" publish && tail -n +2 "$W/embedload-publish.txt"
[ -f "$APP/.asv/html/embedload/index.html" ] || PROBLEMS+=("step $STEP: no stage page was written")
if [ "$KEEP" = 1 ]; then
    echo "open $APP/.asv/html/embedload/index.html, or: (cd $APP && HOME=$ASV_HOME $BIN/asv preview)"
else
    echo "(pass --workdir DIR to keep the repository and its dashboard)"
fi

echo
if [ ${#PROBLEMS[@]} = 0 ]; then
    echo "${bold}tutorial: every step as expected${plain}: the gate failed at the planted commit $PLANTED (exit 1) and passed after the fix $FIXED (exit 0)"
    exit 0
fi
echo "${bold}tutorial: ${#PROBLEMS[@]} step(s) not as expected${plain}:"
printf '  %s\n' "${PROBLEMS[@]}"
exit 1
