"""Batches fit the topic (SPEC section 11): librdkafka fills a batch up to
batch.size (1,000,000 bytes) and does not split one the broker rejects as
larger than the topic's max.message.bytes (kcat fails the same way; the
Java producer splits). The extension keeps its batches within the topic's
limit, so many small messages go in however small it is."""

import kit


def test_many_small_messages_into_a_topic_with_a_small_max_message_bytes():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("small-mmb"), partitions=2, config={"max.message.bytes": 2000})
    try:
        conn = kit.connect()
        conn.execute(f"CREATE VIRTUAL TABLE s USING kafka(brokers='{kit.BROKER}', topic='{topic}')")
        conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
                     "INSERT INTO s(key, value) SELECT i, printf('%010d', i) FROM n")
        # Read back by an independent client: each message once.
        out = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%s\n").decode().split()
        assert sorted(out) == [f"{i:010d}" for i in range(1, 1001)], (len(out), out[:5])
        # A message larger than the limit still fails, saying so.
        kit.expect_error(lambda: conn.execute("INSERT INTO s(value) VALUES (zeroblob(5000))"),
                         "not delivered")
    finally:
        kit.delete_topic(topic)
