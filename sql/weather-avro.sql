-- The tutorial's step 103 in SQL: the weather samples as Avro records with
-- their schema in a Schema Registry, produced, consumed as a group and
-- browsed with their decoded columns.
--
--   make kafka-up registry-up          # or: docker compose up -d
--   sqlite3 weather.db < sql/weather-avro.sql
--   datasette weather.db               # table weather_avro: decoded columns
--
-- Run from the repository root (it loads ./build/kafka). Running it again
-- adds another batch and consumes it. Broker and registry are the
-- tutorial's, localhost:29092 and localhost:8081 (Apicurio's Confluent API
-- under /apis/ccompat/v7; for Confluent's registry drop that path).
.bail on
.load ./build/kafka
PRAGMA journal_mode = WAL;

-- The topic as a table of Avro records. value_schema registers the schema
-- under the subject kubertron.weather.avro-value at CREATE, as a Confluent
-- serializer does on its first message; the table's typed columns are the
-- record's fields, learned from the registry at CREATE and kept in the
-- database (opening weather.db later does not need the registry).
CREATE VIRTUAL TABLE IF NOT EXISTS weather_avro USING kafka(
  brokers         = 'localhost:29092',
  topic           = 'kubertron.weather.avro',
  partitions      = 3,
  value           = 'avro',
  schema_registry = 'http://localhost:8081/apis/ccompat/v7',
  value_schema    = '{"type": "record", "name": "WeatherSample",
                      "namespace": "kubertron.weather",
                      "fields": [
                        {"name": "location",         "type": "string"},
                        {"name": "temp_celsius",     "type": "int"},
                        {"name": "wind_speed_mph",   "type": "int"},
                        {"name": "wind_direction",   "type": {"type": "enum",
                           "name": "Direction",
                           "symbols": ["N","NE","E","SE","S","SW","W","NW"]}},
                        {"name": "humidity_percent", "type": "int"},
                        {"name": "pressure_mb",      "type": "int"}]}'
);

-- One batch: the last minute, one sample a second, keyed by its ISO
-- timestamp. Each row is encoded with the registered schema and framed in
-- the Confluent wire format; a value that does not fit (say a direction
-- that is not in the enum) fails the statement naming the field.
INSERT INTO weather_avro(key, timestamp, location, temp_celsius, wind_speed_mph,
                         wind_direction, humidity_percent, pressure_mb)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 60)
SELECT strftime('%Y-%m-%dT%H:%M:%SZ', unixepoch('now') - 60 + i, 'unixepoch'),
       (unixepoch('now') - 60 + i) * 1000,
       json_extract('["Amsterdam","Berlin","Dublin","Lisbon","London",' ||
                    '"Madrid","Oslo","Paris","Prague","Vienna"]',
                    '$[' || (abs(random()) % 10) || ']'),
       abs(random()) % 46 - 10,
       abs(random()) % 41,
       json_extract('["N","NE","E","SE","S","SW","W","NW"]', '$[' || (abs(random()) % 8) || ']'),
       abs(random()) % 71 + 30,
       abs(random()) % 81 + 970
FROM n;

-- The consumer: a group that reads what it has not read yet; an aggregate
-- keeps its rows from the caller, so the group moves when kafka_commit says
-- (run the file again: only the new batch shows).
CREATE VIRTUAL TABLE temp.weather_avro_consumer USING kafka(
  brokers         = 'localhost:29092',
  topic           = 'kubertron.weather.avro',
  group           = 'met-consumer-group-avro',
  value           = 'avro',
  schema_registry = 'http://localhost:8081/apis/ccompat/v7'
);

.mode list
SELECT printf('consumed %d samples, schema ids %s', count(*), group_concat(DISTINCT schema_id))
FROM weather_avro_consumer;
SELECT printf('committed %d partition(s)', kafka_commit('weather_avro_consumer'));

-- Browsing: the decoded columns, as Datasette shows them.
.mode box
SELECT location, count(*) AS samples, round(avg(temp_celsius), 1) AS avg_temp,
       max(wind_speed_mph) AS max_wind
FROM weather_avro GROUP BY location ORDER BY location LIMIT 3;

-- What the tutorial's schema-registry UI shows.
SELECT subject, versions, latest_version, schema_type
FROM kafka_subjects('http://localhost:8081/apis/ccompat/v7')
WHERE subject = 'kubertron.weather.avro-value';
