"""``python -m benchmarks``: see the package docstring."""

import sys

from benchmarks._cli import main

sys.exit(main())
