"""SPEC section 12, kcat's one-liners: the hidden `time` column,
kafka_messages(), kafka_offsets_for_times(), lag_ms, shell progress and
similar topic names in errors."""

import datetime

import kit
import readkit as rk

BASE = 1_796_626_800_000  # 2026-12-07T07:00:00.000Z


def iso(ms):
    """The time column's text of ms, computed without the extension."""
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _mock_table(conn, partitions=2):
    topic = kit.topic("one")
    rk.table(conn, "t", topic, brokers="mock", partitions=partitions)
    return topic


def test_time_is_iso_utc_text_with_milliseconds():
    conn = kit.connect()
    _mock_table(conn, 1)
    stamps = [1, 999, 86_399_999, 951_782_400_000, BASE + 123, 253_402_300_799_999, 253_402_300_800_000]
    for ts in stamps:
        conn.execute("INSERT INTO t(timestamp, value) VALUES (?, 'x')", (ts,))
    got = conn.execute("SELECT timestamp, time FROM t").fetchall()
    # Past year 9999 the text would not sort as time does: NULL there.
    want = [(ts, iso(ts) if ts <= 253_402_300_799_999 else None) for ts in stamps]
    assert got == want, got
    assert got[4][1] == "2026-12-07T07:00:00.123Z"
    # Hidden: not in SELECT *.
    assert "time" not in [d[0] for d in conn.execute("SELECT * FROM t").description]


def test_time_bounds_of_any_precision_are_pushed_down_exactly():
    """SQLite compares the text: '2026-12-07T07:00' is below
    '2026-12-07T07:00:00.000Z', so >= keeps that row and = does not."""
    conn = kit.connect()
    _mock_table(conn)
    for i in range(20):
        conn.execute("INSERT INTO t(partition, timestamp, value) VALUES (?, ?, 'x')",
                     (i % 2, BASE + i * 30_000 + i % 3))
    conn.execute("CREATE TEMP TABLE copy AS SELECT partition, offset, time FROM t")
    for where, plan in [
            ("time >= '2026-12-07T07:00'", "time >="),
            ("time > '2026-12-07T07:05'", "time >"),
            ("time BETWEEN '2026-12-07' AND '2026-12-08'", "time >=, time <="),
            ("time = '2026-12-07T07:00:30.001Z'", "time ="),
            ("time = '2026-12-07T07:00:30.001'", "time ="),
            ("time < '2026-12-07T07:03:00.000Z'", "time <"),
            ("time <= '2026-12-07T07:03:00.000Z'", "time <="),
            ("time >= '2026-12-07T07:01:00.002Z'", "time >="),
            ("time < '2026-12-07T07:01:00.002'", "time <"),
            ("time >= 5", "time >="),
            ("time < x'00'", "time <"),
            ("time = NULL", "time ="),
            ("time >= 'é'", "time >=")]:
        sql = f"SELECT partition, offset FROM {{}} WHERE {where}"
        got = sorted(conn.execute(sql.format("t")).fetchall())
        want = sorted(conn.execute(sql.format("copy")).fetchall())
        assert got == want, (where, got, want)
        assert kit.eqp(conn, sql.format("t")) == f"SCAN t VIRTUAL TABLE INDEX 0:{plan}", where
    # Another collation compares otherwise: not pushed down.
    assert kit.eqp(conn, "SELECT * FROM t WHERE time >= '2026' COLLATE NOCASE") == "SCAN t VIRTUAL TABLE INDEX 0:"


def test_time_lower_bound_reads_only_the_tail_on_the_broker():
    """Like timestamp >=: offsets-for-times starts the partition near its
    end; the cursor hands SQLite only the rows it returns."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("time"))
    producer = rk.kafka_producer()
    for i in range(2000):
        producer.send(topic, value=f"{i}".encode(), partition=0, timestamp_ms=BASE + i * 1000)
    producer.flush()
    producer.close()
    conn = kit.connect()
    rk.table(conn, "t", topic)
    since = iso(BASE + 1990 * 1000)[:16]  # minute precision: 2026-12-07T07:33
    want = [o for o in range(2000) if iso(BASE + o * 1000) >= since]
    rows = conn.execute(f"SELECT offset FROM t WHERE time >= '{since}'").fetchall()
    assert [o for (o,) in rows] == want, (since, rows[:3])

    def vm_steps(sql):
        steps = [0]
        conn.set_progress_handler(lambda: steps.__setitem__(0, steps[0] + 1), 1)
        n = conn.execute(sql).fetchone()[0]
        conn.set_progress_handler(None, 1)
        return n, steps[0]
    n, pushed = vm_steps(f"SELECT count(*) FROM t WHERE time >= '{since}'")
    n2, filtered = vm_steps(f"SELECT count(*) FROM t WHERE +time >= '{since}'")
    assert n == n2 == len(want)
    assert pushed * 20 < filtered, (pushed, filtered)


def test_a_typed_column_named_time_keeps_its_name():
    """A table made before the time column existed may have a typed column
    (or a registry field) named time: it keeps the name, and the message
    time is the hidden column kafka_time."""
    conn = kit.connect()
    rk.table(conn, "t", kit.topic("one"), brokers="mock", partitions=1, columns="time TEXT")
    conn.execute("""INSERT INTO t(timestamp, value) VALUES (?, '{"time": "noon"}')""", (BASE,))
    assert conn.execute("SELECT time, kafka_time FROM t").fetchall() == [("noon", iso(BASE))]
    assert kit.eqp(conn, "SELECT * FROM t WHERE kafka_time >= '2026'") == "SCAN t VIRTUAL TABLE INDEX 0:time >="
