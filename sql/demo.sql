-- sqlite-kafka demo: `make demo` runs this in the sqlite3 shell.
-- It needs no broker: brokers = 'mock' is an in-process Kafka cluster
-- (librdkafka's mock cluster), ephemeral, gone when the shell exits.
.bail on
.load ./build/kafka
.mode box --wrap 100
.nullvalue NULL

.print '1. The extension, loaded:'
SELECT kafka_version() AS version;

-- A Kafka topic as a table: 3 partitions, JSON values, with typed columns
-- read from (and, on INSERT, composed into) each JSON value.
CREATE VIRTUAL TABLE weather USING kafka(
  brokers    = 'mock',
  topic      = 'kubertron.weather.inbound',
  partitions = 3,
  value      = 'json',
  columns    = 'location TEXT, temp_celsius INTEGER, wind_speed_mph INTEGER, humidity_percent INTEGER'
);

-- Produce 36 weather samples, keyed by an ISO timestamp. The statement
-- returns once every message is acknowledged by the cluster.
INSERT INTO weather(key, location, temp_celsius, wind_speed_mph, humidity_percent)
SELECT strftime('%Y-%m-%dT%H:%M:%SZ', '2026-01-01 06:00:00', '+' || (value * 10) || ' minutes'),
       json_extract('["Oslo","Lisbon","Nairobi","Denver","Osaka","Melbourne"]', '$[' || (value % 6) || ']'),
       (value * 7) % 30 - 2,
       (value * 11) % 40,
       40 + (value * 13) % 55
FROM generate_series(1, 36);

.print ''
.print '2. Messages per partition (the key decides the partition, as in the Java client):'
SELECT partition, count(*) AS messages, min(offset) AS first_offset, max(offset) AS last_offset
FROM weather GROUP BY partition;

.print ''
.print '3. The newest 5 messages, read from the partition tails only:'
SELECT partition, offset, key, value FROM weather ORDER BY offset DESC LIMIT 5;

.print ''
.print '4. Ad-hoc SQL over the JSON values:'
SELECT location, count(*) AS samples, round(avg(temp_celsius), 1) AS avg_temp_c,
       max(wind_speed_mph) AS max_wind_mph
FROM weather GROUP BY location ORDER BY avg_temp_c DESC;

.print ''
.print '5. Predicates on partition and offset are pushed down to Kafka:'
EXPLAIN QUERY PLAN
SELECT * FROM weather WHERE partition = 1 AND offset BETWEEN 2 AND 4;
SELECT partition, offset, key, location, temp_celsius
FROM weather WHERE partition = 1 AND offset BETWEEN 2 AND 4;

.print ''
.print '6. Headers, and a tombstone (a NULL value) on the same key:'
INSERT INTO weather(key, value, headers)
VALUES ('2026-01-01T12:00:00Z', NULL, '{"source": "demo", "reason": "retracted"}');
SELECT partition, offset, key, value, headers FROM weather
WHERE key = '2026-01-01T12:00:00Z';
