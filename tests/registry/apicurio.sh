#!/usr/bin/env bash
# Start and stop a REAL Schema Registry for the tests: Apicurio Registry
# 2.6.13.Final (Java 17, in-memory storage) on 127.0.0.1, with its
# Confluent-compatible API at /apis/ccompat/v7. No Docker: the app comes from
# Maven once, into a cache outside the repo (like the Kafka jars).
#
# Usage: tests/registry/apicurio.sh COMMAND
#   up        start unless running; wait until it answers; set the global
#             compatibility to BACKWARD (Confluent's default; Apicurio's is none)
#   down      stop it (by saved PID)
#   status    exit 0 iff it is running and answering
#   url       print the Confluent API's base URL
#   fetch     only download the app
#
# Environment:
#   REGISTRY_PORT   default 8081
#   KAFKA_CACHE     default ${XDG_CACHE_HOME:-$HOME/.cache}/sqlite-kafka
#   JAVA            default /usr/bin/java (Java 17)
#   REGISTRY_TLS_DIR  unset: plain http. Set: a directory holding server.pem,
#                   server.key (PEM, the certificate for 127.0.0.1) and
#                   ca.pem (what signed it); the registry then serves https
#                   only, on REGISTRY_PORT (Quarkus reads the PEM files).
#
# State (pid, log) lives in build/registry-$REGISTRY_PORT/ in the repo.
# Storage is in memory: every start begins empty.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VERSION=2.6.13.Final
PORT=${REGISTRY_PORT:-8081}
CACHE=${KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sqlite-kafka}
JAVA=${JAVA:-/usr/bin/java}
STATE=$ROOT/build/registry-$PORT
APP=$CACHE/apicurio-registry-$VERSION
READY_TIMEOUT=90   # seconds to answer after start
STOP_TIMEOUT=20    # seconds for a clean shutdown before SIGKILL

die() { echo "apicurio.sh: $*" >&2; exit 1; }
say() { echo "apicurio.sh: $*" >&2; }

TLS=${REGISTRY_TLS_DIR:-}
base() { echo "http${TLS:+s}://127.0.0.1:$PORT"; }
# curl with the CA of a https registry.
registry_curl() { curl ${TLS:+--cacert "$TLS/ca.pem"} "$@"; }
ccompat() { echo "$(base)/apis/ccompat/v7"; }

# Download into a temp dir and rename it into place: a killed fetch never
# leaves a half-filled cache behind.
fetch() {
  [ -f "$APP/apicurio-registry-app-$VERSION-runner.jar" ] && return 0
  command -v mvn >/dev/null || die "mvn not found (run tests/deps.sh)"
  command -v unzip >/dev/null || die "unzip not found (run tests/deps.sh)"
  mkdir -p "$CACHE"
  local tmp="$CACHE/.apicurio-$VERSION.tmp.$$" t0=$SECONDS
  rm -rf "$tmp"
  mkdir -p "$tmp"
  say "fetching Apicurio Registry $VERSION with Maven into $CACHE"
  if ! mvn -B -q dependency:copy \
      -Dartifact="io.apicurio:apicurio-registry-app:$VERSION:zip:all" \
      -DoutputDirectory="$tmp" </dev/null >"$tmp/mvn.log" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "could not fetch Apicurio Registry $VERSION"
  fi
  (cd "$tmp" && unzip -q ./*.zip && rm -f ./*.zip mvn.log) || { rm -rf "$tmp"; die "unzip failed"; }
  mv -T "$tmp" "$APP" 2>/dev/null || rm -rf "$tmp"
  say "fetched in $((SECONDS - t0)) s"
}

# PID if the saved process is alive and really is this port's registry.
registry_pid() {
  local pid
  pid=$(cat "$STATE/registry.pid" 2>/dev/null) || return 0
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "quarkus.http.port=$PORT "; then
    echo "$pid"
  fi
}

answers() {
  registry_curl -sf -m 2 "$(ccompat)/subjects" >/dev/null 2>&1
}

start() {
  mkdir -p "$STATE"
  [ ! -f "$STATE/registry.log" ] || mv -f "$STATE/registry.log" "$STATE/registry.log.1"
  local tls=()
  [ -z "$TLS" ] || tls=(-Dquarkus.http.ssl-port="$PORT" -Dquarkus.http.insecure-requests=disabled
                        -Dquarkus.http.ssl.certificate.files="$TLS/server.pem"
                        -Dquarkus.http.ssl.certificate.key-files="$TLS/server.key")
  # setsid: it outlives the shell that started it and a Ctrl-C of a test run.
  # registry.ccompat.max-subjects: Apicurio's /subjects lists only the first
  # 1000 subjects by default (silently); the two test runs of CI register more.
  nohup setsid "$JAVA" -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$PORT" \
    -Dquarkus.log.level=WARN -Dregistry.auth.enabled=false \
    -Dregistry.ccompat.max-subjects=1000000 ${tls[@]+"${tls[@]}"} \
    -jar "$APP/apicurio-registry-app-$VERSION-runner.jar" \
    </dev/null >"$STATE/registry.log" 2>&1 9>&- &
  echo $! >"$STATE/registry.pid"
}

wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT))
  until answers; do
    if [ -z "$(registry_pid)" ]; then
      say "the registry exited; last lines of $STATE/registry.log:"
      tail -n 40 "$STATE/registry.log" >&2 || true
      return 1
    fi
    [ "$SECONDS" -lt "$deadline" ] || { say "no answer within $READY_TIMEOUT s"; return 1; }
    sleep 0.5
  done
}

# Confluent's default compatibility, which the schema evolution tests expect.
set_backward() {
  registry_curl -sf -m 5 -X PUT -H 'Content-Type: application/json' \
    -d '{"compatibility": "BACKWARD"}' "$(ccompat)/config" >/dev/null ||
    die "could not set the global compatibility to BACKWARD"
}

up() {
  fetch
  if [ -n "$(registry_pid)" ] && answers; then return 0; fi
  [ -z "$(registry_pid)" ] || die "a registry runs on port $PORT but does not answer (run down)"
  local t0=$SECONDS
  start
  wait_ready || die "the registry did not start"
  set_backward
  say "registry up at $(ccompat) in $((SECONDS - t0)) s"
}

down() {
  local pid deadline=$((SECONDS + STOP_TIMEOUT))
  pid=$(registry_pid)
  rm -f "$STATE/registry.pid"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid ignored SIGTERM for $STOP_TIMEOUT s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) [ -n "$(registry_pid)" ] && answers ;;
  url) ccompat ;;
  fetch) fetch ;;
  *) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
