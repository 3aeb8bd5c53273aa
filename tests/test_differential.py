"""Differential test of the read side: thousands of seeded random queries,
each run on a kafka table and on a plain SQLite copy of its topic (same
columns, same rowids); pushdown may make a query faster, never different.

A failure prints the seed, the query number and both queries, ready to
paste into the sqlite3 shell. DIFF_SEED=<n> replays a run; DIFF_QUERIES=<n>
overrides the number of queries."""

import os
import random

import kit
import readkit as rk

PARTITIONS = 3
ROWS = 45
COLUMNS = "partition, offset, timestamp, key, value, headers, time"

# Literals of every type, int64 bounds and REALs beyond them included.
LITERALS = ["0", "1", "2", "3", "5", "7", "14", "15", "16", "-1", "100",
            "9223372036854775807", "-9223372036854775808", "9223372036854775806",
            "2.5", "-0.5", "3.0", "1e19", "-1e19", "9223372036854775808.0",
            "-9223372036854775809.0", "'3'", "'abc'", "' 4'", "'2.5'", "x'33'",
            "NULL", "1005", "1010.5", "1020", "'1003'"]
ROWID_LITERALS = ["0", "1", "2", "100000", "100001", "300002", "500000", "1400002",
                  "99999", "9223372036854775807", "-1", "250000.5", "'200001'"]
# The hidden time column's text ('1970-01-01T00:00:01.000Z' to '...01.022Z'
# here) against ISO text of every precision, and what is not ISO text.
TIME_LITERALS = ["'1970-01-01T00:00:01.005Z'", "'1970-01-01T00:00:01.005'", "'1970-01-01T00:00:01.01'",
                 "'1970-01-01T00:00:01'", "'1970-01-01T00:00'", "'1970-01-01'", "'1970-01-02'", "'1970'",
                 "'1970-01-01T00:00:01.022Z'", "'1970-01-01T00:00:01.000Z'", "'1969-12-31'", "''",
                 "'abc'", "'1970-01-01T00:00:01.0155'", "5", "2.5", "NULL", "x'31'"]
CMP = ["=", "<", "<=", ">", ">=", "!=", "IS", "IS NOT"]


def _fill(conn):
    """ROWS messages over PARTITIONS partitions: keys with NULL and '',
    values that look numeric or not, tombstones, unordered timestamps."""
    for i in range(ROWS):
        key = None if i % 11 == 0 else "" if i % 13 == 0 else f"k{i % 7}"
        value = None if i % 17 == 0 else str(i % 9) if i % 2 else f"v{i}"
        conn.execute("INSERT INTO t(partition, timestamp, key, value) VALUES (?, ?, ?, ?)",
                     (i % PARTITIONS, 1000 + (i * 7) % 23, key, value))


def _copy(conn):
    conn.execute("CREATE TEMP TABLE copy(partition INTEGER, offset INTEGER, timestamp INTEGER, "
                 "key TEXT, value TEXT, headers TEXT, time TEXT)")
    conn.execute(f"INSERT INTO copy(rowid, {COLUMNS}) SELECT rowid, {COLUMNS} FROM t")
    conn.execute("CREATE TEMP TABLE nums(n INTEGER)")
    conn.executemany("INSERT INTO nums VALUES (?)", [(n,) for n in (-1, 0, 1, 2, 3, 5, 8, 13, 40)])
    return conn.execute("SELECT count(*) FROM copy").fetchone()[0]


class Gen:
    """Random SQL over table placeholder {T} (and {U} for a self-join)."""

    def __init__(self, rng):
        self.r = rng

    def literal(self, column):
        return self.r.choice(ROWID_LITERALS if column == "rowid" else TIME_LITERALS if column == "time"
                             else LITERALS)

    def in_list(self, column):
        if self.r.random() < 0.3:
            return f"(SELECT n FROM nums WHERE n {self.r.choice(CMP[:5])} {self.r.choice(LITERALS[:8])})"
        return "(" + ", ".join(self.literal(column) for _ in range(self.r.randint(1, 5))) + ")"

    def term(self, alias):
        r = self.r
        column = r.choice(["partition", "offset", "offset", "timestamp", "rowid", "key", "value", "time"])
        ref = f"{alias}.{column}" if alias else column
        kind = r.random()
        if kind < 0.5:
            return f"{ref} {r.choice(CMP)} {self.literal(column)}"
        if kind < 0.7:
            return f"{ref} {r.choice(['IN', 'NOT IN'])} {self.in_list(column)}"
        if kind < 0.85:
            return f"{ref} {r.choice(['BETWEEN', 'NOT BETWEEN'])} {self.literal(column)} AND {self.literal(column)}"
        return f"{ref} IS {r.choice(['', 'NOT '])}NULL"

    def where(self, alias="", depth=0):
        r = self.r
        if depth > 2 or r.random() < 0.45:
            return self.term(alias)
        op = r.choice(["AND", "AND", "OR", "OR", "NOT"])
        if op == "NOT":
            return f"NOT ({self.where(alias, depth + 1)})"
        return f"({self.where(alias, depth + 1)} {op} {self.where(alias, depth + 1)})"

    def limit(self):
        r = self.r
        n = r.choice(["0", "1", "2", "4", "10", "100", "-1", "9223372036854775807",
                      "9223372036854775806"])
        tail = f" OFFSET {r.choice(['1', '3', '50', '9223372036854775807'])}" if r.random() < 0.3 else ""
        return f" LIMIT {n}{tail}"

    def query(self):
        """(sql, how): how the results compare, see _same()."""
        r = self.r
        kind = r.random()
        where = f" WHERE {self.where()}" if r.random() < 0.9 else ""
        if kind < 0.15:
            agg = r.choice(["count(*)", "sum(offset)", "max(rowid)", "min(timestamp)", "count(DISTINCT key)"])
            return f"SELECT {agg} FROM {{T}}{where}", "list"
        if kind < 0.25:
            on = r.choice(["a.partition = b.partition AND a.offset = b.offset + 1",
                           "a.rowid = b.rowid", "a.offset = b.partition"])
            sql = (f"SELECT a.partition, a.offset, b.partition, b.offset FROM {{T}} a JOIN {{T}} b ON {on}"
                   f" WHERE {self.where('a')} AND {self.where('b')}")
            return sql, "bag"
        if kind < 0.32:
            return (f"SELECT n, {{T}}.partition, {{T}}.offset FROM nums JOIN {{T}} ON {{T}}.offset = nums.n"
                    f" WHERE {self.where('{T}')}"), "bag"
        order = r.choice(["", "", " ORDER BY offset", " ORDER BY offset DESC", " ORDER BY rowid",
                          " ORDER BY rowid DESC", " ORDER BY partition, offset DESC"])
        limit = self.limit() if r.random() < 0.5 else ""
        sql = f"SELECT rowid, {COLUMNS} FROM {{T}}{where}{order}{limit}"
        if "rowid" in order or "partition," in order:
            return sql, "list"
        if order:
            return sql, "offsets" if limit else "bag"
        return sql, "subset" if limit else "bag"


def _same(got, want, want_all, how):
    """got (kafka) against want (copy). want_all: the copy's rows without
    LIMIT/OFFSET, for orders and limits that leave a choice of rows."""
    if how == "list":
        return got == want
    if how == "bag":
        return sorted(got, key=repr) == sorted(want, key=repr)
    fits = all(row in want_all for row in got) and len(got) == len(want)
    if how == "offsets":  # ORDER BY offset: ties between partitions may go either way
        return fits and [row[2] for row in got] == [row[2] for row in want]
    return fits


def _strip_limit(sql):
    i = sql.find(" LIMIT ")
    return sql if i < 0 else sql[:i]


def _run(conn, queries, group_queries, name, table="t"):
    seed = int(os.environ.get("DIFF_SEED", random.randrange(1 << 30)))
    queries = int(os.environ.get("DIFF_QUERIES", queries))
    for i in range(queries):
        sql, how = Gen(random.Random(seed * 100003 + i)).query()
        kafka_sql, copy_sql = sql.format(T=table), sql.format(T="copy")
        try:
            got = conn.execute(kafka_sql).fetchall()
        except Exception as e:
            raise AssertionError(f"{name} seed {seed} query {i}: {kafka_sql}\n  failed: {e}") from e
        want = conn.execute(copy_sql).fetchall()
        want_all = conn.execute(_strip_limit(copy_sql)).fetchall() if how in ("offsets", "subset") else want
        if not _same(got, want, want_all, how):
            raise AssertionError(
                f"{name} seed {seed} query {i} differs ({how}):\n  {kafka_sql}\n  -> {got[:20]}\n"
                f"  {copy_sql}\n  -> {want[:20]}\n  plan: {kit.eqp(conn, kafka_sql)}")
    # Group tables: a fresh group reads the whole topic once (read-only:
    # nothing was committed before), with every plan a group allows.
    table_options = conn.execute("SELECT sql FROM sqlite_master WHERE name = 't'").fetchone()[0]
    for i in range(group_queries):
        sql, how = Gen(random.Random(seed * 100003 + queries + i)).query()
        group = kit.topic("diffgroup")
        conn.execute(table_options.replace("CREATE VIRTUAL TABLE t ", f"CREATE VIRTUAL TABLE g{i} ")
                     .replace("kafka(", f"kafka(group = '{group}', ", 1))
        kafka_sql, copy_sql = sql.format(T=f"g{i}"), sql.format(T="copy")
        got = conn.execute(kafka_sql).fetchall()
        want = conn.execute(copy_sql).fetchall()
        want_all = conn.execute(_strip_limit(copy_sql)).fetchall()
        conn.execute(f"DROP TABLE g{i}")
        if not _same(got, want, want_all, how):
            raise AssertionError(f"{name} seed {seed} group query {i} differs ({how}):\n  {kafka_sql}\n"
                                 f"  -> {got[:20]}\n  {copy_sql}\n  -> {want[:20]}")


@kit.timeout(600)
def test_differential_mock():
    conn = kit.connect()
    rk.table(conn, "t", kit.topic("diff"), brokers="mock", partitions=PARTITIONS)
    _fill(conn)
    assert _copy(conn) == ROWS
    _run(conn, 3000, 40, "mock")


@kit.timeout(900)
def test_differential_broker():
    kit.need_broker()
    conn = kit.connect()
    rk.table(conn, "t", kit.topic("diff"), partitions=PARTITIONS)
    _fill(conn)
    assert _copy(conn) == ROWS
    _run(conn, 500, 10, "broker")


def _messages_view(conn, brokers, topic):
    """kafka_messages() over the same topic, as a TEMP view m (what the
    generated SQL can name and alias) of the same columns and rowids."""
    conn.execute(f"CREATE TEMP VIEW m AS SELECT rowid AS rowid, {COLUMNS} "
                 f"FROM kafka_messages('{brokers}', '{topic}')")


@kit.timeout(600)
def test_differential_kafka_messages_mock():
    """The same random queries over kafka_messages(): the table's plan and
    scan code behind a table-valued function, the same answers."""
    conn = kit.connect()
    topic = kit.topic("diffm")
    rk.table(conn, "t", topic, brokers="mock", partitions=PARTITIONS)
    _fill(conn)
    assert _copy(conn) == ROWS
    _messages_view(conn, "mock", topic)
    _run(conn, 1500, 0, "kafka_messages mock", table="m")


@kit.timeout(900)
def test_differential_kafka_messages_broker():
    kit.need_broker()
    conn = kit.connect()
    topic = kit.topic("diffm")
    try:
        rk.table(conn, "t", topic, partitions=PARTITIONS)
        _fill(conn)
        assert _copy(conn) == ROWS
        _messages_view(conn, kit.BROKER, topic)
        _run(conn, 300, 0, "kafka_messages broker", table="m")
    finally:
        kit.delete_topic(topic)
