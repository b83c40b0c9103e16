import sys

from embedload.commands.cli import main

sys.exit(main())
