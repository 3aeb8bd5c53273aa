"""Transactions and savepoints, on the real broker, seen by kcat reading
read_committed (and by the extension's own SELECT, read_committed too).

With transactional_id one SQLite transaction is one Kafka transaction:
COMMIT commits it, ROLLBACK and any failure abort it. A Kafka transaction
cannot abort part of itself, so ROLLBACK TO over produced messages aborts
it and only ROLLBACK can follow. Without transactional_id nothing produced
is ever taken back, and errors say how much was produced.
"""

import re
import sqlite3
import time
from pathlib import Path

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
    assert "of the 2 earlier rows this statement handed to the producer, " in str(e), e
    assert "give the table a transactional_id" in str(e), e
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t(key, value) VALUES ('b', '1')")
    conn.execute("SAVEPOINT s")
    conn.execute("INSERT INTO t(key, value) VALUES ('c', '1')")
    conn.execute("ROLLBACK TO s")
    e = kit.expect_error(lambda: conn.execute(
        "INSERT INTO t(key, value) VALUES ('d1', '1'), ('bad', 'x')"), "value is not valid JSON")
    assert "of the 1 earlier row this statement handed to the producer, " in str(e), e
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


# ------------------------------------------------- faults (issue 11 item 9)

def kill_broker():
    """kill -9 of node 1 of the test broker (kafka.sh's own pid file)."""
    import os
    import signal
    node = kit.ROOT / "build" / f"kafka-{kit.PORT}" / "node1"
    pid = int((node / "kafka.pid").read_text())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert str(node / "server.properties").encode() in cmdline, "not the test broker's pid"
    os.kill(pid, signal.SIGKILL)


def start_broker():
    kit.kafka_sh("up-node", "1", timeout=180)


KILL_TIMEOUT_MS = 12000


def insert_while_the_broker_is_killed(conn, table, n):
    """INSERT ... SELECT of n rows into table, the broker killed -9 a
    quarter of the way in; returns (error or None, seconds taken)."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS src(k TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM src")
    conn.execute(f"INSERT INTO src WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c "
                 f"WHERE i < {n - 1}) SELECT 'k' || i FROM c")

    def kill_at(row):
        if row == n // 4:
            kill_broker()
        return 1

    conn.create_function("kill_at", 1, kill_at)
    t0 = time.monotonic()
    try:
        conn.execute(f"INSERT INTO {table}(key, value) SELECT k, k FROM src WHERE kill_at(rowid)")
        return None, time.monotonic() - t0
    except sqlite3.Error as e:
        return e, time.monotonic() - t0
    finally:
        start_broker()


@kit.timeout(600)
def test_a_transactional_insert_whose_broker_is_killed_has_one_time_bound():
    """Issue 11 item 9: the whole statement (the INSERT, then the abort of
    its transaction and the producer's end) is bounded by one timeout_ms
    (it took about 2x), and nothing of it is committed."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("txn-kill"), partitions=3)
    conn = kit.connect()
    txn_table(conn, topic, timeout_ms=KILL_TIMEOUT_MS)
    e, seconds = insert_while_the_broker_is_killed(conn, "t", 200_000)
    print(f"    failed after {seconds:.1f} s (timeout_ms={KILL_TIMEOUT_MS}): {e}")
    assert e is not None and "transaction" in str(e), e
    assert seconds < 1.5 * KILL_TIMEOUT_MS / 1000, seconds
    assert keys(topic) == []
    conn.execute("INSERT INTO t(key, value) VALUES ('after', '1')")
    assert keys(topic) == ["after"]
    drop(conn, topic)


@kit.timeout(600)
def test_a_plain_insert_whose_broker_is_killed_says_only_what_is_known():
    """Issue 11 item 9: it said "100000 earlier rows ... were already
    produced ... and are not taken back" when none had reached the topic:
    only delivery reports tell what was, the rest may have been produced."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("plain-kill"), partitions=3)
    conn = kit.connect()
    table(conn, "t", topic, timeout_ms=KILL_TIMEOUT_MS)
    e, seconds = insert_while_the_broker_is_killed(conn, "t", 200_000)
    print(f"    failed after {seconds:.1f} s: {e}")
    assert e is not None
    assert "already produced" not in str(e), e
    said = re.search(r"of the (\d+) earlier rows this statement handed to the producer, (\d+) were "
                     r"delivered to topic '[^']+' and are not taken back, and (\d+) may have been "
                     r"produced", str(e))
    assert said, e
    handed, delivered, maybe = map(int, said.groups())
    assert handed == delivered + maybe
    in_topic = len(kcat_messages(topic, committed=False))
    assert delivered <= in_topic <= handed, (delivered, in_topic, handed)
    drop(conn, topic)


def test_a_commit_over_two_transactions_that_fails_after_one_committed_says_which():
    """Issue 11 item 9: two tables with different transactional_ids are two
    Kafka transactions, committed one after the other at COMMIT; when the
    second fails, the error names the one that committed."""
    kit.need_broker()
    good = kit.create_topic(kit.topic("txn-good"))
    bad = kit.create_topic(kit.topic("txn-bad"), config={"max.message.bytes": "10000"})
    conn = kit.connect()
    table(conn, "a", good, transactional_id=good)
    table(conn, "b", bad, transactional_id=bad)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO a(key, value) VALUES ('a1', '1')")
    conn.execute("INSERT INTO b(key, value) VALUES ('big', zeroblob(20000))")
    kit.expect_error(lambda: conn.execute("COMMIT"),
                     f"Message size too large (partition 0) (the transaction is aborted: nothing of it "
                     f"is committed) (this COMMIT had already committed the Kafka transaction of topic "
                     f"'{good}' (transactional_id '{good}'): those messages stay)")
    assert keys(good) == ["a1"] and keys(bad) == []
    conn.close()
    kit.delete_topic(good)
    kit.delete_topic(bad)
