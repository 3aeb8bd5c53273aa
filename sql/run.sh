#!/bin/sh
# Runs a script of sql/ on your own broker and registry, without editing it.
#
#   [BROKERS=HOST:PORT] [REGISTRY=URL] sql/run.sh DB SCRIPT
#
#   BROKERS=kafka1:9092 sql/run.sh weather.db sql/weather.sql
#   BROKERS=mock sql/run.sh weather.db sql/weather.sql   # the in-process mock cluster
#   REGISTRY=http://registry:8081 sql/run.sh weather.db sql/weather-avro.sql
#
# The scripts name the tutorial's addresses, 'localhost:29092' and
# 'http://localhost:8081/apis/ccompat/v7', and load ./build/kafka, so that
# `sqlite3 DB < SCRIPT` runs them as they are from the repository root. This
# runs `sqlite3 DB` on the script with those replaced by BROKERS and
# REGISTRY (as SQL string literals) and by KAFKA_EXT (default: the
# build/kafka of this checkout, so it runs from any directory; the Debian
# package's is /usr/lib/sqlite3/kafka). SQLITE3 names another sqlite3.
set -eu

usage() {
  echo "usage: [BROKERS=HOST:PORT] [REGISTRY=URL] [KAFKA_EXT=PATH] sql/run.sh DB SCRIPT" >&2
  exit 2
}
[ $# -eq 2 ] || usage
db=$1
script=$2
[ -f "$script" ] || { echo "sql/run.sh: no script $script" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)

# 'value' with its quotes doubled: an SQL string literal.
sql_literal() {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"
}

# A sed replacement (delimiter |) that stands for the text as it is.
sed_text() {
  printf '%s' "$1" | sed 's/[\\&|]/\\&/g'
}

brokers=$(sed_text "$(sql_literal "${BROKERS:-localhost:29092}")")
registry=$(sed_text "$(sql_literal "${REGISTRY:-http://localhost:8081/apis/ccompat/v7}")")
ext=$(sed_text "${KAFKA_EXT:-$root/build/kafka}")
sed -e "s|'localhost:29092'|$brokers|g" \
    -e "s|'http://localhost:8081/apis/ccompat/v7'|$registry|g" \
    -e "s|^\.load \./build/kafka\$|.load '$ext'|" "$script" |
  "${SQLITE3:-sqlite3}" "$db"
