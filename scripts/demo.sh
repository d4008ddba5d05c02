#!/usr/bin/env bash
# Install rightsizer (the tested versions of constraints.txt) into .venv and run the main job on
# the embedded demo data set.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -c constraints.txt -e .
exec .venv/bin/rightsizer demo "$@"
