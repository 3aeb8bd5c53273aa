"""Exactly-once pipelines (SPEC section 8, issue 14) on the real broker.

Consume-transform-produce: a statement that reads a `group` table and writes
a `transactional_id` table on the same cluster puts the group's offsets into
that Kafka transaction (send_offsets_to_transaction): output and group move
together or not at all. Checked with kcat reading read_committed and with
kafka_group_offsets.
"""

import kit
from test_group import committed, group_table, produce
from test_produce import kcat_messages, table

B = kit.BROKER


def values(topic):
    return sorted(m["payload"] for m in kcat_messages(topic))


def pipeline(conn, n=3, partitions=1, out_config=None):
    """A source topic with n messages per partition, read by group table g;
    an output topic written by transactional table o."""
    src = kit.create_topic(kit.topic("eos-src"), partitions=partitions)
    out = kit.create_topic(kit.topic("eos-out"), config=out_config)
    group = kit.topic("eos-g")
    for p in range(partitions):
        produce(src, p, [f"p{p}-{i}" for i in range(n)])
    group_table(conn, "g", src, group)
    table(conn, "o", out, transactional_id=out)
    return src, out, group


def test_consume_transform_produce_commits_output_and_group_together():
    kit.need_broker()
    conn = kit.connect()
    src, out, group = pipeline(conn, partitions=2)
    conn.execute("INSERT INTO o(key, value) SELECT key, upper(value) FROM g")
    assert values(out) == ["P0-0", "P0-1", "P0-2", "P1-0", "P1-1", "P1-2"]
    assert committed(conn, group) == [(src, 0, 3), (src, 1, 3)]
    # The next run has nothing new; then only what arrived.
    conn.execute("INSERT INTO o(key, value) SELECT key, upper(value) FROM g")
    produce(src, 1, ["new"])
    conn.execute("INSERT INTO o(key, value) SELECT key, upper(value) FROM g")
    assert values(out) == ["NEW", "P0-0", "P0-1", "P0-2", "P1-0", "P1-1", "P1-2"]
    assert committed(conn, group) == [(src, 0, 3), (src, 1, 4)]
    conn.close()
    kit.delete_topic(src)
    kit.delete_topic(out)


def test_an_abort_leaves_output_and_group_where_they_were():
    """A failed delivery, a ROLLBACK, a failed statement: nothing of the
    output is visible and the group has not moved."""
    kit.need_broker()
    conn = kit.connect()
    src, out, group = pipeline(conn, out_config={"max.message.bytes": "10000"})
    produce(src, 0, ["x" * 20000])
    kit.expect_error(lambda: conn.execute("INSERT INTO o(value) SELECT value FROM g"),
                     "Message size too large")
    assert values(out) == [] and committed(conn, group) == []
    conn.execute("BEGIN")
    conn.execute("INSERT INTO o(value) SELECT value FROM g WHERE length(value) < 100")
    conn.execute("ROLLBACK")
    assert values(out) == [] and committed(conn, group) == []
    conn.execute("BEGIN")
    kit.expect_error(lambda: conn.execute(
        "INSERT INTO o(value) SELECT CASE WHEN offset = 2 THEN json(value) ELSE value END FROM g"),
        "malformed JSON")
    assert not conn.in_transaction  # the Kafka transaction is aborted: so is SQLite's
    assert values(out) == [] and committed(conn, group) == []
    # Inside an explicit transaction, COMMIT commits both.
    conn.execute("BEGIN")
    conn.execute("INSERT INTO o(value) SELECT value FROM g WHERE length(value) < 100")
    conn.execute("COMMIT")
    assert values(out) == ["p0-0", "p0-1", "p0-2"]
    assert committed(conn, group) == [(src, 0, 4)]
    conn.close()
    kit.delete_topic(src)
    kit.delete_topic(out)
