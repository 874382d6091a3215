#!/usr/bin/env bash
# Start the local single-node Kafka broker (default 127.0.0.1:9092); extra args go to the CLI.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PYTHONPATH="$root/shared${PYTHONPATH:+:$PYTHONPATH}"
exec "$root/.venv/bin/python" -m leadflow_tools kafka start "$@"
