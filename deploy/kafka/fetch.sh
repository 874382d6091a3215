#!/usr/bin/env bash
# Download the Kafka broker jars (plus a log4j2 binding) into deploy/kafka/lib.
# Idempotent: does nothing when the broker jar is already there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lib="$here/lib"

if compgen -G "$lib/kafka_2.13-*.jar" >/dev/null; then
  exit 0
fi

mkdir -p "$lib"
mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="$lib" -DincludeScope=runtime
