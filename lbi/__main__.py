"""``python -m lbi predict|bench``: see :mod:`lbi.cli`."""

import sys

from .cli import main

sys.exit(main())
