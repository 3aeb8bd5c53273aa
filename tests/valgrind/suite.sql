-- make valgrind: the extension's paths through the sqlite3 shell under
-- valgrind memcheck, on the in-process mock cluster. The statements that
-- must fail are listed, with their errors, in expected-errors.txt.
.load ./build/kafka
.nullvalue NULL
.headers on

SELECT length(kafka_version()) > 0 AS version, kafka_debug() LIKE 'Version: %' AS debug;

-- Create, and INSERT ... SELECT with keys, typed columns and headers.
CREATE VIRTUAL TABLE w USING kafka(brokers='mock', topic='vg.weather', partitions=3,
  value='json', timeout_ms=5000,
  columns='location TEXT, temp INTEGER $.t, wind REAL $.w.speed, price DECIMAL(10,2) $.p');
INSERT INTO w(key, location, temp, wind, price)
SELECT 'k' || (value % 50), json_extract('["Oslo","Lisbon","Osaka"]', '$[' || (value % 3) || ']'),
       value % 30 - 5, value / 7.0, value * 100
FROM generate_series(1, 3000);
INSERT INTO w(key, value, headers) VALUES
  ('h1', '{"t": 1}', '{"trace": ["a", "b", null], "bin": {"hex": "00ff"}, "n": 7, "ok": true}'),
  ('h3', NULL, '{"reason": "tombstone"}'),
  ('big', '{"t": 12345678901234567890, "w": {"speed": "3.5"}}', '{}');

-- A value that is not JSON, written through a text table on the topic.
CREATE VIRTUAL TABLE wt USING kafka(brokers='mock', topic='vg.weather');
INSERT INTO wt(key, value) VALUES ('h2', 'not json');

-- Snapshot scans with pushdown, tails, typed columns, headers, errors.
SELECT partition, count(*) AS n, min(offset), max(offset) FROM w GROUP BY partition;
SELECT count(*) FROM w WHERE partition = 1 AND offset BETWEEN 10 AND 20;
SELECT count(*) FROM w WHERE partition IN (0, 2) AND offset >= 990;
SELECT count(*) FROM w WHERE timestamp >= 0 LIMIT 5;
SELECT key, offset FROM w ORDER BY offset DESC LIMIT 3;
SELECT location, count(*), round(avg(temp), 2), max(wind), sum(price) FROM w GROUP BY location;
SELECT key, value, headers, error, temp, wind FROM w WHERE key IN ('h1', 'h2', 'h3', 'big');
SELECT typeof(key), typeof(value) FROM w LIMIT 1;

-- Key pushdown (partitioner): keys from this extension's INSERT (murmur2);
-- statements back to back run on the table's two idle consumers.
CREATE VIRTUAL TABLE wk USING kafka(brokers='mock', topic='vg.weather', partitioner='murmur2');
SELECT count(*) FROM wk WHERE key = 'h1';
SELECT count(*) FROM wk WHERE key IN ('h1', x'6832', 42, NULL, '');
SELECT count(*) FROM wk;
SELECT count(*) FROM wk WHERE key = 'h3' AND partition IN (0, 1, 2);

-- Follow mode: returns after 300 ms of quiet.
SELECT count(*) FROM w WHERE partition = 0 AND follow = 300;

-- Blob keys and values, invalid UTF-8.
CREATE VIRTUAL TABLE b USING kafka(brokers='mock', topic='vg.bytes', partitions=1, key='blob', value='text');
INSERT INTO b(key, value) VALUES (x'00ff', x'c328'), (zeroblob(0), ''), (NULL, 'plain');
SELECT hex(key), typeof(value), hex(value) FROM b;

-- A consumer group: the second scan sees only what arrived in between.
CREATE VIRTUAL TABLE g USING kafka(brokers='mock', topic='vg.bytes', group='vg-group', timeout_ms=5000);
SELECT count(*) FROM g;
INSERT INTO b(value) VALUES ('later');
SELECT count(*), max(value) FROM g;

-- One SQLite transaction is one Kafka transaction.
CREATE VIRTUAL TABLE tx USING kafka(brokers='mock', topic='vg.tx', partitions=1,
  transactional_id='vg-tx', timeout_ms=5000);
BEGIN; INSERT INTO tx(value) VALUES ('committed'); COMMIT;
BEGIN; INSERT INTO tx(value) VALUES ('aborted'); ROLLBACK;
SELECT value FROM tx;

-- Catalog and admin.
SELECT kafka_create_topic('mock', 'vg.admin', 2);
SELECT topic, partitions FROM kafka_topics('mock') WHERE topic LIKE 'vg.%' ORDER BY topic;
SELECT partition, low, high FROM kafka_partitions('mock', 'vg.weather');
SELECT partition, committed, lag, lag_ms >= 0 AS lag_ms_known FROM kafka_group_offsets('mock', 'vg-group');

-- kafka_messages (rescans in a join, a kept table, options) and the time column.
SELECT count(*), min(time) IS NOT NULL AS has_time FROM kafka_messages('mock', 'vg.weather');
SELECT partition, offset, time FROM kafka_messages('mock', 'vg.weather', 'value=json, partitioner=murmur2')
WHERE key = 'k7' ORDER BY offset DESC LIMIT 2;
SELECT count(*) FROM kafka_messages('mock', 'vg.weather') a
JOIN kafka_messages('mock', 'vg.weather', 'value=blob') b USING (partition, offset) WHERE a.offset < 50;
SELECT count(*) FROM w WHERE time >= '1970' AND time < '9999-12-31T23:59' AND time <> 'x';

-- Formats without a registry (issue 27): plain Avro from its text, Protobuf from files, MessagePack.
SELECT kafka_create_topic('mock', 'vg.plain', 1);
CREATE VIRTUAL TABLE pa USING kafka(brokers='mock', topic='vg.plain', value='avro', value_schema='{"type":"record","name":"R","fields":[{"name":"a","type":"string"},{"name":"b","type":"bytes"}]}', key='avro', key_schema='"long"');
INSERT INTO pa(key, a, b) VALUES ('5', 'x', x'00ff');
CREATE VIRTUAL TABLE pp USING kafka(brokers='mock', topic='vg.plain', value='protobuf', value_proto_file='tests/protobuf/pbtest/weather.proto', value_proto_path='tests/protobuf');
INSERT INTO pp(location, temp_celsius, at) VALUES ('y', 3, 1700000000000);
CREATE VIRTUAL TABLE pm USING kafka(brokers='mock', topic='vg.plain', value='msgpack', columns='a TEXT, b BLOB');
INSERT INTO pm(a, b) VALUES ('z', x'01');
INSERT INTO pm(value) VALUES ('{"e": {"$ext": [-1, "00"]}, "m": {"$map": [[1, [true, null, 1.5]]]}}');
SELECT key, a, hex(b), error FROM pa;
SELECT location, temp_celsius, at, error FROM pp;
SELECT a, hex(b), value, error FROM pm;
DROP TABLE pa;
DROP TABLE pp;
DROP TABLE pm;

-- Errors: each one is in expected-errors.txt.
CREATE VIRTUAL TABLE e1 USING kafka(brokers='mock', topic='vg.weather', columns='a INT(', rdkafka.sasl.password='hunter2');
CREATE VIRTUAL TABLE e2 USING kafka(brokers='mock', topic='vg.missing');
INSERT INTO w(key, value) VALUES ('x', '{not json');
INSERT INTO w(key, headers) VALUES ('x', '[1]');
INSERT INTO w(offset, value) VALUES (5, '{}');
UPDATE w SET value = '{}';
DELETE FROM w;
SELECT kafka_create_topic('mock', NULL, 1);
CREATE VIRTUAL TABLE e3 USING kafka(brokers='mock', topic='vg.weather', value='avro');
CREATE VIRTUAL TABLE e4 USING kafka(brokers='mock', topic='vg.weather', value='avro', schema_registry='http://u:pw@127.0.0.1:9', timeout_ms=2000);
CREATE VIRTUAL TABLE e5 USING kafka(brokers='mock', topic='vg.weather', value='avro', schema_registry='http://127.0.0.1:9', value_schema='{"type": "recrod"}');
SELECT * FROM kafka_subjects('http://127.0.0.1:9');
CREATE VIRTUAL TABLE e6 USING kafka(brokers='mock', topic='vg.weather', value='protobuf', schema_registry='http://127.0.0.1:9', value_schema='syntax = "proto3"; message A { int32 x = 1 }');
CREATE VIRTUAL TABLE e7 USING kafka(brokers='mock', topic='vg.weather', value='protobuf', schema_registry='http://127.0.0.1:9', value_schema='syntax = "proto3"; import "google/protobuf/timestamp.proto"; message A { google.protobuf.Timestamp at = 1; }');
SELECT * FROM kafka_messages('mock', 'vg.weathr');
SELECT * FROM kafka_messages('mock', 'vg.weather', 'group=g');
SELECT * FROM kafka_offsets_for_times('mock', 'vg.weather', '2026-12-07');
DROP TABLE w;
DROP TABLE wt;
DROP TABLE b;
DROP TABLE g;
DROP TABLE tx;
