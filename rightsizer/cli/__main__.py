"""`python -m rightsizer.cli`: the same as the `rightsizer` command."""

from rightsizer.cli import run

run()
