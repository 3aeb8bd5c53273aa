"""INSERT as acknowledged production, on the real broker, checked by kcat.

Every row of an INSERT is one message; success means every row was
acknowledged. These tests read back what the extension produced with kcat
(an independent client) and compare it field by field: partition, key,
value, headers, timestamp, and per-partition order. Transactions are in
test_txn.py; fast error-text checks on the mock cluster in test_insert.py.
"""

import gc
import json
import os
import re
import subprocess
import time

import kit

TS0 = 1600000000000


def kcat_messages(topic, committed=True):
    """Every message of topic as kcat -J shows it (read_committed by default)."""
    out = kit.kcat("-C", "-t", topic, "-e", "-q", "-J", "-X",
                   "isolation.level=" + ("read_committed" if committed else "read_uncommitted"),
                   timeout=120)
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


def drop(conn, topic):
    """Closes conn, then deletes topic. In that order: closing a connection
    after the topic of a table it scanned was deleted hangs (librdkafka
    2.0.2 never ends the destroyed consumer's broker thread)."""
    conn.close()
    kit.delete_topic(topic)


def table(conn, name, topic, **options):
    opts = "".join(f", {k} = '{v}'" for k, v in options.items())
    conn.execute(f"CREATE VIRTUAL TABLE {name} USING kafka(brokers = '{kit.BROKER}', "
                 f"topic = '{topic}'{opts})")


# What row n of the 100,000 is, in SQL and in Python: both must agree.
ROWS_SQL = """
WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {last})
INSERT INTO t(partition, timestamp, key, value, headers)
SELECT CASE WHEN n % 2 = 0 THEN n % 4 END,
       {ts0} + n,
       CASE WHEN n % 1000 = 7 THEN NULL WHEN n % 1000 IN (8, 9) THEN ''
            ELSE 'key-' || (n % 5000) END,
       CASE WHEN n % 500 = 3 THEN NULL ELSE 'value ' || n || ' é' END,
       CASE WHEN n % 3 = 0 THEN json_object('n', CAST(n AS TEXT), 'tag', 'x')
            WHEN n % 3 = 1 THEN '{{"r":["a","b"]}}' END
FROM s
"""


def expected_row(n):
    key = None if n % 1000 == 7 else "" if n % 1000 in (8, 9) else f"key-{n % 5000}"
    value = None if n % 500 == 3 else f"value {n} é"
    headers = (["n", str(n), "tag", "x"] if n % 3 == 0 else
               ["r", "a", "r", "b"] if n % 3 == 1 else None)
    partition = n % 4 if n % 2 == 0 else None
    return partition, key, value, headers


def test_100k_rows_by_insert_select_read_back_exactly_by_kcat():
    """Count, keys (NULL and empty too), values (tombstones too), repeated
    headers, explicit partitions, murmur2 partitions of keyed rows,
    CreateTime timestamps and the order within each partition."""
    from kafka.partitioner.default import murmur2
    kit.need_broker()
    n_rows, partitions = 100_000, 4
    topic = kit.create_topic(kit.topic("produce-100k"), partitions=partitions)
    conn = kit.connect()
    table(conn, "t", topic)
    t0 = time.monotonic()
    conn.execute(ROWS_SQL.format(last=n_rows - 1, ts0=TS0))
    elapsed = time.monotonic() - t0
    assert conn.total_changes == n_rows, conn.total_changes
    got = kcat_messages(topic)
    assert len(got) == n_rows, (len(got), elapsed)
    seen, last_in_partition, random_spread = set(), {}, set()
    for m in got:
        assert m["tstype"] == "create", m
        n = m["ts"] - TS0
        assert 0 <= n < n_rows and n not in seen, m
        seen.add(n)
        partition, key, value, headers = expected_row(n)
        assert m["key"] == key and m["payload"] == value, (n, m)
        assert m.get("headers") == headers, (n, m)
        if partition is None and key is not None:
            partition = (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
        if partition is None:
            random_spread.add(m["partition"])
        else:
            assert m["partition"] == partition, (n, m)
        # The idempotent producer keeps the order of the INSERT per partition.
        assert last_in_partition.get(m["partition"], -1) < n, (n, m)
        last_in_partition[m["partition"]] = n
    assert len(seen) == n_rows
    assert random_spread, "some rows had neither key nor partition"
    drop(conn, topic)


def test_insert_of_every_column_and_the_extension_reads_it_back():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("produce-cols"), partitions=2)
    conn = kit.connect()
    table(conn, "t", topic, value="json", columns="city TEXT $.where.city, temp REAL, n INTEGER")
    conn.execute("INSERT INTO t(partition, timestamp, key, value, headers) VALUES "
                 "(1, 1700000000000, 'k', '{\"a\": [1, 2.5, null]}', '{\"h\": \"1\"}')")
    conn.execute("INSERT INTO t(partition, key, city, temp, n) VALUES (0, NULL, 'Zürich', '21', '3')")
    conn.execute("INSERT INTO t(partition, key, value) VALUES (0, '', NULL)")
    got = {(m["partition"], m["offset"]): m for m in kcat_messages(topic)}
    assert got[(1, 0)]["payload"] == '{"a": [1, 2.5, null]}' and got[(1, 0)]["key"] == "k"
    assert got[(1, 0)]["ts"] == 1700000000000 and got[(1, 0)]["headers"] == ["h", "1"]
    # Typed columns compose the value, under their declared affinity.
    assert json.loads(got[(0, 0)]["payload"]) == {"where": {"city": "Zürich"}, "temp": 21.0, "n": 3}
    assert got[(0, 0)]["key"] is None
    # An empty key is a key; a NULL value is a tombstone.
    assert got[(0, 1)]["key"] == "" and got[(0, 1)]["payload"] is None
    # No timestamp given: the time of the INSERT.
    assert abs(got[(0, 0)]["ts"] - time.time() * 1000) < 120_000
    rows = conn.execute("SELECT partition, offset, key, city, temp, n FROM t ORDER BY partition, offset").fetchall()
    assert rows == [(0, 0, None, "Zürich", 21.0, 3), (0, 1, "", None, None, None),
                    (1, 0, "k", None, None, None)], rows
    drop(conn, topic)


def delivery_counts(error):
    m = re.search(r"(\d+) of (\d+) messages were not delivered", str(error))
    assert m, error
    return int(m.group(1)), int(m.group(2))


def test_message_over_the_topic_size_limit_fails_and_nothing_is_claimed():
    """The broker refuses a batch over the topic's max.message.bytes: the
    statement fails, says so, and what it says was delivered is exactly
    what kcat finds."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("produce-big"), config={"max.message.bytes": "10000"})
    conn = kit.connect()
    table(conn, "t", topic, timeout_ms=5000)
    e = kit.expect_error(lambda: conn.execute("INSERT INTO t(value) VALUES (zeroblob(20000))"),
                         "Message size too large")
    assert delivery_counts(e) == (1, 1), e
    conn.execute("INSERT INTO t(key, value) VALUES ('small', 'ok')")
    e = kit.expect_error(lambda: conn.execute(
        "INSERT INTO t(key, value) VALUES ('a', '1'), ('b', '2'), ('big', zeroblob(20000)), ('c', '3')"),
        "Message size too large")
    failed, produced = delivery_counts(e)
    assert produced == 4 and failed >= 1, e
    got = kcat_messages(topic)
    assert len(got) == 1 + produced - failed, (got, e)
    assert got[0]["key"] == "small" and all(m["key"] != "big" for m in got), got
    # The producer goes on after a refusal.
    conn.execute("INSERT INTO t(key, value) VALUES ('after', 'ok')")
    assert kcat_messages(topic)[-1]["key"] == "after"
    drop(conn, topic)


RESTART_PORT = kit.PORT + 10  # a broker of this test's own (controller +100)


def restart_broker(*args):
    """tests/broker/kafka.sh ARGS for the broker at RESTART_PORT."""
    env = dict(os.environ, KAFKA_PORT=str(RESTART_PORT))
    p = subprocess.run(["bash", str(kit.KAFKA_SH), *args], env=env, capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=300)
    assert p.returncode == 0, p.stderr.decode()


@kit.timeout(180)
def test_insert_against_a_stopped_broker_fails_in_time_then_succeeds_once():
    """With the broker down, an INSERT fails within timeout_ms (a producer
    already connected: its messages time out; a new one: its metadata
    request does), saying why. Once the broker is back the same INSERTs
    succeed, and each message is in the topic exactly once.

    The broker stopped is one of this test's own, so that no other client
    of the test process lives through its restart; and the table is made in
    a file the two connections then open (opening does not talk to the
    cluster), so only producers do: a consumer that lives through a broker
    restart can hang when it is destroyed (librdkafka 2.0.2)."""
    kit.need_broker()
    broker = f"127.0.0.1:{RESTART_PORT}"
    db = kit.ROOT / "build" / f"produce-down-{os.getpid()}.db"
    topic = kit.topic("produce-down")
    restart_broker("up")
    try:
        creator = kit.connect(str(db))
        creator.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers = '{broker}', topic = '{topic}', "
                        "partitions = 2, timeout_ms = 3000)")
        creator.close()
        warm, cold = kit.connect(str(db)), kit.connect(str(db))
        warm.execute("INSERT INTO t(key, value) VALUES ('warm', 'up')")
        restart_broker("down")
        for conn, message in ((warm, "messages were not delivered"), (cold, "cannot connect to brokers")):
            t0 = time.monotonic()
            e = kit.expect_error(lambda: conn.execute(
                "INSERT INTO t(key, value) VALUES ('k1', 'v1'), ('k2', 'v2')"), message)
            assert time.monotonic() - t0 < 3 + 2.5, (time.monotonic() - t0, e)
            assert "timeout_ms=3000" in str(e) and "Connect" in str(e), e
            assert "may have been written" not in str(e), e
        restart_broker("up")
        for conn in (warm, cold):
            conn.execute("INSERT INTO t(key, value) VALUES ('k1', 'v1'), ('k2', 'v2')")
            conn.close()
        got = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%k\n", broker=broker).decode().split()
        assert sorted(got) == ["k1", "k1", "k2", "k2", "warm"], got
    finally:
        restart_broker("down", "--clean")
        db.unlink(missing_ok=True)


def test_update_and_delete_are_refused_and_drop_table_keeps_the_topic():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("produce-drop"))
    conn = kit.connect()
    table(conn, "t", topic)
    conn.execute("INSERT INTO t(key, value) VALUES ('k', 'v')")
    kit.expect_error(lambda: conn.execute("UPDATE t SET value = 'w'"),
                     "UPDATE is not supported: topics are append-only")
    kit.expect_error(lambda: conn.execute("DELETE FROM t WHERE key = 'k'"),
                     "DELETE is not supported: topics are append-only")
    conn.execute("DROP TABLE t")
    meta = json.loads(kit.kcat("-L", "-J", "-t", topic))
    assert [t["topic"] for t in meta["topics"]] == [topic] and "error" not in meta["topics"][0], meta
    assert [m["payload"] for m in kcat_messages(topic)] == ["v"]
    drop(conn, topic)


def threads():
    return len(os.listdir("/proc/self/task"))


def test_close_delivers_what_is_pending_and_leaves_no_thread():
    """Closing a connection in the middle of a transaction: SQLite rolls it
    back; without transactional_id the messages already produced cannot be
    taken back, so they are delivered, not lost. The producer's threads end
    with the connection."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("produce-close"), partitions=3)
    gc.collect()  # connections of earlier tests, kept by reference cycles
    before = threads()
    conn = kit.connect()
    table(conn, "t", topic)
    conn.execute("BEGIN")
    conn.execute("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 5000) "
                 "INSERT INTO t(key, value) SELECT 'k' || n, n FROM s")
    assert threads() > before
    conn.close()
    assert threads() == before, (threads(), before)
    assert len(kcat_messages(topic)) == 5000
    kit.delete_topic(topic)
