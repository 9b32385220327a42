"""``python -m lavad``: the ``lavad`` command."""

import sys

from lavad.cli import main

sys.exit(main())
