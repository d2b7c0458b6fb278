"""``python -m hiveframe.cli``."""

import sys

from hiveframe.cli import main

sys.exit(main())
