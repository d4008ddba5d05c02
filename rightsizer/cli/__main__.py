"""`python -m rightsizer.cli`: the same as the `rightsizer` command."""

import sys

from rightsizer.cli import main

sys.exit(main())
