#!/usr/bin/env bash
# Lint, type-check and run the test suite: `bash scripts/test.sh [pytest args]`.
# Tests that need Mosquitto (127.0.0.1:1883) or PostgreSQL (127.0.0.1:5432) skip when the
# service is missing, and fail instead when CI=true.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/venv.sh
echo "== ruff check"; .venv/bin/ruff check .
echo "== ruff format --check"; .venv/bin/ruff format --check .
echo "== mypy (controller/)"; .venv/bin/mypy
echo "== pytest"; exec .venv/bin/pytest "$@"
