"""The read side on the REAL broker: data written by kcat and kafka-python,
read back byte-exact; pushdown proven not to change results; compacted and
transactional topics; bounded errors."""

import sqlite3
import threading
import time

import kit
import readkit as rk


def _pushdown_topic():
    """3 partitions x 40 messages from kafka-python with timestamps that are
    not monotonic within a partition; returns (topic, timestamps)."""
    topic = kit.create_topic(kit.topic("push"), partitions=3)
    producer = rk.kafka_producer()
    base = 1_700_000_000_000
    stamps = []
    for p in range(3):
        for i in range(40):
            ts = base + i * 1000 + (7000 if i % 9 == 4 else 0) + p
            stamps.append(ts)
            producer.send(topic, partition=p, key=f"k{p}-{i}".encode(),
                          value=f"v{p}-{i}".encode(), timestamp_ms=ts)
    producer.flush()
    producer.close()
    return topic, sorted(stamps)


def test_counts_per_partition_equal_kcat():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("cnt"), partitions=3)
    lines = "".join(f"k{i}\tv{i}\n" for i in range(3000))
    kit.kcat("-P", "-t", topic, "-K", "\t", input=lines)
    want = rk.kcat_rows(topic)
    conn = kit.connect()
    rk.table(conn, "t", topic)
    got = conn.execute('SELECT partition, offset, timestamp FROM t').fetchall()
    assert sorted(got) == want, (len(got), len(want))
    per = dict(conn.execute("SELECT partition, count(*) FROM t GROUP BY 1").fetchall())
    assert per == {p: sum(1 for r in want if r[0] == p) for p in range(3)}
    assert sum(per.values()) == 3000


def test_pushdown_forms_do_not_change_results():
    kit.need_broker()
    topic, stamps = _pushdown_topic()
    conn = kit.connect()
    rk.table(conn, "t", topic)
    assert rk.oracle(conn, "t") == 120
    mid = stamps[len(stamps) // 2]
    wheres = [
        ('WHERE "partition" = 1', "partition ="),
        ('WHERE "partition" IN (0, 2)', "partition IN"),
        ('WHERE "partition" > 0', "partition >"),
        ('WHERE "partition" >= 1', "partition >="),
        ('WHERE "partition" < 2', "partition <"),
        ('WHERE "partition" <= 1', "partition <="),
        ('WHERE "partition" BETWEEN 1 AND 2', "partition >=, partition <="),
        ('WHERE "offset" = 5', "offset ="),
        ('WHERE "offset" > 30', "offset >"),
        ('WHERE "offset" >= 30', "offset >="),
        ('WHERE "offset" < 4', "offset <"),
        ('WHERE "offset" <= 4', "offset <="),
        ('WHERE "offset" BETWEEN 10 AND 12', "offset >=, offset <="),
        ('WHERE "offset" > 2.5 AND "offset" < 5.5', "offset >, offset <"),
        ("WHERE \"offset\" >= '37'", "offset >="),
        ("WHERE \"offset\" < 'abc'", "offset <"),
        ('WHERE "offset" = NULL', "offset ="),
        ('WHERE "offset" IN (1, 3, 99)', "offset IN"),
        ('WHERE "partition" = 1 AND "offset" BETWEEN 5 AND 9', "partition =, offset >=, offset <="),
        ('WHERE "partition" = 7', "partition ="),
        (f'WHERE "timestamp" >= {mid}', "timestamp >="),
        (f'WHERE "timestamp" > {mid}', "timestamp >"),
        (f'WHERE "timestamp" = {mid}', "timestamp ="),
        (f'WHERE "timestamp" < {mid}', "timestamp <"),
        (f'WHERE "timestamp" <= {mid}', "timestamp <="),
        (f'WHERE "timestamp" >= {stamps[-1] + 1}', "timestamp >="),
        (f'WHERE "timestamp" >= {mid} AND "partition" = 2 AND "offset" < 30',
         "timestamp >=, partition =, offset <"),
    ]
    for where, plan in wheres:
        eqp, rows = rk.compare(conn, where)
        for part in plan.split(", "):
            assert part in eqp, (where, eqp)
    # The non-monotonic timestamps: offsets-for-times must not skip a row.
    _, rows = rk.compare(conn, f'WHERE "timestamp" >= {mid}')
    assert 0 < len(rows) < 120


def test_limit_and_order_pushdown():
    kit.need_broker()
    topic, _ = _pushdown_topic()
    conn = kit.connect()
    rk.table(conn, "t", topic)
    rk.oracle(conn, "t")
    # One partition is read in offset order: LIMIT/OFFSET are exact.
    for tail in ("ORDER BY offset LIMIT 5", "ORDER BY offset LIMIT 5 OFFSET 3"):
        eqp, rows = rk.compare(conn, 'WHERE "partition" = 1', tail, ordered=True)
        assert "LIMIT" in eqp and "ORDER BY offset" in eqp and "B-TREE" not in eqp, eqp
        assert len(rows) == 5
    # Newest first from the tails; ties between partitions: compare offsets.
    for where, tail, n in [("", "ORDER BY offset DESC LIMIT 5", 5),
                           ("", "ORDER BY offset DESC LIMIT 4 OFFSET 2", 4),
                           ('WHERE "partition" IN (0, 1)', "ORDER BY offset DESC LIMIT 3", 3),
                           ('WHERE "offset" < 20', "ORDER BY offset DESC LIMIT 5", 5),
                           ('WHERE "partition" = 2', "ORDER BY offset DESC LIMIT 500", 40)]:
        sql = f"SELECT {rk.ROW} FROM t {where} {tail}"
        eqp = kit.eqp(conn, sql)
        assert "ORDER BY offset DESC" in eqp and "B-TREE" not in eqp, eqp
        got = conn.execute(sql).fetchall()
        want = conn.execute(f"SELECT {rk.ROW} FROM oracle {where} {tail}").fetchall()
        assert [r[1] for r in got] == [r[1] for r in want] and len(got) == n, (sql, got, want)
        every = set(conn.execute(f"SELECT {rk.ROW} FROM oracle").fetchall())
        assert set(got) <= every
    # LIMIT with a term the table leaves to SQLite, or an ORDER BY it does
    # not produce: not pushed, and the answer is still right.
    for where, tail in [("WHERE value = 'v2-33'", "LIMIT 1"),
                        ("WHERE key LIKE 'k1-%'", "ORDER BY key DESC LIMIT 3"),
                        ("", "ORDER BY key DESC LIMIT 3")]:
        sql = f"SELECT {rk.ROW} FROM t {where} {tail}"
        assert "LIMIT" not in kit.eqp(conn, sql), sql
        got = conn.execute(sql).fetchall()
        want = conn.execute(f"SELECT {rk.ROW} FROM oracle {where} {tail}").fetchall()
        assert [r[1:] for r in got] == [r[1:] for r in want] or "offset ASC" in tail, (sql, got, want)
        assert len(got) == len(want) and len(got) > 0
    # Oldest first from the heads, in rowid order (offset, then partition).
    sql = f"SELECT rowid, {rk.ROW} FROM t ORDER BY offset ASC LIMIT 3 OFFSET 1"
    assert kit.eqp(conn, sql) == "SCAN t VIRTUAL TABLE INDEX 2:LIMIT, OFFSET, ORDER BY offset", kit.eqp(conn, sql)
    assert conn.execute(sql).fetchall() == conn.execute(
        f"SELECT partition + 100000 * offset, {rk.ROW} FROM oracle ORDER BY offset, partition LIMIT 3 OFFSET 1").fetchall()
    # A plain LIMIT: that many rows, each a real one.
    rows = conn.execute(f"SELECT {rk.ROW} FROM t LIMIT 7 OFFSET 2").fetchall()
    assert len(rows) == 7 and set(rows) <= set(conn.execute(f"SELECT {rk.ROW} FROM oracle").fetchall())
    assert "LIMIT, OFFSET" in kit.eqp(conn, "SELECT * FROM t LIMIT 7 OFFSET 2")


def test_round_trip_bytes_keys_values_headers():
    """Keys, values and headers from an independent client, byte-exact:
    binary, empty, NULL, invalid UTF-8, repeated header names."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("bytes"))
    cases = [
        (b"", b"", [("e", b"")]),
        (None, b"v", []),
        (b"k", None, [("t", b"tombstone")]),
        (b"\x00\xff\xfe", b"\x80\x00binary\xc3", [("bin", b"\xff\x00"), ("bin", b"x")]),
        ("κλειδί".encode(), "välue ✓".encode(), [("r", b"1"), ("r", b"2"), ("r", b"3")]),
        (b"nul\x00inside", b"a\x00b", [("s", "ß".encode())]),
    ]
    producer = rk.kafka_producer()
    for key, value, headers in cases:
        producer.send(topic, key=key, value=value, headers=headers, partition=0)
    producer.flush()
    producer.close()
    # A header with no value (null) and one with an empty value, by kcat.
    kit.kcat("-P", "-t", topic, "-p", "0", "-k", "kc", "-H", "n", "-H", "e=", input="kcat\n")
    cases.append((b"kc", b"kcat", None))
    conn = kit.connect()
    rk.table(conn, "t", topic)
    rk.table(conn, "b", topic, key="blob", value="blob")
    rows = conn.execute("SELECT key, value, headers, typeof(key), typeof(value) FROM t ORDER BY offset").fetchall()
    blobs = conn.execute("SELECT key, value FROM b ORDER BY offset").fetchall()
    assert len(rows) == len(cases) == len(blobs)
    for (key, value, headers), row, blob in zip(cases, rows, blobs):
        assert blob == (key, value), (blob, key, value)
        for got, want, typ in ((row[0], key, row[3]), (row[1], value, row[4])):
            if want is None:
                assert got is None and typ == "null"
            elif b"\x00" not in want and _utf8(want):
                assert typ == "text" and got == want.decode(), (got, want)
            else:
                assert typ == "blob" and got == want, (got, want)
    hdrs = [r[2] for r in rows]
    assert hdrs[0] == '{"e":""}'
    assert hdrs[1] is None
    assert hdrs[2] == '{"t":"tombstone"}'
    assert hdrs[3] == '{"bin":[{"hex":"ff00"},"x"]}'
    assert hdrs[4] == '{"r":["1","2","3"]}'
    assert hdrs[5] == '{"s":"ß"}'
    assert hdrs[6] == '{"n":null,"e":""}'
    # Empty key vs no key: '' and NULL stay apart.
    assert conn.execute("SELECT count(*) FROM t WHERE key = ''").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM t WHERE key IS NULL").fetchone()[0] == 1


def _utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_kcat_files_byte_exact():
    """kcat sends each file as one message: arbitrary bytes, read back equal."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("files"))
    import os
    import tempfile
    payloads = [bytes(range(256)), b"\n\r\n", "plain text".encode(), b"\xef\xbb\xbfbom"]
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, p in enumerate(payloads):
            path = os.path.join(d, f"m{i}")
            with open(path, "wb") as f:
                f.write(p)
            paths.append(path)
        kit.kcat("-P", "-t", topic, "-p", "0", *paths)
    conn = kit.connect()
    rk.table(conn, "t", topic, value="blob")
    got = [r[0] for r in conn.execute("SELECT value FROM t ORDER BY offset")]
    assert got == payloads


def test_aborted_transaction_and_isolation():
    """An aborted and a committed transaction: read_committed sees only the
    committed rows, read_uncommitted all; control records at the tail never
    make the scan wait."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("txn"))
    producer = rk.kafka_producer(transactional_id=kit.topic("tx"))
    producer.init_transactions()
    producer.begin_transaction()
    for i in range(3):
        producer.send(topic, value=f"aborted{i}".encode(), partition=0)
    producer.flush()
    producer.abort_transaction()
    producer.begin_transaction()
    for i in range(2):
        producer.send(topic, value=f"committed{i}".encode(), partition=0)
    producer.commit_transaction()
    producer.close()
    conn = kit.connect()
    rk.table(conn, "rc", topic, timeout_ms=5000)
    rk.table(conn, "ru", topic, isolation="read_uncommitted", timeout_ms=5000)
    (rc, secs) = rk.timed(lambda: conn.execute("SELECT offset, value FROM rc").fetchall())
    assert [v for _, v in rc] == ["committed0", "committed1"], rc
    assert secs < 3, secs
    ru = conn.execute("SELECT value FROM ru").fetchall()
    assert [v for (v,) in ru] == ["aborted0", "aborted1", "aborted2", "committed0", "committed1"]
    # A range ending on a control record, and one holding only aborted rows.
    offsets = [o for (o,) in conn.execute("SELECT offset FROM ru")]
    assert offsets == [0, 1, 2, 4, 5], offsets  # 3 and 6: the transaction markers
    assert conn.execute("SELECT count(*) FROM rc WHERE offset >= 6").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM rc WHERE offset <= 3").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM ru WHERE offset = 3").fetchone()[0] == 0
    assert conn.execute("SELECT value FROM rc ORDER BY offset DESC LIMIT 1").fetchone()[0] == "committed1"


def test_open_transaction_snapshot_ends_at_lso():
    """read_committed ends at the last stable offset while a transaction is
    open (and does not wait for it); read_uncommitted reads to the high
    watermark."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("lso"))
    kit.kcat("-P", "-t", topic, "-p", "0", input="plain1\nplain2\n")
    producer = rk.kafka_producer(transactional_id=kit.topic("tx"))
    producer.init_transactions()
    producer.begin_transaction()
    producer.send(topic, value=b"open1", partition=0)
    producer.flush()
    try:
        conn = kit.connect()
        rk.table(conn, "rc", topic, timeout_ms=5000)
        rk.table(conn, "ru", topic, isolation="read_uncommitted", timeout_ms=5000)
        rows, secs = rk.timed(lambda: conn.execute("SELECT value FROM rc").fetchall())
        assert rows == [("plain1",), ("plain2",)] and secs < 3, (rows, secs)
        assert conn.execute("SELECT value FROM ru").fetchall() == [("plain1",), ("plain2",), ("open1",)]
        assert conn.execute("SELECT value FROM rc ORDER BY offset DESC LIMIT 5").fetchall() == [("plain2",), ("plain1",)]
    finally:
        producer.commit_transaction()
        producer.close()
    assert conn.execute("SELECT count(*) FROM rc").fetchone()[0] == 3


@kit.timeout(120)
def test_compacted_topic():
    """After the log cleaner ran: the scan equals kcat, ranges inside a gap
    end at once, and no scan waits for offsets that are gone."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("compact"), config={
        "cleanup.policy": "compact", "segment.ms": 100, "min.cleanable.dirty.ratio": 0.001,
        "delete.retention.ms": 100, "min.compaction.lag.ms": 0})
    # Five keys written once, each followed by 20 updates of key x: after
    # cleaning, the five stay with gaps of 20 between them.
    kit.kcat("-P", "-t", topic, "-p", "0", "-K", ":",
             input="".join(f"u{i}:keep{i}\n" + "x:dup\n" * 20 for i in range(5)))
    deadline = time.monotonic() + 60
    while len(rk.kcat_rows(topic)) >= 105:
        assert time.monotonic() < deadline, "the log cleaner did not run within 60 s"
        time.sleep(1)
        kit.kcat("-P", "-t", topic, "-p", "0", "-K", ":", input="x:roll\n")  # rolls the segment
    want = rk.kcat_rows(topic)
    conn = kit.connect()
    rk.table(conn, "t", topic, timeout_ms=5000)
    got, secs = rk.timed(lambda: conn.execute("SELECT partition, offset, timestamp FROM t").fetchall())
    assert sorted(got) == want and secs < 3, (len(got), len(want), secs)
    offsets = [o for _, o, _ in want]
    gaps = [(a + 1, b - 1) for a, b in zip(offsets, offsets[1:]) if b - a > 1]
    assert gaps, offsets
    lo, hi = gaps[0]
    n, secs = rk.timed(lambda: conn.execute(
        f"SELECT count(*) FROM t WHERE offset BETWEEN {lo} AND {hi}").fetchone()[0])
    assert n == 0 and secs < 3, (n, secs)
    latest = dict(conn.execute("SELECT key, value FROM t ORDER BY offset").fetchall())
    assert sorted(latest) == ["u0", "u1", "u2", "u3", "u4", "x"], latest
    assert [latest[f"u{i}"] for i in range(5)] == [f"keep{i}" for i in range(5)]


def test_follow_picks_up_message_produced_during_scan():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("follow"), partitions=2)
    kit.kcat("-P", "-t", topic, "-p", "0", input="before\n")
    conn = kit.connect()
    rk.table(conn, "t", topic)
    timer = threading.Timer(1.5, lambda: kit.kcat("-P", "-t", topic, "-p", "1", input="during\n"))
    timer.start()
    rows, secs = rk.timed(lambda: conn.execute("SELECT partition, value FROM t WHERE follow = 4000").fetchall())
    timer.join()
    assert sorted(rows) == [(0, "before"), (1, "during")], rows
    assert 5 < secs < 10, secs
    # LIMIT ends a follow scan as soon as it is met.
    threading.Timer(1.0, lambda: kit.kcat("-P", "-t", topic, "-p", "0", input="x1\n")).start()
    rows, secs = rk.timed(lambda: conn.execute(
        "SELECT value FROM t WHERE follow = 30000 AND offset >= 1 LIMIT 1").fetchall())
    assert rows == [("x1",)] and secs < 10, (rows, secs)
    assert "follow =" in kit.eqp(conn, "SELECT * FROM t WHERE follow = 5")


def test_interrupt_stops_follow_and_snapshot():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("intr"))
    kit.kcat("-P", "-t", topic, "-p", "0", input="".join(f"m{i}\n" for i in range(20000)))
    conn = kit.connect()
    rk.table(conn, "t", topic)
    for sql in ("SELECT count(*) FROM t WHERE follow = 60000",
                "SELECT count(*) FROM t, t AS u WHERE u.value = t.value"):
        threading.Timer(1.0, conn.interrupt).start()
        t0 = time.monotonic()
        kit.expect_error(lambda: conn.execute(sql).fetchall(), "interrupted")
        assert time.monotonic() - t0 < 2.5, sql
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 20000


def test_timestamp_pushdown_reads_less():
    """offsets-for-times on the real broker: a late timestamp bound starts
    the partition near its end (the scan sees only the rows it returns)."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("ts"))
    producer = rk.kafka_producer()
    base = 1_600_000_000_000
    for i in range(2000):
        producer.send(topic, value=f"{i}".encode(), partition=0, timestamp_ms=base + i)
    producer.flush()
    producer.close()
    conn = kit.connect()
    rk.table(conn, "t", topic)
    rows = conn.execute(f"SELECT offset FROM t WHERE timestamp >= {base + 1990}").fetchall()
    assert [o for (o,) in rows] == list(range(1990, 2000))
    # The rowid is offset * 100000 + partition in every plan.
    assert conn.execute(f"SELECT min(rowid) FROM t WHERE timestamp >= {base + 1990}").fetchone()[0] == 199000000
    # The cursor hands SQLite only the 10 wanted rows: SQLite runs a few
    # VM instructions per row it is given (counted by a progress handler).
    def vm_steps(sql):
        steps = [0]
        conn.set_progress_handler(lambda: steps.__setitem__(0, steps[0] + 1), 1)
        assert conn.execute(sql).fetchone()[0] == 10
        conn.set_progress_handler(None, 1)
        return steps[0]
    pushed = vm_steps(f"SELECT count(*) FROM t WHERE timestamp >= {base + 1990}")
    filtered = vm_steps(f"SELECT count(*) FROM t WHERE +timestamp >= {base + 1990}")
    assert pushed * 50 < filtered, (pushed, filtered)


def test_missing_topic_and_unreachable_broker_fail_in_time(tmp=None):
    kit.need_broker()
    topic = kit.create_topic(kit.topic("gone"))
    kit.kcat("-P", "-t", topic, input="a\n")
    import os
    import tempfile
    path = os.path.join(tempfile.mkdtemp(), "db.sqlite")
    conn = kit.connect(path)
    rk.table(conn, "t", topic, timeout_ms=2000)
    rk.table(conn, "u", topic, timeout_ms=2000)
    assert conn.execute("SELECT value FROM t").fetchall() == [("a",)]
    conn.close()
    kit.delete_topic(topic)
    conn = kit.connect(path)
    # The broker is not asked at connect time; the scan fails, in time.
    t0 = time.monotonic()
    kit.expect_error(lambda: conn.execute("SELECT * FROM t").fetchall(), f"topic '{topic}' does not exist")
    assert time.monotonic() - t0 < 5
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = replace(sql, ?, '127.0.0.1:1') WHERE name = 'u'", (kit.BROKER,))
    conn.close()
    conn = kit.connect(path)
    t0 = time.monotonic()
    kit.expect_error(lambda: conn.execute("SELECT * FROM u").fetchall(), "cannot connect to brokers '127.0.0.1:1'")
    assert time.monotonic() - t0 < 6
    kit.expect_error(lambda: kit.connect().execute(
        f"CREATE VIRTUAL TABLE x USING kafka(brokers='127.0.0.1:1', topic='{topic}', timeout_ms=1500)"),
        "cannot connect to brokers '127.0.0.1:1'")
