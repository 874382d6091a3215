#!/usr/bin/env bash
# Installs what `make run` and `make test` need on a fresh machine, idempotently:
# system packages (Python venv, Java, Maven) when missing, the project's virtualenv with
# pinned versions, and the Apache Kafka jars.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
python3 -c "import venv, ensurepip" 2>/dev/null || need_apt+=(python3-venv)
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
  else sudo apt-get update -qq && sudo apt-get install -y -qq "${need_apt[@]}"; fi
fi

stamp=.venv/.installed
inputs=(constraints.txt requirements-dev.txt shared/pyproject.toml tools/pyproject.toml services/*/pyproject.toml)
if [ ! -f "$stamp" ] || [ -n "$(find "${inputs[@]}" -newer "$stamp" 2>/dev/null)" ]; then
  echo "setup: installing Python packages into .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c constraints.txt -r requirements-dev.txt \
    -e shared -e tools -e services/intake -e services/assignment -e services/sequence -e services/referral
  touch "$stamp"
fi

bash deploy/kafka/fetch.sh
