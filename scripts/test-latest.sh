#!/usr/bin/env bash
# Run the test suite against the newest release of every dependency, in a .venv-latest made
# afresh each time, after listing the versions that differ from constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv --clear .venv-latest
.venv-latest/bin/python -m pip install --quiet --upgrade pip
.venv-latest/bin/python -m pip install --quiet -e '.[test]'  # no -c: the newest releases
echo "newest releases that differ from constraints.txt:"
.venv-latest/bin/python -m pip freeze --exclude-editable | grep -vxF -f constraints.txt \
    | sed 's/^/  /' || echo "  none"
.venv-latest/bin/python -m pytest -n 2 "$@"
