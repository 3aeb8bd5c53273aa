#!/bin/sh
# The tutorial's producer, paced: one simulated weather sample a second,
# keyed by its ISO timestamp, until Ctrl-C (or COUNT samples).
#
#   sql/weather-producer.sh [DB [COUNT]]     DB: weather.db (sql/weather.sql made it)
#
# SQL has no sleep and a recursive CTE is not paced, so the pacing is the
# shell's: this loop writes one INSERT a second into ONE sqlite3 process,
# which runs each statement as its line arrives. So one Kafka producer stays
# open, and each INSERT (autocommit) returns only once Kafka acknowledged
# the sample; each prints the sample it sent. Run from the repository root
# (it loads ./build/kafka); SQLITE3 names another sqlite3 binary.
set -eu
db=${1:-weather.db}
count=${2:-0}   # 0: forever
[ -f "$db" ] || { echo "weather-producer.sh: no $db: run sqlite3 $db < sql/weather.sql first" >&2; exit 1; }

i=0
{
  echo ".bail on"
  echo ".load ./build/kafka"
  while [ "$count" -eq 0 ] || [ "$i" -lt "$count" ]; do
    [ "$i" -eq 0 ] || sleep 1
    cat <<'SQL'
CREATE TEMP TABLE sample AS
  SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now') AS key, json_object(
           'location', location, 'temp_celsius', temp_celsius,
           'wind_speed_mph', wind_speed_mph, 'wind_direction', wind_direction,
           'humidity_percent', humidity_percent, 'pressure_mb', pressure_mb) AS value
  FROM weather_samples LIMIT 1;
INSERT INTO weather(key, value) SELECT key, value FROM sample;
SELECT 'produced ' || key || ' ' || value FROM sample;
DROP TABLE sample;
SQL
    i=$((i + 1))
  done
} | "${SQLITE3:-sqlite3}" "$db"
