-- Kafka to SQLite, exactly once: an append-only ingest of a topic.
--
--   sqlite3 events.db < sql/ingest-append.sql
--
-- The events table holds every message with its (partition, offset): that
-- is the position. Each run reads, per partition, only the offsets after
-- the largest one stored (the join below pushes `partition =` and
-- `offset >` down to Kafka: see EXPLAIN QUERY PLAN) and inserts at most
-- 20000 messages in one statement, so rows and position commit together in
-- SQLite's own transaction. A run killed at any point (kill -9 included)
-- leaves the table as the last completed run did; the next run continues
-- from there. No consumer group: nothing to commit outside SQLite. Run it
-- until it prints `inserted 0`.
.bail on
.load ./build/kafka

CREATE TABLE IF NOT EXISTS events(
  partition INTEGER NOT NULL,
  offset    INTEGER NOT NULL,
  timestamp INTEGER,
  key       TEXT,
  value     TEXT,
  PRIMARY KEY (partition, offset)
) WITHOUT ROWID;

CREATE VIRTUAL TABLE temp.source USING kafka(
  brokers = 'localhost:29092',
  topic   = 'events'
);

INSERT INTO events(partition, offset, timestamp, key, value)
SELECT s.partition, s.offset, s.timestamp, s.key, s.value
FROM kafka_partitions('localhost:29092', 'events') AS p
JOIN source AS s
  ON s.partition = p.partition
 AND s.offset > coalesce((SELECT max(e.offset) FROM events AS e WHERE e.partition = p.partition), -1)
LIMIT 20000;

SELECT 'inserted ' || changes();
