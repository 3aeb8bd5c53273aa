"""Exact answers on the mock cluster (issue "Exact answers"): the rowid is
a pure function of (partition, offset), OR queries keep every row, int64
bounds saturate, follow mode with ORDER BY ... DESC, a statement never sees
another's error, catalog functions under OR, and EXPLAIN QUERY PLAN of
every documented pushdown, asserted whole."""

import kit
import readkit as rk


def _table(partitions=3, rows=30, **options):
    """T of the issue: 3 partitions x 10 messages, timestamps 1000 + i."""
    conn = kit.connect()
    topic = kit.topic("exact")
    rk.table(conn, "t", topic, brokers="mock", partitions=partitions, **options)
    conn.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                 "INSERT INTO t(partition, key, value, timestamp) "
                 "SELECT i % ?, 'k' || i, 'v' || i, 1000 + i FROM n", (rows - 1, partitions))
    return conn, topic


def _one(conn, sql):
    return conn.execute(sql).fetchone()[0]


def test_or_queries_keep_every_row():
    """SQLite dedups a MULTI-INDEX OR by rowid: a per-scan row counter made
    it drop rows (10 instead of 12 and 21)."""
    conn, topic = _table()
    assert _one(conn, "SELECT count(*) FROM t WHERE partition = 0 OR offset = 3") == 12
    assert _one(conn, "SELECT count(*) FROM t WHERE partition = 1 OR offset = 3 OR partition = 2") == 21
    assert _one(conn, "SELECT count(*) FROM t WHERE offset = 1 OR offset = 2 OR key = 'k0'") == 7


def test_or_on_a_group_table_loses_nothing():
    """The dropped rows of an OR were committed with the group: lost."""
    conn, topic = _table()
    rk.table(conn, "g", topic, brokers="mock", group=kit.topic("exactgroup"))
    assert _one(conn, "SELECT count(*) FROM g WHERE partition = 0 OR offset >= 0") == 30
    assert _one(conn, "SELECT count(*) FROM g") == 0


def _group_table(conn, topic, name="g"):
    rk.table(conn, name, topic, brokers="mock", group=kit.topic("exactgroup"))


def _offsets(conn, name="g"):
    """The group's position as the next full read shows it: per partition,
    the first offset it returns."""
    return conn.execute(f"SELECT partition, min(offset) FROM {name} GROUP BY 1").fetchall()


def test_multi_index_or_on_a_group_table_starts_every_branch_at_the_group():
    """SQLite 3.40 reopens the cursor for each branch of a MULTI-INDEX OR
    (OP_VOpen closes the one before): the first branch's cursor committed at
    its close and the next branch started there, missing rows (sum 8 of 9;
    with `partition IS NULL` nothing at all) and committing past them (DIFF_SEED=714095719)."""
    for where in ("(offset = 2 AND partition = 1) OR offset IN (0, 1, 2)",
                  "(offset = 2 AND partition IS NULL) OR offset IN (0, 1, 2)"):
        conn, topic = _table()
        _group_table(conn, topic)
        sql = f"SELECT sum(offset), count(*) FROM g WHERE {where}"
        assert kit.eqp(conn, sql).splitlines()[0] == "MULTI-INDEX OR", kit.eqp(conn, sql)
        assert conn.execute(sql).fetchone() == (9, 9), where
        # Both branches delivered offsets 0-2 of every partition: the group
        # moved to 3 everywhere, nothing skipped.
        assert _offsets(conn) == [(0, 3), (1, 3), (2, 3)], where


def test_cursors_of_one_statement_commit_the_furthest_position():
    """Two cursors over one group table commit once, at the last close, the
    furthest position either delivered: the second cursor's commit (offsets
    0-2) moved the group back behind the first's (the whole topic)."""
    conn, topic = _table()
    _group_table(conn, topic)
    assert conn.execute("SELECT (SELECT count(*) FROM g), (SELECT count(*) FROM g WHERE offset < 3)"
                        ).fetchone() == (30, 9)
    assert _one(conn, "SELECT count(*) FROM g") == 0


def test_rowid_is_a_pure_function_of_partition_and_offset():
    conn, _ = _table()
    want = [(o * 100000 + p, p, o) for o in range(10) for p in range(3)]
    for sql in ("SELECT rowid, partition, offset FROM t",
                "SELECT rowid, partition, offset FROM t WHERE partition IN (2, 0, 1)",
                "SELECT rowid, partition, offset FROM (SELECT rowid, * FROM t WHERE offset >= 0 LIMIT -1)"):
        assert sorted(conn.execute(sql).fetchall()) == want, sql
    assert conn.execute("SELECT partition, offset FROM t WHERE rowid = 500002").fetchall() == [(2, 5)]
    assert _one(conn, "SELECT count(*) FROM t WHERE rowid BETWEEN 300000 AND 500001") == 8
    # The cursor checks rowid bounds itself, so that a pushed LIMIT stays exact.
    assert _one(conn, "SELECT count(*) FROM (SELECT * FROM t WHERE rowid >= 99999 LIMIT 100 OFFSET 1)") == 26
    assert conn.execute("SELECT offset FROM t WHERE rowid > 899999.5 LIMIT 1 OFFSET 1").fetchall() == [(9,)]


def test_order_by_rowid_limit_reads_heads_and_tails():
    """What Datasette's table page runs on every load."""
    conn, _ = _table()
    conn.execute("CREATE TEMP TABLE copy AS SELECT rowid AS r, partition, offset FROM t")
    for sql, plan in [
            ("SELECT rowid, partition, offset FROM {} ORDER BY rowid DESC LIMIT 4",
             "SCAN t VIRTUAL TABLE INDEX 1:LIMIT, ORDER BY rowid DESC"),
            ("SELECT rowid, partition, offset FROM {} ORDER BY rowid LIMIT 4",
             "SCAN t VIRTUAL TABLE INDEX 2:LIMIT, ORDER BY rowid"),
            ("SELECT rowid, partition, offset FROM {} WHERE rowid > 300001 ORDER BY rowid LIMIT 3 OFFSET 1",
             "SCAN t VIRTUAL TABLE INDEX 2:rowid >, LIMIT, OFFSET, ORDER BY rowid"),
            ("SELECT offset FROM {} WHERE partition > 0 ORDER BY offset LIMIT 3",
             "SCAN t VIRTUAL TABLE INDEX 2:partition >, LIMIT, ORDER BY offset")]:
        got = conn.execute(sql.format("t")).fetchall()
        want = conn.execute(sql.format("copy").replace("rowid", "r")).fetchall()
        assert got == want, (sql, got, want)
        assert kit.eqp(conn, sql.format("t")) == plan, sql


def test_int64_bounds_saturate():
    """Overflowing bound arithmetic: UBSan aborted; LIMIT n OFFSET m with
    n + m beyond int64 returned no row."""
    conn, _ = _table()
    for sql, want in [("SELECT count(*) FROM t WHERE offset > 9223372036854775807", 0),
                      ("SELECT count(*) FROM t WHERE offset > 9223372036854775808.0", 0),
                      ("SELECT count(*) FROM t WHERE offset < 9223372036854775808.0", 30),
                      ("SELECT count(*) FROM t WHERE offset >= -9223372036854775809.0", 30),
                      ("SELECT count(*) FROM t WHERE offset < -9223372036854775808", 0),
                      ("SELECT count(*) FROM t WHERE partition > 4294967296", 0),
                      ("SELECT count(*) FROM t WHERE partition < 4294967296", 30),
                      ("SELECT count(*) FROM t WHERE rowid > 9223372036854775807", 0),
                      ("SELECT count(*) FROM t WHERE rowid <= 9223372036854775807", 30),
                      ("SELECT count(*) FROM t WHERE timestamp > 9223372036854775807", 0)]:
        assert _one(conn, sql) == want, sql
    assert len(conn.execute("SELECT offset FROM t ORDER BY offset DESC LIMIT 9223372036854775807").fetchall()) == 30
    assert len(conn.execute("SELECT offset FROM t LIMIT 9223372036854775806 OFFSET 5").fetchall()) == 25
    assert len(conn.execute("SELECT offset FROM t ORDER BY rowid LIMIT 9223372036854775807 "
                            "OFFSET 9223372036854775807").fetchall()) == 0


def test_follow_with_order_by_offset_desc_limit():
    """Follow mode has no tail: SQLite sorts what the follow scan read. It
    failed with a false "messages were deleted", and the next statement
    failed with that leftover error."""
    conn, _ = _table()
    got = conn.execute("SELECT partition, offset FROM t WHERE follow = 100 ORDER BY offset DESC, "
                       "partition LIMIT 2").fetchall()
    assert got == [(0, 9), (1, 9)]
    got = conn.execute("SELECT offset FROM t WHERE follow = 100 ORDER BY offset DESC LIMIT 2").fetchall()
    assert got == [(9,), (9,)]
    assert kit.eqp(conn, "SELECT offset FROM t WHERE follow = 100 ORDER BY offset DESC LIMIT 2") == \
        "SCAN t VIRTUAL TABLE INDEX 0:follow =\nUSE TEMP B-TREE FOR ORDER BY"
    assert _one(conn, "SELECT count(*) FROM t") == 30


def test_follow_must_be_milliseconds():
    conn, _ = _table()
    for value in ("NULL", "'abc'", "-5", "1.5", "x'01'"):
        kit.expect_error(lambda: conn.execute(f"SELECT count(*) FROM t WHERE follow = {value}").fetchall(),
                         "follow must be a whole number of milliseconds, 0 or more")
    kit.expect_error(lambda: conn.execute("SELECT count(*) FROM t WHERE follow = 'abc'").fetchall(),
                     "kafka: follow = abc: ")
    assert _one(conn, "SELECT count(*) FROM t WHERE follow = '0'") == 30


def test_catalog_functions_under_or():
    """Each branch of an OR is planned without the function's arguments:
    such a plan is refused, not an error ("argument brokers is required")."""
    conn, topic = _table()
    assert conn.execute("SELECT topic FROM kafka_topics('mock') WHERE topic = ? OR topic = 'nope'",
                        (topic,)).fetchall() == [(topic,)]
    assert _one(conn, f"SELECT count(*) FROM kafka_partitions('mock', '{topic}') "
                      "WHERE partition = 0 OR partition = 2") == 2
    kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_topics LIMIT 1").fetchall(),
                     "kafka_topics: argument brokers is required")


# The README's pushdown list: (query tail, plan). kafka_messages() plans
# the same (test_oneliners.py).
PUSHDOWN_PLANS = [
    ("WHERE partition = 1", "0:partition ="),
    ("WHERE partition IN (0, 2)", "0:partition IN"),
    ("WHERE offset IN (1, 3)", "0:offset IN"),
    ("WHERE partition BETWEEN 1 AND 2", "0:partition >=, partition <="),
    ("WHERE partition > 0 AND partition < 2", "0:partition >, partition <"),
    ("WHERE offset = 3", "0:offset ="),
    ("WHERE offset BETWEEN 3 AND 7", "0:offset >=, offset <="),
    ("WHERE offset > 3 AND offset < 7", "0:offset >, offset <"),
    ("WHERE timestamp >= 1010", "0:timestamp >="),
    ("WHERE timestamp > 1010", "0:timestamp >"),
    ("WHERE timestamp = 1010", "0:timestamp ="),
    ("WHERE timestamp < 1010", "0:timestamp <"),
    ("WHERE timestamp <= 1010", "0:timestamp <="),
    ("WHERE time >= '2026-12-07T07:00'", "0:time >="),
    ("WHERE time BETWEEN '2026-12-07' AND '2026-12-08'", "0:time >=, time <="),
    ("WHERE rowid = 300001", "0:rowid ="),
    ("WHERE rowid BETWEEN 100000 AND 300001", "0:rowid >=, rowid <="),
    ("WHERE follow = 0", "0:follow ="),
    ("LIMIT 5", "0:LIMIT"),
    ("LIMIT 5 OFFSET 2", "0:LIMIT, OFFSET"),
    ("WHERE partition = 1 ORDER BY offset", "0:partition =, ORDER BY offset"),
    ("WHERE partition = 1 ORDER BY offset LIMIT 2", "0:partition =, LIMIT, ORDER BY offset"),
    ("ORDER BY offset DESC LIMIT 3", "1:LIMIT, ORDER BY offset DESC"),
    ("ORDER BY offset LIMIT 3", "2:LIMIT, ORDER BY offset"),
    ("ORDER BY rowid DESC LIMIT 3", "1:LIMIT, ORDER BY rowid DESC"),
    ("ORDER BY rowid LIMIT 3 OFFSET 1", "2:LIMIT, OFFSET, ORDER BY rowid")]


def test_explain_query_plan_of_every_pushdown():
    """The README's pushdown list, each plan asserted whole."""
    conn, _ = _table()
    scan = "SCAN t VIRTUAL TABLE INDEX "
    for where, plan in PUSHDOWN_PLANS:
        sql = f"SELECT * FROM t {where}"
        assert kit.eqp(conn, sql) == scan + plan, (sql, kit.eqp(conn, sql))
    # What is not pushed: a term left to SQLite keeps LIMIT out.
    assert kit.eqp(conn, "SELECT * FROM t WHERE value = 'v1' LIMIT 1") == scan + "0:"
    assert kit.eqp(conn, "SELECT * FROM t ORDER BY key LIMIT 1") == \
        scan + "0:\nUSE TEMP B-TREE FOR ORDER BY"


def test_cursors_of_a_statement_that_writes_commit_once_with_it():
    """In a statement that writes, each cursor's position waited for the
    statement's commit separately and was committed one after the other: the
    last one won, behind the first (the group came back to offset 3). A
    MULTI-INDEX OR in an INSERT keeps every row."""
    conn, topic = _table()
    _group_table(conn, topic)
    conn.execute("CREATE TABLE sink(a, b)")
    conn.execute("INSERT INTO sink SELECT (SELECT count(*) FROM g WHERE offset < 3), (SELECT count(*) FROM g)")
    assert conn.execute("SELECT * FROM sink").fetchall() == [(9, 30)]
    assert _one(conn, "SELECT count(*) FROM g") == 0
    conn, topic = _table()
    _group_table(conn, topic)
    conn.execute("CREATE TABLE sink(p, o)")
    conn.execute("INSERT INTO sink SELECT partition, offset FROM g "
                 "WHERE (offset = 2 AND partition = 1) OR offset IN (0, 1, 2)")
    assert _one(conn, "SELECT count(*) FROM sink") == 9
    assert _offsets(conn) == [(0, 3), (1, 3), (2, 3)]


def test_a_failed_statement_gives_no_position_to_another_statements_cursor():
    """A cursor that closes while another statement's cursor of the table is
    open must not hand it a position that waits for its own statement: the
    failed INSERT's rows come again."""
    conn, topic = _table()
    _group_table(conn, topic)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("CREATE TABLE parent(id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE child(v, p REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    reading = conn.execute("SELECT offset FROM g WHERE partition = 0")
    assert reading.fetchone() == (0,)
    kit.expect_error(lambda: conn.execute("INSERT INTO child SELECT value, 42 FROM g WHERE partition = 1"),
                     "FOREIGN KEY constraint failed")
    assert len(reading.fetchall()) == 9
    reading.close()
    assert _offsets(conn) == [(1, 0), (2, 0)]


def test_a_join_reads_the_topic_once_when_the_outer_side_may_be_large():
    """A positioned read costs a fetch round trip, not 10 rows: a join over
    a table SQLite cannot count (a million rows, for want of ANALYZE) made a
    positioned read per outer row, which on a 1,003-row self-join or a
    45-message topic took 20-40x a full scan. The lookups stay available."""
    conn, topic = _table()
    conn.execute("CREATE TEMP TABLE nums(n INTEGER)")
    conn.executemany("INSERT INTO nums VALUES (?)", [(n,) for n in (0, 2, 9, 40)])
    join = "SELECT count(*) FROM nums JOIN t ON t.offset = nums.n"
    assert kit.eqp(conn, join) == ("SCAN t VIRTUAL TABLE INDEX 0:\n"
                                   "SEARCH nums USING AUTOMATIC COVERING INDEX (n=?)")
    assert _one(conn, join) == 9
    lookup = "SELECT count(*) FROM t WHERE offset IN (SELECT n FROM nums)"
    assert kit.eqp(conn, lookup) == ("SCAN t VIRTUAL TABLE INDEX 0:offset IN\nLIST SUBQUERY 1\n"
                                     "SCAN nums\nREUSE LIST SUBQUERY 1")
    assert _one(conn, lookup) == 9
    ordered = "SELECT count(*) FROM nums CROSS JOIN t ON t.offset = nums.n"
    assert kit.eqp(conn, ordered) == "SCAN nums\nSCAN t VIRTUAL TABLE INDEX 0:offset ="
    assert _one(conn, ordered) == 9


def test_offset_in_list_is_read_in_runs():
    """offset IN (...) reaches one xFilter with the whole list: listed
    offsets far apart are read as separate runs, never to the end."""
    conn, topic = _table(partitions=2, rows=5000)
    conn.execute("CREATE TEMP TABLE copy AS SELECT partition, offset, value FROM t")
    for where in ["offset IN (1, 5, 1500, 2400, 2499, 9999)",
                  "offset IN (2.0, '3', ' 4', 1200.5, x'31', NULL, -1, 2498)",
                  "offset IN (7, 1900) AND partition = 1",
                  "offset IN (SELECT offset * 1000 FROM copy WHERE offset < 4 AND partition = 0)",
                  "offset IN (10, 2000) AND offset IN (2000, 2001)",
                  "offset NOT IN (0, 1) AND offset IN (0, 1, 2)"]:
        sql = f"SELECT partition, offset, value FROM {{}} WHERE {where}"
        got = sorted(conn.execute(sql.format("t")).fetchall())
        want = sorted(conn.execute(sql.format("copy")).fetchall())
        assert got == want and got, (where, got, want)
    assert kit.eqp(conn, "SELECT * FROM t WHERE offset IN (1, 2000)") == "SCAN t VIRTUAL TABLE INDEX 0:offset IN"
    rk.table(conn, "g", topic, brokers="mock", group=kit.topic("exactgroup"))
    assert conn.execute("SELECT partition, offset FROM g WHERE offset IN (3, 2200) ORDER BY 1, 2").fetchall() == \
        [(0, 3), (0, 2200), (1, 3), (1, 2200)]
