"""What else the machine did while a benchmark ran: kept beside asv's results, flagged when it could bias.

A timing taken while other processes compete for the CPU, or while the hypervisor steals it, is
slower for reasons that are not the code's (here, the warm import read 7.7 s instead of 4.4 s
with CPU-bound work beside it). asv does not record the machine's state, so each timing round of
the suite records it (:class:`Window`: set up before the samples, closed after them) as one JSON
line in ``<ASV_CONF_DIR>/.asv/conditions/<commit>-<env>.jsonl``, like the skip reasons
(:mod:`embedload.base.reasons`):

- ``other_cpu``: CPU seconds used by every other process (and the kernel) over the round: the
  machine's busy time from ``/proc/stat`` minus this benchmark process's and its children's (the
  measured interpreters);
- ``steal_cpu`` of ``machine_cpu``: what the hypervisor gave to other guests (``/proc/stat``);
- ``load``: the 1-minute load average at the end of the round.

A benchmark's rounds are summed: it is *disturbed* when other work used more than
:data:`MAX_OTHER_CORES` cores on average over them (and at least :data:`MIN_OTHER_CPU` CPU
seconds, since ``/proc/stat`` counts 10 ms ticks) or steal exceeded :data:`MAX_STEAL` of the
machine's CPU time (docs/gate.md gives the measurements behind these limits).
Entries carry the asv run they belong to (the ``asv`` process's id and start time), so that the
reader keeps, for each benchmark, only the run whose samples asv stored.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from embedload.base import reasons

CONDITIONS_SUBDIR = os.path.join(".asv", "conditions")
#: Other work above this many cores on average, over a round, marks the round disturbed.
MAX_OTHER_CORES = 0.25
#: Hypervisor steal above this share of the machine's CPU time marks the round disturbed.
MAX_STEAL = 0.05
#: Other work is a disturbance only from this many CPU seconds over the rounds (20 ticks of /proc/stat).
MIN_OTHER_CPU = 0.2

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat() -> tuple[float, float, float] | None:
    """(busy, steal, total) CPU seconds of the whole machine since boot; None without /proc."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice: already in user and nice]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq
    return busy / _TICK, steal / _TICK, (busy + idle + iowait + steal) / _TICK


def _own_cpu(also: tuple[int, ...] = ()) -> float:
    """This process's and its waited-for children's CPU seconds, plus those of ``also`` (processes that
    are part of what is measured, such as a model server the samples talk to)."""
    t = os.times()
    own = t.user + t.system + t.children_user + t.children_system
    for pid in also:
        try:
            import psutil

            c = psutil.Process(pid).cpu_times()
            own += c.user + c.system
        except Exception:  # noqa: BLE001 - gone: its CPU can no longer be told apart
            pass
    return own


def _asv_run() -> str:
    """The asv process this benchmark runs under, as ``pid:start``; "" outside asv."""
    try:
        import psutil

        for parent in psutil.Process().parents():
            argv = parent.cmdline()[:3]
            if any(os.path.basename(a) == "asv" for a in argv):
                return f"{parent.pid}:{int(parent.create_time())}"
    except Exception:  # noqa: BLE001 - a missing run id only widens what the reader keeps
        return ""
    return ""


@dataclass
class Window:
    """Opened when a round's samples start, closed when they end."""

    wall: float
    own: float
    stat: tuple[float, float, float] | None
    #: processes whose CPU is part of the measurement, not a disturbance (a model server)
    also: tuple[int, ...] = ()

    @classmethod
    def open(cls, also: tuple[int, ...] = ()) -> Window:
        return cls(time.time(), _own_cpu(also), _proc_stat(), tuple(also))

    def close(self) -> dict | None:
        """The round's conditions, or None when /proc/stat cannot be read."""
        end, own, stat = time.time(), _own_cpu(self.also), _proc_stat()
        wall = end - self.wall
        if stat is None or self.stat is None or wall <= 0:
            return None
        busy, steal, total = (b - a for a, b in zip(self.stat, stat))
        other = max(0.0, busy - (own - self.own))
        return {
            "start": self.wall, "end": end, "wall": wall, "other_cpu": other, "steal_cpu": steal, "machine_cpu": total,
            "load": os.getloadavg()[0], "cpus": os.cpu_count(),
        }


def conditions_file(conf_dir: str | Path, commit: str, env_name: str) -> Path:
    return Path(conf_dir) / CONDITIONS_SUBDIR / f"{reasons.file_stem(commit, env_name)}.jsonl"


def record_found(benchmark_class: str, params: tuple, found: dict | None) -> None:
    """Append one round's conditions (what :meth:`Window.close` found) for the current asv run; a
    no-op outside asv or when nothing was found."""
    commit, conf_dir, env_name = (os.environ.get(k) for k in ("ASV_COMMIT", "ASV_CONF_DIR", "ASV_ENV_NAME"))
    if not (commit and conf_dir and env_name) or found is None:
        return
    entry = {"class": benchmark_class, "params": [str(p) for p in params], "run": _asv_run(), **found}
    reasons.append_line(conditions_file(conf_dir, commit, env_name), json.dumps(entry))


@dataclass(frozen=True)
class Conditions:
    """A benchmark's rounds in the run whose samples asv kept, summed."""

    rounds: int
    #: seconds of the rounds (setup's end to teardown), and CPU seconds of other processes over them
    wall: float
    other_cpu: float
    #: the hypervisor's steal, as a share of the machine's CPU time over the rounds
    steal: float
    #: the highest 1-minute load average at a round's end
    load: float
    #: wall-clock span of the rounds (the first round's start, the last one's end; None: not recorded),
    #: which tells the gate whether two commits' rounds were interleaved or taken in separate runs
    first_start: float | None = None
    last_end: float | None = None
    #: fresh interpreters the rounds started (each one sample of every figure of its combination);
    #: None: rounds recorded before the suite counted them
    samples: int | None = None

    @property
    def other_cores(self) -> float:
        return self.other_cpu / self.wall if self.wall > 0 else 0.0

    @property
    def disturbed(self) -> bool:
        # /proc/stat counts in ticks (10 ms): a few ticks over a short round are not a disturbance.
        busy = self.other_cores > MAX_OTHER_CORES and self.other_cpu >= MIN_OTHER_CPU
        return busy or self.steal > MAX_STEAL

    def describe(self) -> str:
        why = []
        if self.other_cores > MAX_OTHER_CORES and self.other_cpu >= MIN_OTHER_CPU:
            why.append(f"other processes used {self.other_cores:.2f} cores")
        if self.steal > MAX_STEAL:
            why.append(f"the hypervisor stole {self.steal:.0%} of the CPU")
        over = f"over {self.rounds} round(s), {self.wall:.0f} s"
        if not why:
            return f"quiet: other processes {self.other_cores:.2f} cores, steal {self.steal:.1%} ({over})"
        return "disturbed: " + " and ".join(why) + f" ({over}; load up to {self.load:.2f})"

    def as_dict(self) -> dict:
        return {"rounds": self.rounds, "wall": self.wall, "other_cores": self.other_cores, "steal": self.steal,
                "load": self.load, "disturbed": self.disturbed}


def read_conditions(conditions_dir: Path, commit: str, env_name: str) -> dict[tuple[str, tuple], Conditions]:
    """(benchmark class, params) -> the conditions of its latest asv run's rounds."""
    path = Path(conditions_dir) / f"{reasons.file_stem(commit, env_name)}.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    rounds: dict[tuple[str, tuple], list[dict]] = {}
    for line in lines:
        try:
            entry = json.loads(line)
            key = (entry["class"], tuple(entry["params"]))
            for name in ("start", "end", "wall", "other_cpu", "steal_cpu", "machine_cpu", "load"):
                entry[name] = float(entry[name])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue  # a torn line from a killed run, or another version's
        rounds.setdefault(key, []).append(entry)
    found = {}
    for key, entries in rounds.items():
        last_run = max(entries, key=lambda e: e["end"]).get("run", "")
        found[key] = summarize([e for e in entries if e.get("run", "") == last_run] if last_run else entries)
    return found


def summarize(entries: list[dict]) -> Conditions:
    """Rounds (:meth:`Window.close` entries) as one :class:`Conditions`."""
    machine = sum(e["machine_cpu"] for e in entries)
    return Conditions(
        rounds=len(entries), wall=sum(e["wall"] for e in entries), other_cpu=sum(e["other_cpu"] for e in entries),
        steal=sum(e["steal_cpu"] for e in entries) / machine if machine > 0 else 0.0, load=max(e["load"] for e in entries),
        first_start=min(e["start"] for e in entries) if all("start" in e for e in entries) else None,
        last_end=max(e["end"] for e in entries) if all("end" in e for e in entries) else None,
        samples=sum(int(e["samples"]) for e in entries) if all("samples" in e for e in entries) else None,
    )


def rounds_overlap(a: Conditions | None, b: Conditions | None) -> bool | None:
    """Whether two benchmarks' rounds were taken in overlapping spans of time (rounds interleaved,
    as ``asv continuous --interleave-rounds`` takes them); None when either side's span is unknown."""
    if a is None or b is None or None in (a.first_start, a.last_end, b.first_start, b.last_end):
        return None
    return a.first_start < b.last_end and b.first_start < a.last_end
