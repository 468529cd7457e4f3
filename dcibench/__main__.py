"""``python -m dcibench``: see :mod:`dcibench.cli`."""

import sys

from dcibench.cli import main

sys.exit(main())
