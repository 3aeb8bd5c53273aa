#!/usr/bin/env bash
# `make test`: installs what is missing, starts the real Kafka broker and the
# Schema Registry unless they already answer on KAFKA_PORT / REGISTRY_PORT
# (and stops only what it started), then
# runs every test. The runner's 'N passed, N failed, N skipped' stays the
# last line: the broker's stop is logged to a file.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The sanitizer runtimes that `make test SANITIZE=1` preloads are for the
# extension's hosts (the test runner and what it starts) only: the services
# and their checks run without them (Apicurio's start, and curl in its status
# check, hung under them).
sanitizer_preload=${LD_PRELOAD-}
unset LD_PRELOAD
bash tests/deps.sh
broker=tests/broker/kafka.sh
# The SASL/PLAIN listener (PORT+50) is needed by tests/test_security.py.
export KAFKA_SASL=${KAFKA_SASL:-1}
registry=tests/registry/apicurio.sh
started=0
registry_started=0
stop_services() {
  mkdir -p build
  if [ "$started" = 1 ]; then
    bash "$broker" down >build/broker-stop.log 2>&1 || cat build/broker-stop.log >&2
  fi
  if [ "$registry_started" = 1 ]; then
    bash "$registry" down >build/registry-stop.log 2>&1 || cat build/registry-stop.log >&2
  fi
}
trap stop_services EXIT
if ! bash "$broker" status >/dev/null 2>&1; then
  bash "$broker" up
  started=1
fi
# The Schema Registry (REGISTRY_PORT) for the avro and jsonschema tests.
if ! bash "$registry" status >/dev/null 2>&1; then
  bash "$registry" up
  registry_started=1
fi
# Real-broker tests are never skipped here: a missing broker is a failure.
LD_PRELOAD=$sanitizer_preload KAFKA_REQUIRED=1 build/venv/bin/python tests/run.py "$@"
