#!/usr/bin/env bash
# Install rightsizer with its test dependencies (the tested versions of constraints.txt) into
# .venv and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e '.[test]'
.venv/bin/ruff check rightsizer tests bench notebooks
.venv/bin/mypy  # rightsizer and bench/: a benchmark no test runs still type-checks
.venv/bin/python -m pytest -n 2 "$@"
