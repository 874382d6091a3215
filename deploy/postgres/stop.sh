#!/usr/bin/env bash
# Stop the local PostgreSQL; extra args (e.g. --port) go to the CLI.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PYTHONPATH="$root/shared${PYTHONPATH:+:$PYTHONPATH}"
exec "$root/.venv/bin/python" -m leadflow_tools postgres stop "$@"
