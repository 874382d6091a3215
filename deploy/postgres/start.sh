#!/usr/bin/env bash
# Start the local PostgreSQL (default 127.0.0.1:55432) and create the service
# databases; extra args (e.g. --port, --databases) go to the CLI.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PYTHONPATH="$root/shared${PYTHONPATH:+:$PYTHONPATH}"
exec "$root/.venv/bin/python" -m leadflow_tools postgres start "$@"
