-- The tutorial's weather workflow in SQL, step 2 (after starting Kafka):
-- the topic, its table and a first batch of simulated weather samples.
--
--   make kafka-up                      # or: docker compose up -d
--   sqlite3 weather.db < sql/weather.sql
--
-- Run from the repository root (it loads ./build/kafka). The table lives in
-- weather.db, for the later steps and for Datasette. Running this file again
-- adds another batch.
--
-- Every sql/ file names the tutorial's broker, localhost:29092, as the
-- tutorial's scripts do; for a broker elsewhere, run it with sql/run.sh:
--   BROKERS=HOST:PORT sql/run.sh weather.db sql/weather.sql
.bail on
.load ./build/kafka

-- The producer loop, the consumer and Datasette use weather.db at once. In
-- the default rollback-journal mode an INSERT into a kafka table fails with
-- "database is locked" while another process reads the file (its COMMIT
-- takes the file's lock); in WAL mode readers do not block it.
PRAGMA journal_mode = WAL;

-- The topic as a table: JSON values keyed by an ISO timestamp, the sample's
-- fields as typed columns. partitions = 3 creates the topic when it is
-- missing (at CREATE only); an existing topic is used as it is.
CREATE VIRTUAL TABLE IF NOT EXISTS weather USING kafka(
  brokers    = 'localhost:29092',
  topic      = 'kubertron.weather.inbound',
  partitions = 3,
  value      = 'json',
  columns    = 'location TEXT, temp_celsius INTEGER, wind_speed_mph INTEGER,
                wind_direction TEXT, humidity_percent INTEGER, pressure_mb INTEGER'
);

-- Simulated samples, an endless stream (take what you need with LIMIT):
-- plausible ranges, random per row. A recursive CTE, so that random() is
-- evaluated anew for every row (a plain view of random() is computed once
-- per statement) and so that it needs no extension.
CREATE VIEW IF NOT EXISTS weather_samples AS
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
SELECT i AS n,
       json_extract('["Amsterdam","Berlin","Dublin","Lisbon","London",' ||
                    '"Madrid","Oslo","Paris","Prague","Vienna"]',
                    '$[' || (abs(random()) % 10) || ']') AS location,
       abs(random()) % 46 - 10  AS temp_celsius,      -- -10 .. 35
       abs(random()) % 41       AS wind_speed_mph,    -- 0 .. 40
       json_extract('["N","NE","E","SE","S","SW","W","NW"]',
                    '$[' || (abs(random()) % 8) || ']') AS wind_direction,
       abs(random()) % 71 + 30  AS humidity_percent,  -- 30 .. 100
       abs(random()) % 81 + 970 AS pressure_mb        -- 970 .. 1050
FROM n;

-- The one-shot batch: the last minute, one sample a second, each keyed by
-- its ISO timestamp (UTC) with the same time as the message's timestamp.
-- One statement: it returns when Kafka has acknowledged every message.
INSERT INTO weather(key, timestamp, location, temp_celsius, wind_speed_mph,
                    wind_direction, humidity_percent, pressure_mb)
SELECT strftime('%Y-%m-%dT%H:%M:%SZ', t, 'unixepoch'), t * 1000,
       location, temp_celsius, wind_speed_mph, wind_direction,
       humidity_percent, pressure_mb
FROM (SELECT unixepoch('now') - 60 + n AS t, * FROM weather_samples LIMIT 60);

SELECT printf('%d samples in %s', count(*), 'kubertron.weather.inbound') FROM weather;
