#!/usr/bin/env bash
# Start and stop a REAL Apache Kafka broker (KRaft, broker+controller in one
# JVM per node) on 127.0.0.1 for the tests. No Docker: the jars come from
# Maven once, into a cache outside the repo.
#
# Usage: tests/broker/kafka.sh COMMAND
#   up                 start the node(s) unless running; wait until they answer
#   down [--clean]     stop every node of this port (by saved PID); --clean
#                      also deletes the data
#   status             exit 0 iff every node is running and answering
#   log [I]            print the path of node I's log file (default 1)
#   fetch              only download the jars
#   run-class CLASS ARGS...   run a Java class with the Kafka classpath
#   down-node I / up-node I   stop / start node I of a running cluster
#
# Environment:
#   KAFKA_VERSION  default 3.9.2 (4.x works too, e.g. 4.1.1)
#   KAFKA_PORT     default 29092
#   KAFKA_NODES    1 (default) or 3: a 3-node cluster, each node broker+controller
#   KAFKA_SASL     1 adds a SASL_PLAINTEXT listener (PLAIN users alice/alice-secret,
#                  bob/bob-secret, admin/admin-secret)
#   KAFKA_TLS      1 adds an SSL listener that requires client certificates;
#                  a CA and PEM certificates are made by openssl at up into
#                  STATE/tls/: ca.pem, client.pem + client.key (signed by
#                  the CA), other-ca.pem (a CA the broker does not know)
#   KAFKA_AUTHORIZER  1 turns on Kafka's StandardAuthorizer (ACLs) with
#                  super users User:ANONYMOUS (the PLAINTEXT listener the
#                  harness uses), User:admin and the TLS client certificate
#                  (User:CN=sqlite-kafka-client); everyone else needs ACLs
#   KAFKA_CACHE    default ${XDG_CACHE_HOME:-$HOME/.cache}/sqlite-kafka
#   JAVA           default /usr/bin/java (Java 17)
#
# Ports of node I (1..N): PLAINTEXT PORT+I-1, SASL_PLAINTEXT PORT+50+I-1,
# SSL PORT+60+I-1, CONTROLLER PORT+100+I-1. State (config, data, pid, log) lives in
# build/kafka-$KAFKA_PORT/nodeI/ in the repo.
#
# Console tools through run-class (the aliases console-producer,
# console-consumer and acl-command pick the right class for the version):
#   3.9.x producer: kafka.tools.ConsoleProducer
#   4.x   producer: org.apache.kafka.tools.ConsoleProducer
#   both  consumer: org.apache.kafka.tools.consumer.ConsoleConsumer
# e.g.  echo hi | tests/broker/kafka.sh run-class console-producer \
#           --bootstrap-server 127.0.0.1:29092 --topic t
#       tests/broker/kafka.sh run-class console-consumer \
#           --bootstrap-server 127.0.0.1:29092 --topic t --from-beginning \
#           --max-messages 1
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VERSION=${KAFKA_VERSION:-3.9.2}
PORT=${KAFKA_PORT:-29092}
NODES=${KAFKA_NODES:-1}
SASL=${KAFKA_SASL:-0}
TLS=${KAFKA_TLS:-0}
AUTHORIZER=${KAFKA_AUTHORIZER:-0}
CACHE=${KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sqlite-kafka}
JAVA=${JAVA:-/usr/bin/java}
STATE=$ROOT/build/kafka-$PORT
READY_TIMEOUT=90   # seconds for a node to answer after start
STOP_TIMEOUT=30    # seconds for a clean shutdown before SIGKILL
REUSE_CONFIG=0     # 1: start nodes with the config they already have

die() { echo "kafka.sh: $*" >&2; exit 1; }
say() { echo "kafka.sh: $*" >&2; }

libs() { echo "$CACHE/kafka-$VERSION/libs"; }
node_dir() { echo "$STATE/node$1"; }
node_port() { echo $((PORT + $1 - 1)); }
sasl_port() { echo $((PORT + 50 + $1 - 1)); }
tls_port() { echo $((PORT + 60 + $1 - 1)); }
ctrl_port() { echo $((PORT + 100 + $1 - 1)); }
major() { echo "${VERSION%%.*}"; }

# Write a file atomically so that a concurrent reader never sees half of it.
put_file() {
  local tmp="$1.tmp.$$"
  cat >"$tmp"
  mv -f "$tmp" "$1"
}

# ---------------------------------------------------------------- fetch --

# The logging binding differs: Kafka 3.x ships reload4j, 4.x log4j2 over
# slf4j 1.7 (log4j-core comes in through Kafka's own dependencies).
log_binding_deps() {
  if [ "$(major)" -lt 4 ]; then
    dep org.slf4j slf4j-reload4j 1.7.36
  else
    dep org.apache.logging.log4j log4j-slf4j-impl 2.24.3
  fi
}

dep() {
  echo "    <dependency><groupId>$1</groupId><artifactId>$2</artifactId><version>$3</version></dependency>"
}

write_pom() {
  cat <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.sqlite-kafka</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
$(dep org.apache.kafka kafka_2.13 "$VERSION")
$(dep org.apache.kafka kafka-tools "$VERSION")
$(log_binding_deps)
  </dependencies>
</project>
EOF
}

# Remove temp dirs of fetches whose process is gone (killed mid-download).
clean_stale_fetches() {
  local d pid
  for d in "$CACHE"/.kafka-"$VERSION".tmp.*; do
    [ -d "$d" ] || continue
    pid=${d##*.}
    kill -0 "$pid" 2>/dev/null || rm -rf "$d"
  done
}

# Download into a temp dir and rename it into place: a killed fetch never
# leaves a half-filled cache behind.
fetch() {
  [ -d "$(libs)" ] && return 0
  command -v mvn >/dev/null || die "mvn not found (run tests/deps.sh)"
  mkdir -p "$CACHE"
  clean_stale_fetches
  local tmp="$CACHE/.kafka-$VERSION.tmp.$$" t0=$SECONDS
  rm -rf "$tmp"
  mkdir -p "$tmp"
  write_pom >"$tmp/pom.xml"
  say "fetching Kafka $VERSION jars with Maven into $CACHE"
  # Output goes to a file (Debian's mvn prints colour codes even with -B)
  # and is shown only when something went wrong.
  if ! (cd "$tmp" && mvn -B -q -f pom.xml dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$tmp/libs" \
        </dev/null >"$tmp/mvn.log" 2>&1); then
    sed 's/\x1b\[[0-9;]*m//g' "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "could not fetch Kafka $VERSION (does this version exist?)"
  fi
  # Another fetch may have won the race; then ours is redundant.
  mv -T "$tmp" "$CACHE/kafka-$VERSION" 2>/dev/null || rm -rf "$tmp"
  say "fetched $(find "$(libs)" -name '*.jar' | wc -l) jars in $((SECONDS - t0)) s"
}

# ------------------------------------------------------------ logging ----

# One logging setup in both configs (each Kafka major reads only its own):
# $1 file prefix ("" or "tools-"), $2 stream (out|err), $3 root level, then
# loggers quieted to WARN.
write_log_config() {
  local prefix=$1 stream=$2 level=$3 logger
  shift 3
  {
    echo "log4j.rootLogger=$level, $stream"
    echo "log4j.appender.$stream=org.apache.log4j.ConsoleAppender"
    echo "log4j.appender.$stream.Target=System.$stream"
    echo "log4j.appender.$stream.layout=org.apache.log4j.PatternLayout"
    echo "log4j.appender.$stream.layout.ConversionPattern=[%d] %p %m (%c)%n"
    for logger in "$@"; do echo "log4j.logger.$logger=WARN"; done
  } | put_file "$STATE/${prefix}log4j.properties"
  {
    echo '<Configuration status="warn">'
    echo "  <Appenders><Console name=\"$stream\" target=\"SYSTEM_${stream^^}\">"
    echo '    <PatternLayout pattern="[%d] %p %m (%c)%n"/></Console></Appenders>'
    echo '  <Loggers>'
    for logger in "$@"; do echo "    <Logger name=\"$logger\" level=\"warn\"/>"; done
    echo "    <Root level=\"${level,,}\"><AppenderRef ref=\"$stream\"/></Root>"
    echo '  </Loggers>'
    echo '</Configuration>'
  } | put_file "$STATE/${prefix}log4j2.xml"
}

# Broker log: everything at INFO to stdout, which nohup sends to the log file.
# Console tools: warnings only, to stderr, so their stdout stays data.
write_log_configs() {
  mkdir -p "$STATE"
  write_log_config "" out INFO state.change.logger kafka.request.logger
  write_log_config tools- err WARN
}

# Run a class on the Kafka classpath; $1 is the log config prefix.
java_run() {
  local logs=$1
  shift
  "$JAVA" -cp "$(libs)/*" \
    -Dlog4j.configuration="file:$STATE/$logs-log4j.properties" \
    -Dlog4j2.configurationFile="$STATE/$logs-log4j2.xml" \
    -Djava.awt.headless=true "$@"
}

# ------------------------------------------------------------- config ----

voters() {
  local i out=""
  for ((i = 1; i <= NODES; i++)); do
    out+="${out:+,}$i@127.0.0.1:$(ctrl_port "$i")"
  done
  echo "$out"
}

sasl_config() {
  [ "$SASL" = 1 ] || return 0
  cat <<EOF
sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret" user_alice="alice-secret" user_bob="bob-secret" user_admin="admin-secret";
EOF
}

# ---------------------------------------------------------------- TLS ----

tls_dir() { echo "$STATE/tls"; }

# One certificate signed by the test CA: $1 name, $2 subject, $3 extensions.
sign_cert() {
  local d
  d=$(tls_dir)
  openssl req -newkey rsa:2048 -nodes -keyout "$d/$1.key" -out "$d/$1.csr" -subj "$2" 2>/dev/null
  openssl x509 -req -in "$d/$1.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
    -days 30 -out "$d/$1.pem" -extfile <(printf '%s\n' "$3") 2>/dev/null
  rm -f "$d/$1.csr"
}

# A CA, the broker's certificate (for 127.0.0.1 and localhost, as clients
# check the host name), a client certificate, and a second CA that signed
# nothing the broker trusts. Made once per state dir.
make_certs() {
  local d
  d=$(tls_dir)
  [ -s "$d/broker-keystore.pem" ] && return 0
  command -v openssl >/dev/null || die "openssl not found (run tests/deps.sh)"
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 30 \
    -subj "/CN=sqlite-kafka test CA" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/other-ca.key" -out "$d/other-ca.pem" \
    -days 30 -subj "/CN=sqlite-kafka other CA" 2>/dev/null
  sign_cert broker "/CN=localhost" "subjectAltName=IP:127.0.0.1,DNS:localhost"
  sign_cert client "/CN=sqlite-kafka-client" "extendedKeyUsage=clientAuth"
  # Kafka's PEM keystore: the (unencrypted PKCS#8) key, then the chain.
  cat "$d/broker.key" "$d/broker.pem" "$d/ca.pem" | put_file "$d/broker-keystore.pem"
}

tls_config() {
  [ "$TLS" = 1 ] || return 0
  local d
  d=$(tls_dir)
  cat <<EOF
ssl.keystore.type=PEM
ssl.keystore.location=$d/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$d/ca.pem
ssl.client.auth=required
EOF
}

authorizer_config() {
  [ "$AUTHORIZER" = 1 ] || return 0
  cat <<EOF
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS;User:admin;User:CN=sqlite-kafka-client
allow.everyone.if.no.acl.found=false
EOF
}

# Single-node-friendly settings: internal topics need only as many replicas
# as there are nodes, and nothing waits for more members to join.
write_server_config() {
  local i=$1 dir listeners adv
  dir=$(node_dir "$i")
  listeners="PLAINTEXT://127.0.0.1:$(node_port "$i"),CONTROLLER://127.0.0.1:$(ctrl_port "$i")"
  adv="PLAINTEXT://127.0.0.1:$(node_port "$i")"
  if [ "$SASL" = 1 ]; then
    listeners+=",SASL_PLAINTEXT://127.0.0.1:$(sasl_port "$i")"
    adv+=",SASL_PLAINTEXT://127.0.0.1:$(sasl_port "$i")"
  fi
  if [ "$TLS" = 1 ]; then
    listeners+=",SSL://127.0.0.1:$(tls_port "$i")"
    adv+=",SSL://127.0.0.1:$(tls_port "$i")"
  fi
  local isr=$((NODES > 1 ? 2 : 1))
  put_file "$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$(voters)
listeners=$listeners
advertised.listeners=$adv
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=false
default.replication.factor=$NODES
offsets.topic.replication.factor=$NODES
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=$NODES
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=$NODES
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
# Tests write messages with historical CreateTimes (2020, 2023): time-based
# retention would delete them at its next check (every 5 minutes), in the
# middle of a test that reads them back.
log.retention.ms=-1
num.network.threads=2
num.io.threads=4
log.flush.interval.messages=9223372036854775807
$(sasl_config)
$(tls_config)
$(authorizer_config)
EOF
}

# ------------------------------------------------------------ layout -----

# The data of one version / node count is not reused by another: the
# layout file records what formatted it, and a change wipes the data.
layout() { echo "version=$VERSION nodes=$NODES"; }

saved_layout() { cat "$STATE/layout" 2>/dev/null || true; }

# up-node and friends act on the cluster as it was started.
load_layout() {
  local l
  l=$(saved_layout)
  [ -n "$l" ] || die "no cluster at port $PORT (run up first)"
  VERSION=$(sed -n 's/.*version=\([^ ]*\).*/\1/p' <<<"$l")
  NODES=$(sed -n 's/.*nodes=\([0-9]*\).*/\1/p' <<<"$l")
}

# Node numbers that have state, whatever KAFKA_NODES says now.
existing_nodes() {
  local d
  for d in "$STATE"/node*; do
    [ -d "$d" ] && echo "${d##*/node}"
  done
  return 0
}

cluster_id() {
  if [ ! -s "$STATE/cluster.id" ]; then
    # A Kafka Uuid: 16 random bytes, base64url without padding; a leading
    # '-' would read as an option to StorageTool, so it becomes an 'A'.
    head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' |
      sed 's/^[-_]/A/' | put_file "$STATE/cluster.id"
  fi
  cat "$STATE/cluster.id"
}

prepare_layout() {
  local saved
  saved=$(saved_layout)
  [ "$saved" = "$(layout)" ] && return 0
  local i
  for i in $(existing_nodes); do
    [ -z "$(node_pid "$i")" ] ||
      die "node $i runs with other settings ($saved); run down first"
  done
  [ -z "$saved" ] || say "settings changed ($saved -> $(layout)): wiping data"
  rm -rf "$STATE"/node* "$STATE/cluster.id"
  mkdir -p "$STATE"
  layout | put_file "$STATE/layout"
}

# ------------------------------------------------------------ process ----

# PID of node I if its saved process is alive and really is that node's
# JVM (a recycled PID must never be killed).
node_pid() {
  local dir pid
  dir=$(node_dir "$1")
  pid=$(cat "$dir/kafka.pid" 2>/dev/null) || return 0
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/server.properties"; then
    echo "$pid"
  fi
}

# A node answers when its metadata lists itself, i.e. it is unfenced.
answers() {
  local json
  json=$(kcat -b "127.0.0.1:$(node_port "$1")" -L -J -t __nonexistent -m 3 \
    2>/dev/null) || return 1
  grep -q "\"id\":$1," <<<"$json"
}

format_node() {
  local i=$1 dir
  dir=$(node_dir "$i")
  [ -f "$dir/data/meta.properties" ] && return 0
  java_run tools kafka.tools.StorageTool format --ignore-formatted \
    -t "$(cluster_id)" -c "$dir/server.properties" >"$dir/format.log" 2>&1 ||
    { cat "$dir/format.log" >&2; die "formatting node $i failed"; }
}

# setsid: the broker outlives the shell that started it and is not hit by
# a Ctrl-C meant for a test run.
start_node() {
  local i=$1 dir
  dir=$(node_dir "$i")
  # One log per start, so that a failure report shows this start only.
  [ ! -f "$dir/kafka.log" ] || mv -f "$dir/kafka.log" "$dir/kafka.log.1"
  nohup setsid "$JAVA" -Xmx512m -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$STATE/log4j.properties" \
    -Dlog4j2.configurationFile="$STATE/log4j2.xml" \
    -Dkafka.logs.dir="$dir" -cp "$(libs)/*" \
    kafka.Kafka "$dir/server.properties" </dev/null >"$dir/kafka.log" 2>&1 9>&- &
  echo $! | put_file "$dir/kafka.pid"
}

show_log_tail() {
  local f
  f="$(node_dir "$1")/kafka.log"
  say "last 50 lines of $f:"
  tail -n 50 "$f" >&2 2>/dev/null || true
  # The cause is often far above the shutdown noise at the end.
  if grep -qE '^\[[^]]*\] (ERROR|FATAL)' "$f" 2>/dev/null; then
    say "first errors in $f:"
    grep -m 5 -E '^\[[^]]*\] (ERROR|FATAL)' "$f" | cut -c1-400 >&2
  fi
}

# Wait until every given node answers; fail early when one JVM died.
wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) i pending
  while :; do
    pending=""
    for i in "$@"; do
      [ -n "$(node_pid "$i")" ] || { say "node $i exited"; show_log_tail "$i"; return 1; }
      answers "$i" || pending+=" $i"
    done
    [ -z "$pending" ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      say "node(s)$pending did not answer within $READY_TIMEOUT s"
      for i in $pending; do show_log_tail "$i"; done
      return 1
    fi
    sleep 1
  done
}

# Send SIGTERM to all nodes first: a cluster stopped one by one would leave
# the last node waiting for a controller quorum that is already gone.
stop_nodes() {
  local i pid pids=() deadline=$((SECONDS + STOP_TIMEOUT))
  for i in "$@"; do
    pid=$(node_pid "$i")
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$(node_dir "$i")/kafka.pid"
  done
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "pid $pid ignored SIGTERM for $STOP_TIMEOUT s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

# ----------------------------------------------------------- commands ----

start_nodes() {
  local i started=()
  write_log_configs
  for i in "$@"; do
    [ -n "$(node_pid "$i")" ] && continue
    mkdir -p "$(node_dir "$i")"
    # up-node restarts a node as the cluster was started (KAFKA_SASL of
    # this call may differ), so it keeps an existing config.
    if [ "$REUSE_CONFIG" = 0 ] || [ ! -f "$(node_dir "$i")/server.properties" ]; then
      [ "$TLS" = 0 ] || make_certs
      write_server_config "$i"
    fi
    format_node "$i"
    start_node "$i"
    started+=("$i")
  done
  [ ${#started[@]} -eq 0 ] || say "started node(s) ${started[*]} (Kafka $VERSION)"
  if ! wait_ready "$@"; then
    [ ${#started[@]} -eq 0 ] || stop_nodes "${started[@]}"
    exit 1
  fi
}

all_nodes() { seq 1 "$NODES"; }

cmd_up() {
  case $NODES in 1 | 3) ;; *) die "KAFKA_NODES must be 1 or 3" ;; esac
  command -v kcat >/dev/null || die "kcat not found (run tests/deps.sh)"
  [ -x "$JAVA" ] || die "no Java at $JAVA (run tests/deps.sh)"
  local t0=$SECONDS
  fetch
  prepare_layout
  # shellcheck disable=SC2046  # node numbers are plain words
  start_nodes $(all_nodes)
  say "up: 127.0.0.1:$PORT (nodes=$NODES sasl=$SASL tls=$TLS authorizer=$AUTHORIZER) in $((SECONDS - t0)) s"
}

cmd_down() {
  local nodes
  nodes=$(existing_nodes)
  # shellcheck disable=SC2086  # node numbers are plain words
  [ -z "$nodes" ] || stop_nodes $nodes
  if [ "${1:-}" = --clean ]; then
    rm -rf "$STATE"
    say "down, data removed"
  else
    say "down"
  fi
}

cmd_status() {
  local i pid rc=0 nodes
  nodes=$(existing_nodes)
  [ -n "$nodes" ] || { echo "not running (no state at $STATE)"; return 1; }
  for i in $nodes; do
    pid=$(node_pid "$i")
    if [ -z "$pid" ]; then
      echo "node $i: not running"; rc=1
    elif answers "$i"; then
      echo "node $i: running (pid $pid), answering on 127.0.0.1:$(node_port "$i")"
    else
      echo "node $i: running (pid $pid), NOT answering"; rc=1
    fi
  done
  return $rc
}

node_arg() {
  if ! [[ ${1:-} =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ] || [ "$1" -gt "$NODES" ]; then
    die "node number 1..$NODES expected, got '${1:-}'"
  fi
}

cmd_up_node() {
  load_layout
  node_arg "${1:-}"
  fetch
  REUSE_CONFIG=1
  start_nodes "$1"
}

cmd_down_node() {
  load_layout
  node_arg "${1:-}"
  stop_nodes "$1"
  say "node $1 down"
}

# Tool aliases: the console producer and AclCommand moved packages in
# Kafka 4.0.
tool_class() {
  case $1 in
    console-producer)
      if [ "$(major)" -lt 4 ]; then echo kafka.tools.ConsoleProducer
      else echo org.apache.kafka.tools.ConsoleProducer; fi ;;
    console-consumer) echo org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    acl-command)
      if [ "$(major)" -lt 4 ]; then echo kafka.admin.AclCommand
      else echo org.apache.kafka.tools.AclCommand; fi ;;
    *) echo "$1" ;;
  esac
}

cmd_run_class() {
  [ $# -ge 1 ] || die "usage: run-class CLASS ARGS..."
  local cls
  cls=$(tool_class "$1")
  shift
  fetch
  write_log_configs
  java_run tools -Xmx512m "$cls" "$@"
}

# Commands that start or stop nodes hold a lock, so that two at once (e.g.
# parallel make targets) cannot both start the same node.
lock_state() {
  mkdir -p "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 300 9 || die "another kafka.sh holds $STATE/.lock"
}

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in up | down | up-node | down-node) lock_state ;; esac
  case $cmd in
    up) cmd_up ;;
    down) cmd_down "$@" ;;
    status) cmd_status ;;
    log) echo "$(node_dir "${1:-1}")/kafka.log" ;;
    fetch) fetch ;;
    run-class) cmd_run_class "$@" ;;
    up-node) cmd_up_node "$@" ;;
    down-node) cmd_down_node "$@" ;;
    *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
       exit 2 ;;
  esac
}

main "$@"
