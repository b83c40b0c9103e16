"""The README stays short, and every command in its code blocks exists as written.

The expensive commands (make bench, make test, the tutorial) run elsewhere: CI runs `make test`,
and tests/test_workflow.py runs examples/workflow.sh. Here each command is checked as written:
a make target is in the Makefile, an embedload command and its options parse (``--help`` of
that command lists each option), a script exists and is executable.
"""

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_LINES = 120


def _commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [re.split(r"\s#\s", line, maxsplit=1)[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.M))


def test_the_readme_is_short():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_its_sections_come_in_a_newcomers_order():
    headings = re.findall(r"^## (.+)$", README.read_text(encoding="utf-8"), flags=re.M)
    assert headings == ["Install", "Quick start", "Working on embedload", "Documentation"]


def test_every_command_in_it_exists_as_written():
    targets = _make_targets()
    problems = []
    commands = _commands()
    assert any(c.startswith("make ") for c in commands) and any("embedload " in c for c in commands)
    for command in commands:
        words = shlex.split(command.replace("$PWD", str(ROOT)))
        if words[0] == "make":
            missing = [w for w in words[1:] if "=" not in w and w not in targets]
            problems += [f"{command}: no make target {w}" for w in missing]
        elif words[0].endswith("bin/embedload"):
            sub = words[1]
            options = [w.split("=", 1)[0] for w in words[2:] if w.startswith("--")]
            out = subprocess.run([sys.executable, "-m", "embedload", sub, "--help"], capture_output=True, text=True,
                                 timeout=60)
            if out.returncode != 0:
                problems.append(f"{command}: `embedload {sub} --help` exits {out.returncode}")
            problems += [f"{command}: embedload {sub} has no option {o}" for o in options if o not in out.stdout]
        elif words[0] == "pip":
            assert "--extra-index-url" in words and any(w.startswith("embedload @ git+") for w in words), command
        else:
            script = ROOT / words[0]
            if not (script.is_file() and script.stat().st_mode & 0o111):
                problems.append(f"{command}: {words[0]} is not an executable file of this repository")
            else:
                help_text = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60).stdout
                problems += [f"{command}: {words[0]} has no option {w}" for w in words[1:]
                             if w.startswith("--") and w not in help_text]
    assert not problems, "\n".join(problems)


def test_its_links_point_at_files():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    missing = [link for link in links if not link.startswith("http") and not (ROOT / link).exists()]
    assert links and not missing, missing
