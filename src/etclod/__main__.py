"""Entry point for ``python -m etclod``."""

import sys

from etclod.cli import main

sys.exit(main())
