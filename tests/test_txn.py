"""Transactions and savepoints, on the real broker, seen by kcat reading
read_committed (and by the extension's own SELECT, read_committed too).

With transactional_id one SQLite transaction is one Kafka transaction:
COMMIT commits it, ROLLBACK and any failure abort it. A Kafka transaction
cannot abort part of itself, so ROLLBACK TO over produced messages aborts
it and only ROLLBACK can follow. Without transactional_id nothing produced
is ever taken back, and errors say how much was produced.
"""

import kit
from test_produce import drop, kcat_messages, table

SERIES = ("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {}) "
          "INSERT INTO t(key, value) SELECT '{}' || n, n FROM s")


def keys(topic, committed=True):
    return sorted(m["key"] for m in kcat_messages(topic, committed))


def txn_table(conn, topic, **options):
    table(conn, "t", topic, transactional_id=topic, **options)


def test_commit_shows_everything_and_rollback_nothing_to_read_committed_readers():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("txn"), partitions=3)
    conn = kit.connect()
    txn_table(conn, topic)
    conn.execute("BEGIN")
    conn.execute(SERIES.format(2000, "a"))
    conn.execute("INSERT INTO t(key, value) VALUES ('b', 'single')")
    # Open: a read_committed reader sees nothing of it yet.
    assert keys(topic) == []
    conn.execute("ROLLBACK")
    assert keys(topic) == []
    conn.execute("BEGIN")
    conn.execute(SERIES.format(3000, "c"))
    conn.execute("INSERT INTO t(key, value) VALUES ('d', 'single')")
    conn.execute("COMMIT")
    got = kcat_messages(topic)
    assert sorted(m["key"] for m in got) == sorted([f"c{n}" for n in range(1, 3001)] + ["d"])
    assert all(m["payload"] == m["key"][1:] for m in got if m["key"] != "d")
    # The extension's own SELECT agrees, and an autocommit INSERT is a
    # transaction of its own.
    conn.execute("INSERT INTO t(key, value) VALUES ('e', 'auto')")
    assert conn.execute("SELECT count(*), count(DISTINCT key) FROM t").fetchone() == (3002, 3002)
    drop(conn, topic)


def test_a_failed_statement_rolls_back_the_whole_transaction():
    """The second statement fails after producing some rows: those cannot
    be taken back alone, so the Kafka transaction is aborted and SQLite
    rolls back the transaction; nothing of it is ever visible."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("txn-fail"))
    conn = kit.connect()
    txn_table(conn, topic, value="json")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t(key, value) VALUES ('first', '1')")
    e = kit.expect_error(lambda: conn.execute(
        "INSERT INTO t(key, value) VALUES ('ok1', '1'), ('ok2', '2'), ('bad', '{oops')"),
        "value is not valid JSON")
    assert "the 2 messages this statement produced before cannot be taken back alone: the Kafka " \
           "transaction is aborted and the transaction rolled back" in str(e), e
    assert not conn.in_transaction
    kit.expect_error(lambda: conn.execute("COMMIT"), "no transaction is active")
    # A statement that fails on its first row leaves the transaction usable.
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t(key, value) VALUES ('kept', '1')")
    kit.expect_error(lambda: conn.execute("INSERT INTO t(key, value) VALUES ('bad', 'x')"),
                     "value is not valid JSON")
    conn.execute("COMMIT")
    assert keys(topic) == ["kept"]
    drop(conn, topic)


def test_savepoints_with_transactional_id():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("txn-sp"))
    conn = kit.connect()
    txn_table(conn, topic)
    # RELEASE and a ROLLBACK TO over nothing produced work.
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t(key, value) VALUES ('a', '1')")
    conn.execute("SAVEPOINT s1")
    conn.execute("INSERT INTO t(key, value) VALUES ('b', '1')")
    conn.execute("SAVEPOINT s2")
    conn.execute("ROLLBACK TO s2")
    conn.execute("RELEASE s1")
    conn.execute("COMMIT")
    assert keys(topic) == ["a", "b"]
    # ROLLBACK TO over produced messages is refused: the Kafka transaction
    # is aborted at once, and the next INSERT and the COMMIT say why.
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t(key, value) VALUES ('c', '1')")
    conn.execute("SAVEPOINT s1")
    conn.execute(SERIES.format(3, "d"))
    kit.expect_error(lambda: conn.execute("ROLLBACK TO s1"), "abort due to ROLLBACK")
    why = "rolling back to a savepoint cannot take back the 3 messages produced since it"
    kit.expect_error(lambda: conn.execute("INSERT INTO t(key, value) VALUES ('e', '1')"), why)
    kit.expect_error(lambda: conn.execute("COMMIT"), why)
    assert not conn.in_transaction
    assert keys(topic) == ["a", "b"]
    # The table works again after that.
    conn.execute("INSERT INTO t(key, value) VALUES ('f', '1')")
    assert keys(topic) == ["a", "b", "f"]
    drop(conn, topic)


def test_without_transactional_id_nothing_produced_is_taken_back():
    """Savepoints and ROLLBACK succeed but cannot take messages back: what
    was produced is delivered, and a failed statement says how many of
    its rows were."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("notxn"))
    conn = kit.connect()
    table(conn, "t", topic, value="json")
    e = kit.expect_error(lambda: conn.execute(
        "INSERT INTO t(key, value) VALUES ('a1', '1'), ('a2', '2'), ('bad', '{oops')"),
        "value is not valid JSON")
    assert "2 earlier rows of this statement were already produced to topic" in str(e), e
    assert "give the table a transactional_id" in str(e), e
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t(key, value) VALUES ('b', '1')")
    conn.execute("SAVEPOINT s")
    conn.execute("INSERT INTO t(key, value) VALUES ('c', '1')")
    conn.execute("ROLLBACK TO s")
    e = kit.expect_error(lambda: conn.execute(
        "INSERT INTO t(key, value) VALUES ('d1', '1'), ('bad', 'x')"), "value is not valid JSON")
    assert "1 earlier row of this statement was already produced" in str(e), e
    # A single-row statement has no earlier rows to speak of.
    e = kit.expect_error(lambda: conn.execute("INSERT INTO t(key, value) VALUES ('bad', 'x')"),
                         "value is not valid JSON")
    assert "earlier" not in str(e), e
    conn.execute("ROLLBACK")
    assert keys(topic) == ["a1", "a2", "b", "c", "d1"]
    drop(conn, topic)


def test_a_transaction_whose_delivery_fails_is_aborted_and_the_next_one_works():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("txn-big"), config={"max.message.bytes": "10000"})
    conn = kit.connect()
    txn_table(conn, topic)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t(key, value) VALUES ('small', '1')")
    conn.execute("INSERT INTO t(key, value) VALUES ('big', zeroblob(20000))")
    kit.expect_error(lambda: conn.execute("COMMIT"),
                     "Message size too large (partition 0) (the transaction is aborted: nothing of "
                     "it is committed)")
    assert not conn.in_transaction
    conn.execute("INSERT INTO t(key, value) VALUES ('next', '1')")
    assert keys(topic) == ["next"]
    drop(conn, topic)
