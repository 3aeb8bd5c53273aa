-- Redrive a dead-letter topic: re-publish its messages (key, value and
-- headers) to their original topic, filtered by SQL, exactly once.
--
--   sqlite3 :memory: < sql/redrive.sql
--
-- The dead-letter topic is read as group `orders-redrive`; the output table
-- has a transactional_id on the same cluster, so the statement is one Kafka
-- transaction that holds the re-published messages and the group's new
-- offsets (consume-transform-produce): both commit or neither does. A run
-- that fails or is killed re-publishes nothing and leaves the group where
-- it was; the next run does it all. Messages the WHERE clause leaves out
-- are passed over: the group moves past them too (a filter chooses what a
-- run takes, not what waits for the next one).
.bail on
.load ./build/kafka

CREATE VIRTUAL TABLE temp.dead_letters USING kafka(
  brokers = 'localhost:29092',
  topic   = 'orders.dlq',
  group   = 'orders-redrive'
);
CREATE VIRTUAL TABLE temp.orders USING kafka(
  brokers          = 'localhost:29092',
  topic            = 'orders',
  transactional_id = 'orders-redrive'
);

INSERT INTO orders(key, value, headers)
SELECT key, value, headers
FROM dead_letters
WHERE json_extract(headers, '$.error') LIKE 'timeout%';

SELECT 'redriven ' || changes();
