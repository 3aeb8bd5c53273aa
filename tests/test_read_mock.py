"""The read side on the in-process mock cluster (no broker needed): the
pushdown contract, LIMIT/OFFSET/ORDER BY exactness, EXPLAIN QUERY PLAN,
follow mode and interrupts. The real-broker proof is test_read_broker.py."""

import threading
import time

import kit
import readkit as rk


def _table(partitions=3, rows=60):
    conn = kit.connect()
    topic = kit.topic("mock")
    rk.table(conn, "t", topic, brokers="mock", partitions=partitions)
    conn.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                 "INSERT INTO t(partition, key, value, timestamp) "
                 "SELECT i % ?, 'k' || i, 'v' || i, 1000 + i FROM n", (rows - 1, partitions))
    return conn


def test_pushdown_forms_match_oracle_and_plan():
    conn = _table()
    assert rk.oracle(conn, "t") == 60
    for where, plan in [('WHERE "partition" = 2', "partition ="),
                        ('WHERE "partition" IN (0, 2)', "partition IN"),
                        ('WHERE "partition" >= 1 AND "offset" BETWEEN 3 AND 7',
                         "partition >=, offset >=, offset <="),
                        ('WHERE "offset" > 2.5 AND "offset" <= 4', "offset >, offset <="),
                        ('WHERE "offset" = NULL', "offset ="),
                        ('WHERE "timestamp" >= 1030', "timestamp >="),
                        ('WHERE "timestamp" = 1031', "timestamp ="),
                        ('WHERE "timestamp" < 1005', "timestamp <")]:
        eqp, _ = rk.compare(conn, where)
        assert f"INDEX 0:{plan}" in eqp, (where, eqp)


def test_limit_offset_exact():
    """SQLite 3.40 offers LIMIT with terms the table does not take and with
    an ORDER BY it does not produce; neither may reach the cursor."""
    conn = _table(partitions=1, rows=100)
    q = lambda sql: [r[0] for r in conn.execute(sql)]
    assert q("SELECT offset FROM t LIMIT 2 OFFSET 3") == [3, 4]
    assert q("SELECT offset FROM t WHERE value = 'v50' LIMIT 1") == [50]
    assert q("SELECT offset FROM t ORDER BY key DESC LIMIT 3") == [99, 98, 97]
    assert q("SELECT offset FROM t ORDER BY offset DESC LIMIT 3 OFFSET 2") == [97, 96, 95]
    assert q("SELECT offset FROM t WHERE partition = 0 ORDER BY offset LIMIT 2 OFFSET 1") == [1, 2]
    assert q("SELECT offset FROM t WHERE offset IN (5, 7, 9) LIMIT 2") == [5, 7]
    assert "LIMIT" not in kit.eqp(conn, "SELECT * FROM t WHERE value = 'x' LIMIT 1")
    assert "LIMIT" not in kit.eqp(conn, "SELECT * FROM t ORDER BY key LIMIT 1")
    plan = kit.eqp(conn, "SELECT * FROM t WHERE partition = 0 ORDER BY offset LIMIT 1")
    assert "partition =, LIMIT, ORDER BY offset" in plan and "B-TREE" not in plan, plan
    plan = kit.eqp(conn, "SELECT * FROM t ORDER BY offset DESC LIMIT 3 OFFSET 1")
    assert "INDEX 1:LIMIT, OFFSET, ORDER BY offset DESC" in plan and "B-TREE" not in plan, plan


def test_tail_across_partitions():
    conn = _table(partitions=3, rows=61)
    rk.oracle(conn, "t")
    for where in ("", "WHERE partition IN (0, 1)", "WHERE offset < 10", "WHERE timestamp < 1030"):
        got = conn.execute(f"SELECT offset FROM t {where} ORDER BY offset DESC LIMIT 4").fetchall()
        want = conn.execute(f"SELECT offset FROM oracle {where} ORDER BY offset DESC LIMIT 4").fetchall()
        assert got == want, (where, got, want)


def test_unused_columns_are_not_decoded():
    """on_error = fail proves it: a row that is not JSON fails only the
    statements that read a decoded column."""
    conn = kit.connect()
    topic = kit.topic("lazy")
    rk.table(conn, "t", topic, brokers="mock", partitions=1, value="blob")
    conn.execute("INSERT INTO t(value) VALUES (x'7b7b'), (x'7b7d')")
    rk.table(conn, "f", topic, brokers="mock", value="json", on_error="fail", columns="a INTEGER")
    assert conn.execute("SELECT count(*), sum(length(headers) IS NULL) FROM f").fetchone() == (2, 2)
    kit.expect_error(lambda: conn.execute("SELECT a FROM f").fetchall(), "partition 0 offset 0: value is not valid JSON")
    assert conn.execute("SELECT a FROM f WHERE offset = 1").fetchall() == [(None,)]


def test_follow_and_interrupt_on_mock():
    conn = _table(partitions=2, rows=4)
    rows, secs = rk.timed(lambda: conn.execute("SELECT count(*) FROM t WHERE follow = 300").fetchone())
    assert rows == (4,) and 0.3 <= secs < 3, (rows, secs)
    assert conn.execute("SELECT DISTINCT follow FROM t WHERE follow = 200").fetchall() == [(200,)]
    assert conn.execute("SELECT follow FROM t LIMIT 1").fetchall() == [(None,)]
    threading.Timer(0.5, conn.interrupt).start()
    t0 = time.monotonic()
    kit.expect_error(lambda: conn.execute("SELECT * FROM t WHERE follow = 60000").fetchall(), "interrupted")
    assert time.monotonic() - t0 < 2


def test_quoted_json_path_names_may_hold_spaces():
    conn = kit.connect()
    topic = kit.topic("mock-path")
    conn.execute(f"CREATE VIRTUAL TABLE q USING kafka(brokers='mock', topic='{topic}', partitions=1, "
                 "columns='qr TEXT $.\"q r\", a INTEGER')")
    conn.execute("""INSERT INTO q(value) VALUES ('{"q r": "spaced", "a": 5}')""")
    assert conn.execute("SELECT qr, a FROM q").fetchall() == [("spaced", 5)]
    kit.expect_error(lambda: conn.execute(f"CREATE VIRTUAL TABLE q2 USING kafka(brokers='mock', "
                                          f"topic='{topic}', columns='qr TEXT $.q r')"),
                     "kafka: option columns: bad JSON path '$.q r' for column qr")
