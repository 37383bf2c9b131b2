"""``python -m thsources.cli``, as ``python -m thsources``."""

import sys

from .core import main

sys.exit(main())
