"""``python -m lbi predict|video|bench``: see :mod:`lbi.cli`."""

import sys

from .cli import main

sys.exit(main())
