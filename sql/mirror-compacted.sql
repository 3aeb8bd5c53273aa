-- Kafka to SQLite, exactly once: a compacted topic mirrored as a table.
--
--   sqlite3 mirror.db < sql/mirror-compacted.sql
--
-- The table `mirror` holds the latest value of every key: a message upserts
-- its key, a tombstone (NULL value) deletes it. The position, per partition
-- the offset of the last message applied, is kept in `mirror_position`, in
-- the same SQLite transaction as the rows: a run killed at any point
-- (kill -9 included) leaves both as the last completed run did, and the
-- next run continues after the position (`partition =` and `offset >` are
-- pushed down to Kafka). Run it until it prints `applied 0`.
.bail on
.load ./build/kafka

CREATE TABLE IF NOT EXISTS mirror(
  key       TEXT PRIMARY KEY,
  value     TEXT NOT NULL,
  partition INTEGER NOT NULL,
  offset    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mirror_position(
  partition INTEGER PRIMARY KEY,
  offset    INTEGER NOT NULL
);

CREATE VIRTUAL TABLE temp.source USING kafka(
  brokers = 'localhost:29092',
  topic   = 'mirrored'
);

BEGIN IMMEDIATE;

-- The batch: at most 20000 messages after the position.
CREATE TEMP TABLE batch AS
SELECT s.partition, s.offset, s.key, s.value
FROM kafka_partitions('localhost:29092', 'mirrored') AS p
JOIN source AS s
  ON s.partition = p.partition
 AND s.offset > coalesce((SELECT mp.offset FROM mirror_position AS mp WHERE mp.partition = p.partition), -1)
LIMIT 20000;

-- Per key, only its latest message counts.
CREATE TEMP TABLE latest AS
SELECT key, value, partition, offset FROM (
  SELECT *, row_number() OVER (PARTITION BY key ORDER BY offset DESC) AS newest FROM batch
) WHERE newest = 1;

DELETE FROM mirror WHERE key IN (SELECT key FROM latest WHERE value IS NULL);

INSERT INTO mirror(key, value, partition, offset)
SELECT key, value, partition, offset FROM latest WHERE value IS NOT NULL
ON CONFLICT(key) DO UPDATE SET value = excluded.value, partition = excluded.partition,
                               offset = excluded.offset;

INSERT INTO mirror_position(partition, offset)
SELECT partition, max(offset) FROM batch GROUP BY partition
ON CONFLICT(partition) DO UPDATE SET offset = excluded.offset;

SELECT 'applied ' || count(*) FROM batch;

COMMIT;
