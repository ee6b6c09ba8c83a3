#!/usr/bin/env bash
# Run a whole simulated site: `bash scripts/demo.sh [--orders N] [--speedup X] ...`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/venv.sh
exec .venv/bin/warehouse demo "$@"
