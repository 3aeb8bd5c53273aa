"""Groups that scale out (SPEC section 14, issue 28) against the real
broker: topics of many partitions scan with a prefetch sized for them, and
exactly-once pipelines of one group in two processes never both commit."""

import kit

B = kit.BROKER


def test_a_topic_of_many_partitions_counts_every_message():
    """300 partitions: the scan consumer is made with the larger prefetch
    (client_prefetch_kbytes) at connect and when a second cursor needs its
    own; a user's rdkafka.queued.max.messages.kbytes still wins."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("many"), partitions=300)
    try:
        lines = "".join(f"k{i}\tv{i}\n" for i in range(3000))
        kit.kcat("-P", "-t", topic, "-K", "\t", input=lines)
        conn = kit.connect()
        conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers='{B}', topic='{topic}')")
        conn.execute(f"CREATE VIRTUAL TABLE u USING kafka(brokers='{B}', topic='{topic}', "
                     "rdkafka.queued.max.messages.kbytes=2048)")
        got = conn.execute("SELECT count(*), count(DISTINCT value) FROM t").fetchone()
        assert got == (3000, 3000), got
        # two cursors at once: the second makes its own consumer
        pairs = conn.execute("SELECT (SELECT count(*) FROM t), count(*) FROM t").fetchone()
        assert pairs == (3000, 3000), pairs
        got = conn.execute("SELECT count(*), count(DISTINCT partition) FROM u").fetchone()
        assert got[0] == 3000 and got[1] > 250, got
    finally:
        kit.delete_topic(topic)
