#!/usr/bin/env python
"""CI gate over asv results: ``embedload gate`` as a script. See ``--help``.

Exit 0 within target and nothing regressed, 1 a target missed or a regression, 2 cannot judge.
"""

import sys
from pathlib import Path

try:
    from embedload.commands.cli import main
except ImportError:  # running from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from embedload.commands.cli import main

if __name__ == "__main__":
    sys.exit(main(["gate", *sys.argv[1:]]))
