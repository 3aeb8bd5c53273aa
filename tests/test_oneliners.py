"""SPEC section 12, kcat's one-liners: the hidden `time` column,
kafka_messages(), kafka_offsets_for_times(), lag_ms, shell progress and
similar topic names in errors."""

import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

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


def test_a_blob_bound_on_time_keeps_every_row_of_an_in_loop():
    """Regression (found by the differential test, seed 792223639): a BLOB
    compared with time bounds nothing (text sorts below every blob), but
    reading its text turned SQLite's argument into text, so the next
    xFilter of an IN loop bounded time < '1' and found no row."""
    conn = kit.connect()
    _mock_table(conn, 1)
    for ts in (7, 14, 1003, 20):
        conn.execute("INSERT INTO t(timestamp, value) VALUES (?, 'x')", (ts,))
    sql = "SELECT offset FROM t WHERE time < x'31' AND timestamp IN (14, 7, '1003') ORDER BY offset"
    assert "time <" in kit.eqp(conn, sql), kit.eqp(conn, sql)
    got = [r[0] for r in conn.execute(sql)]
    assert got == [0, 1, 2], got


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
    try:
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
    finally:
        kit.delete_topic(topic)


def test_a_typed_column_named_time_keeps_its_name():
    """A table made before the time column existed may have a typed column
    (or a registry field) named time: it keeps the name, and the message
    time is the hidden column kafka_time."""
    conn = kit.connect()
    rk.table(conn, "t", kit.topic("one"), brokers="mock", partitions=1, columns="time TEXT")
    conn.execute("""INSERT INTO t(timestamp, value) VALUES (?, '{"time": "noon"}')""", (BASE,))
    assert conn.execute("SELECT time, kafka_time FROM t").fetchall() == [("noon", iso(BASE))]
    assert kit.eqp(conn, "SELECT * FROM t WHERE kafka_time >= '2026'") == "SCAN t VIRTUAL TABLE INDEX 0:time >="


# ------------------------------------------------------ kafka_messages --

def _messages_topic(conn, partitions=3, rows=30, by_key=False):
    """rows messages, round robin over the partitions (by_key: where the
    extension's murmur2 partitioner puts their keys)."""
    topic = _mock_table(conn, partitions)
    for i in range(rows):
        conn.execute("INSERT INTO t(partition, timestamp, key, value, headers) VALUES (?, ?, ?, ?, ?)",
                     (None if by_key else i % partitions, BASE + i, f"k{i % 5}", f'{{"n": {i}}}',
                      '{"h": "x"}' if i % 4 else None))
    return topic


def test_kafka_messages_reads_what_the_table_reads():
    conn = kit.connect()
    topic = _messages_topic(conn)
    m = f"kafka_messages('mock', '{topic}')"
    columns = "rowid, partition, offset, timestamp, key, value, headers, time, error, schema_id"
    # (Partitions interleave in a scan as their fetches arrive: rowid order.)
    got = conn.execute(f"SELECT {columns} FROM {m} ORDER BY rowid").fetchall()
    assert got == conn.execute(f"SELECT {columns} FROM t ORDER BY rowid").fetchall() and len(got) == 30, got
    assert [d[0] for d in conn.execute(f"SELECT * FROM {m}").description] == \
        ["partition", "offset", "timestamp", "key", "value", "headers"]
    newest = conn.execute(f"SELECT partition, offset FROM {m} ORDER BY offset DESC LIMIT 4").fetchall()
    assert newest == [(2, 9), (1, 9), (0, 9), (2, 8)], newest
    # The arguments read back as given, options never (it may hold secrets).
    got = conn.execute(f"SELECT brokers, topic, options FROM kafka_messages('mock', ?, 'value=json') "
                       "LIMIT 1", (topic,)).fetchall()
    assert got == [("mock", topic, None)], got


def test_kafka_messages_plans_exactly_like_a_table():
    """Every pushdown of the README's list (test_exact.PUSHDOWN_PLANS) has
    the same EXPLAIN QUERY PLAN on kafka_messages() as on a kafka table."""
    import test_exact
    conn = kit.connect()
    topic = _messages_topic(conn)
    for where, plan in test_exact.PUSHDOWN_PLANS + [("WHERE value = 'v1' LIMIT 1", "0:")]:
        table = kit.eqp(conn, f"SELECT * FROM t {where}")
        messages = kit.eqp(conn, f"SELECT * FROM kafka_messages('mock', '{topic}') {where}")
        assert table == f"SCAN t VIRTUAL TABLE INDEX {plan}", (where, table)
        assert messages == f"SCAN kafka_messages VIRTUAL TABLE INDEX {plan}", (where, messages)


def test_kafka_messages_options_are_the_table_options():
    conn = kit.connect()
    topic = _messages_topic(conn, partitions=4, rows=40, by_key=True)
    # key = narrows the partitions only with a partitioner, as on a table.
    m = f"kafka_messages('mock', '{topic}', 'value = json, partitioner = murmur2, timeout_ms=5000')"
    assert kit.eqp(conn, f"SELECT * FROM {m} WHERE key = 'k1'") == "SCAN kafka_messages VIRTUAL TABLE INDEX 0:key ="
    assert kit.eqp(conn, f"SELECT * FROM kafka_messages('mock', '{topic}') WHERE key = 'k1'") == \
        "SCAN kafka_messages VIRTUAL TABLE INDEX 0:"
    got = conn.execute(f"SELECT value ->> '$.n' FROM {m} WHERE key = 'k1' ORDER BY 1").fetchall()
    want = conn.execute("SELECT value ->> '$.n' FROM t WHERE key = 'k1' ORDER BY 1").fetchall()
    assert got == want and got, (got, want)
    blob = conn.execute(f"SELECT typeof(value) FROM kafka_messages('mock', '{topic}', 'value=blob') LIMIT 1")
    assert blob.fetchall() == [("blob",)]
    # Two topics, or one with two option sets, in one statement.
    both = conn.execute(f"SELECT count(*) FROM kafka_messages('mock', '{topic}') a "
                        f"JOIN {m} b USING (partition, offset)").fetchone()[0]
    assert both == 40


def test_kafka_messages_errors_name_the_function_and_what():
    conn = kit.connect()
    topic = _messages_topic(conn, rows=3)
    for call, error in [
            ("kafka_messages('mock')", "kafka_messages: argument topic is required: "
                                       "kafka_messages(brokers, topic [, options])"),
            ("kafka_messages", "kafka_messages: argument brokers is required"),
            (f"kafka_messages(1, '{topic}')", "kafka_messages: brokers must be a non-empty text"),
            (f"kafka_messages('mock', '{topic}', 5)", "kafka_messages: options must be a text or NULL"),
            (f"kafka_messages('mock', '{topic}', 'group=g')", "kafka_messages: option group is not accepted here"),
            (f"kafka_messages('mock', '{topic}', 'columns=''a INT''')",
             "kafka_messages: option columns is not accepted here: typed columns need CREATE VIRTUAL TABLE"),
            (f"kafka_messages('mock', '{topic}', 'transactional_id=x')", "option transactional_id is not accepted"),
            (f"kafka_messages('mock', '{topic}', 'bogus=1')", "kafka_messages: unknown option 'bogus'"),
            (f"kafka_messages('mock', '{topic}', 'value=xml')", "kafka_messages: option value must be text,"),
            (f"kafka_messages('mock', '{topic}', 'rdkafka.sasl.password=hunter2, x')",
             "kafka_messages: argument 'x' is not of the form name = 'value'"),
            (f"kafka_messages('mock', '{topic}x')", f"topic '{topic}x' does not exist")]:
        e = kit.expect_error(lambda: conn.execute(f"SELECT * FROM {call}").fetchall(), error)
        assert "hunter2" not in str(e)
    # Read-only by nature.
    kit.expect_error(lambda: conn.execute("INSERT INTO kafka_messages(brokers, topic, value) "
                                          f"VALUES ('mock', '{topic}', 'x')"), "may not be modified")
    # Direct-only, as the kafka module: no view or trigger of a database file.
    conn.execute(f"CREATE VIEW v AS SELECT * FROM kafka_messages('mock', '{topic}')")
    kit.expect_error(lambda: conn.execute("SELECT * FROM v").fetchall(), "unsafe use of virtual table")


# ------------------------------------------------------------- lag_ms --

def test_lag_ms_is_the_age_of_the_next_message_the_group_reads():
    """Checked against the messages' own timestamps: now minus the
    timestamp of the message at the committed offset; 0 when caught up."""
    import time
    kit.need_broker()
    topic = kit.create_topic(kit.topic("lagms"), partitions=3)
    group = kit.topic("lagms-group")
    try:
        now = int(time.time() * 1000)
        stamps = [now - 600_000 + i * 10_000 for i in range(10)]
        producer = rk.kafka_producer()
        for i, ts in enumerate(stamps):
            producer.send(topic, value=f"{i}".encode(), partition=0, timestamp_ms=ts)
        for i in range(3):
            producer.send(topic, value=b"x", partition=1, timestamp_ms=now - 5_000)
        producer.flush()
        producer.close()
        conn = kit.connect()
        B = kit.BROKER
        conn.execute("SELECT kafka_reset_group(?, ?, ?, 4, 0)", (B, group, topic))
        conn.execute("SELECT kafka_reset_group(?, ?, ?, 'latest', 1)", (B, group, topic))
        # The message at offset 4 has its own timestamp: the lag is its age.
        before = int(time.time() * 1000)
        rows = conn.execute("SELECT partition, committed, lag, lag_ms FROM kafka_group_offsets(?, ?)",
                            (B, group)).fetchall()
        after = int(time.time() * 1000)
        assert [r[:3] for r in rows] == [(0, 4, 6), (1, 3, 0)], rows
        assert before - stamps[4] <= rows[0][3] <= after - stamps[4], (rows, before - stamps[4])
        assert rows[1][3] == 0, rows
        # Read on: the next message is younger, the lag in time smaller.
        conn.execute("SELECT kafka_reset_group(?, ?, ?, 9, 0)", (B, group, topic))
        lag_ms = conn.execute("SELECT lag_ms FROM kafka_group_offsets(?, ?) WHERE partition = 0",
                              (B, group)).fetchone()[0]
        assert before - stamps[9] <= lag_ms <= int(time.time() * 1000) - stamps[9], lag_ms
    finally:
        kit.delete_topic(topic)


def test_lag_ms_on_the_mock_cluster():
    conn = kit.connect()
    topic = kit.topic("lagm")
    rk.table(conn, "g", topic, brokers="mock", partitions=1, group="lagm")
    conn.execute("INSERT INTO g(timestamp, value) VALUES (1000, 'a'), (2000, 'b'), (3000, 'c')")
    conn.execute("SELECT value FROM g LIMIT 1").fetchall()  # commits position 1
    import time
    row = conn.execute("SELECT committed, lag, lag_ms FROM kafka_group_offsets('mock', 'lagm')").fetchone()
    assert row[:2] == (1, 2) and abs(row[2] - (int(time.time() * 1000) - 2000)) < 5000, row
    conn.execute("SELECT value FROM g").fetchall()
    assert conn.execute("SELECT lag, lag_ms FROM kafka_group_offsets('mock', 'lagm')").fetchone() == (0, 0)


# ---------------------------------------------- kafka_offsets_for_times --

def _kcat_offsets(topic, partitions, ms):
    """{partition: offset} from kcat -Q (-1: no message that late)."""
    args = []
    for p in range(partitions):
        args += ["-t", f"{topic}:{p}:{ms}"]
    out = kit.kcat("-Q", *args).decode()
    got = {}
    for line in out.splitlines():  # "<topic> [<p>] offset <n>"
        words = line.split()
        got[int(words[1].strip("[]"))] = int(words[3])
    return got


def _get_offset_shell(topic, ms):
    """{partition: offset} from Kafka's GetOffsetShell (run-class starts
    nothing: it is a client of the broker)."""
    out = kit.kafka_sh("run-class", "org.apache.kafka.tools.GetOffsetShell", "--bootstrap-server",
                       kit.BROKER, "--topic", topic, "--time", str(ms), timeout=120)
    got = {}
    for line in out.splitlines():  # "<topic>:<p>:<offset>"
        _, p, offset = line.rsplit(":", 2)
        got[int(p)] = int(offset)
    return got


def test_offsets_for_times_agree_with_kcat_and_get_offset_shell():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("oft"), partitions=3)
    try:
        producer = rk.kafka_producer()
        stamps = {}
        for i in range(30):  # partition 2 gets its messages' times out of order
            ts = BASE + i * 1000 + (5000 if i % 3 == 2 and i % 2 else 0)
            producer.send(topic, value=b"x", partition=i % 3, timestamp_ms=ts)
            stamps.setdefault(i % 3, []).append(ts)
        producer.flush()
        producer.close()
        conn = kit.connect()
        sql = "SELECT partition, offset, timestamp FROM kafka_offsets_for_times(?, ?, ?)"
        for ms in (0, BASE, BASE + 4000, BASE + 4001, BASE + 15500, BASE + 29000, BASE + 40000):
            rows = conn.execute(sql, (kit.BROKER, topic, ms)).fetchall()
            got = {p: -1 if o is None else o for p, o, _ in rows}
            kcat = _kcat_offsets(topic, 3, ms)
            assert got == kcat, (ms, rows, kcat)
            # GetOffsetShell leaves out the partitions with no message that late.
            shell = _get_offset_shell(topic, ms)
            assert {p: o for p, o in got.items() if o >= 0} == shell, (ms, rows, shell)
            # The timestamp is that message's own; none past the last one.
            for p, offset, ts in rows:
                assert ts == (None if offset is None else stamps[p][offset]), (ms, rows)
                assert offset is None or ts >= ms
        # Time as ISO text of any precision, or earliest / latest.
        iso_rows = conn.execute(sql, (kit.BROKER, topic, "2026-12-07T07:00:04.001Z")).fetchall()
        assert iso_rows == conn.execute(sql, (kit.BROKER, topic, BASE + 4001)).fetchall()
        assert conn.execute(sql, (kit.BROKER, topic, "2026-12-07")).fetchall() == \
            conn.execute(sql, (kit.BROKER, topic, BASE - 7 * 3600 * 1000)).fetchall()
        assert conn.execute(sql, (kit.BROKER, topic, "earliest")).fetchall() == \
            [(p, 0, stamps[p][0]) for p in range(3)]
        assert conn.execute(sql, (kit.BROKER, topic, "latest")).fetchall() == [(p, 10, None) for p in range(3)]
        for bad in ("soon", -5, "2026-13-01"):
            kit.expect_error(lambda: conn.execute(sql, (kit.BROKER, topic, bad)).fetchall(),
                             "kafka_offsets_for_times: time must be ms since the epoch")
        kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_offsets_for_times(?, ?)",
                                              (kit.BROKER, topic)).fetchall(),
                         "kafka_offsets_for_times: argument time is required: "
                         "kafka_offsets_for_times(brokers, topic, time [, options])")
        kit.expect_error(lambda: conn.execute(sql, (kit.BROKER, topic + "x", 0)).fetchall(),
                         f"kafka_offsets_for_times: topic '{topic}x' does not exist")
        kit.expect_error(lambda: conn.execute(sql, ("mock", topic, 0)).fetchall(),
                         "kafka_offsets_for_times: the mock cluster has no timestamp look-ups")
    finally:
        kit.delete_topic(topic)


# ----------------------------------------------------- similar topics --

def test_an_unknown_topic_names_up_to_three_similar_ones():
    conn = kit.connect()
    stem = kit.topic("orders")
    for suffix in ("", "2", "-eu", "-archive-2019"):
        conn.execute("SELECT kafka_create_topic('mock', ?, 1)", (stem + suffix,))
    typo = stem[:-1] + "X"  # one letter off
    e = kit.expect_error(lambda: conn.execute(
        f"CREATE VIRTUAL TABLE t USING kafka(brokers='mock', topic='{typo}')"), f"topic '{typo}' does not exist")
    assert f"similar topics: '{stem}', '{stem}2', '{stem}-eu'" in str(e), e
    e = kit.expect_error(lambda: conn.execute(f"SELECT * FROM kafka_messages('mock', '{typo}')").fetchall(),
                         f"similar topics: '{stem}', '{stem}2', '{stem}-eu'")
    # Nothing close: no list.
    e = kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_messages('mock', 'zzz')").fetchall(),
                         "topic 'zzz' does not exist")
    assert "similar" not in str(e), e


def test_similar_topic_names_on_the_broker():
    kit.need_broker()
    stem = kit.topic("payments")
    names = [kit.create_topic(stem), kit.create_topic(stem + "s")]
    try:
        conn = kit.connect()
        typo = stem.upper()[:-2] + stem[-2:]  # case differs: still close
        for sql in (f"CREATE VIRTUAL TABLE t USING kafka(brokers='{kit.BROKER}', topic='{typo}x')",
                    f"SELECT * FROM kafka_messages('{kit.BROKER}', '{typo}x')",
                    f"SELECT * FROM kafka_partitions('{kit.BROKER}', '{typo}x')",
                    f"SELECT * FROM kafka_offsets_for_times('{kit.BROKER}', '{typo}x', 0)"):
            e = kit.expect_error(lambda: conn.execute(sql).fetchall(), f"topic '{typo}x' does not exist")
            assert f"similar topics: '{stem}s', '{stem}'" in str(e) or \
                f"similar topics: '{stem}', '{stem}s'" in str(e), (sql, e)
    finally:
        for name in names:
            kit.delete_topic(name)


# ----------------------------------------------------------- progress --

# A scan of 2 s or more in the shell: 100,000 messages, each made slow by
# a filter SQLite computes per row (hex of 20 KB).
SLOW_SCAN = """.load {ext}
CREATE VIRTUAL TABLE t USING kafka(brokers='mock', topic='slow', partitions=2{options});
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
INSERT INTO t(value) SELECT x FROM c;
SELECT count(*) FROM t WHERE length(hex(zeroblob(20000 + offset % 2))) > 0;
.quit
"""
PROGRESS = "kafka: slow: "


def _shell_in_a_terminal(script):
    """Runs the sqlite3 shell with stdin, stdout and stderr on a
    pseudo-terminal, as a person would; returns what it wrote."""
    import os
    import pty
    import select
    import subprocess
    import time
    master, slave = pty.openpty()
    shell = subprocess.Popen(["sqlite3", ":memory:"], stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    os.write(master, script.encode())
    out, deadline = b"", time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if shell.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the shell has exited
                break
            if not data:
                break
            out += data
    finally:
        os.close(master)
        shell.kill()
        shell.wait()
    return out.decode(errors="replace")


def test_progress_line_in_the_interactive_shell():
    import re
    out = _shell_in_a_terminal(SLOW_SCAN.format(ext=kit.EXT, options=""))
    lines = re.findall(r"\rkafka: slow: ([\d,]+) of 100,000 messages, ([\d,]+)/s, (\d+) s left\x1b\[K", out)
    assert lines, out[-2000:]
    read = [int(n.replace(",", "")) for n, _, _ in lines]
    assert read == sorted(read) and 0 < read[-1] <= 100_000, lines
    assert all(int(rate.replace(",", "")) > 0 for _, rate, _ in lines), lines
    # Erased before the shell prints the answer.
    last = out.rindex(PROGRESS)
    assert re.match(r"[^\r]*\x1b\[K\r\x1b\[K100000\r\n", out[last:]), repr(out[last:last + 200])


def test_no_progress_in_scripts_pipes_or_python_unless_asked():
    import subprocess
    import sys
    script = SLOW_SCAN.format(ext=kit.EXT, options="")
    piped = subprocess.run(["sqlite3", ":memory:"], input=script, capture_output=True, text=True, timeout=120)
    assert piped.stdout.strip() == "100000" and PROGRESS not in piped.stderr, piped
    asked = SLOW_SCAN.format(ext=kit.EXT, options=", progress = 1")
    piped = subprocess.run(["sqlite3", ":memory:"], input=asked, capture_output=True, text=True, timeout=120)
    assert piped.stdout.strip() == "100000" and PROGRESS in piped.stderr, piped
    # Python: not the shell, so nothing unless progress = 1.
    code = ("import sqlite3, sys\n"
            "c = sqlite3.connect(':memory:'); c.enable_load_extension(True); c.load_extension(sys.argv[1])\n"
            "for sql in sys.argv[2].split('\\n', 1)[1].split(';\\n')[:3]: r = c.execute(sql).fetchall()\n"
            "print(r[0][0])\n")
    for options, shown in (("", False), (", progress = 1", True), (", progress = 0", False)):
        statements = SLOW_SCAN.format(ext=kit.EXT, options=options).replace(".quit\n", "")
        run = subprocess.run([sys.executable, "-c", code, kit.EXT, statements], capture_output=True, text=True,
                             timeout=120)
        assert run.stdout.strip() == "100000", run
        assert (PROGRESS in run.stderr) == shown, (options, run.stderr[-300:])


def test_kafka_messages_reads_registry_formats():
    """value = 'avro' with a registry: the value as the record's JSON text,
    each message with its own writer schema, as a table reads it."""
    import json
    import registrykit as rg
    topic = rg.setup("msgavro")
    try:
        conn = kit.connect()
        schema = json.dumps({"type": "record", "name": "W", "fields": [
            {"name": "location", "type": "string"}, {"name": "temp", "type": "long"}]})
        rg.table(conn, "w", topic, "avro", value_schema=schema)
        conn.execute("INSERT INTO w(location, temp) VALUES ('Oslo', 9007199254740993), ('Rome', -3)")
        options = f"value=avro, schema_registry='{kit.REGISTRY}'"
        got = conn.execute("SELECT value, schema_id, error FROM kafka_messages(?, ?, ?)",
                           (kit.BROKER, topic, options)).fetchall()
        assert got == conn.execute("SELECT value, schema_id, error FROM w").fetchall(), got
        assert [json.loads(v)["location"] for v, _, _ in got] == ["Oslo", "Rome"]
        assert got[0][0].endswith('"temp":9007199254740993}'), got
        # Without the registry the bytes come back as they are (a BLOB).
        raw = conn.execute("SELECT typeof(value) FROM kafka_messages(?, ?)", (kit.BROKER, topic)).fetchall()
        assert raw == [("blob",), ("blob",)], raw
    finally:
        kit.delete_topic(topic)


def test_options_from_a_joined_table_are_never_dropped():
    """An options argument taken from another table of a join: the plan
    that runs the function before that table is read ran it without its
    options (credentials left out, SASL settings ignored), silently. Such
    a plan is refused now (SQLITE_CONSTRAINT), in the catalog tables and
    in kafka_messages."""
    conn = kit.connect()
    topic = _messages_topic(conn, partitions=1, rows=2)
    conn.execute("CREATE TEMP TABLE o(opt TEXT)")
    conn.execute("INSERT INTO o VALUES ('bogus=1')")
    for sql, error in [("SELECT * FROM kafka_topics('mock', o.opt) JOIN o", "kafka_topics: option 'bogus'"),
                       (f"SELECT * FROM kafka_messages('mock', '{topic}', o.opt) JOIN o",
                        "kafka_messages: unknown option 'bogus'")]:
        kit.expect_error(lambda: conn.execute(sql).fetchall(), error)
    conn.execute("UPDATE o SET opt = 'value=blob'")
    got = conn.execute(f"SELECT typeof(value) FROM kafka_messages('mock', '{topic}', o.opt) JOIN o").fetchall()
    assert got == [("blob",), ("blob",)], got


def test_kafka_messages_and_time_agree_with_kcat():
    """Asked of kcat and of kafka_messages(): every message's partition,
    offset, timestamp, key and value, and the time column as kcat's
    timestamp in ISO text."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("msgkcat"), partitions=3)
    try:
        producer = rk.kafka_producer()
        for i in range(60):
            producer.send(topic, key=f"k{i % 7}".encode(), value=f"v{i}".encode(), partition=i % 3,
                          timestamp_ms=BASE + i * 777)
        producer.flush()
        producer.close()
        want = rk.kcat_json(topic)
        conn = kit.connect()
        got = conn.execute("SELECT partition, offset, timestamp, key, value, time FROM kafka_messages(?, ?)",
                           (kit.BROKER, topic)).fetchall()
        assert len(got) == len(want) == 60, (len(got), len(want))
        for p, o, ts, key, value, time_text in got:
            m = want[(p, o)]
            assert (ts, key, value) == (m["ts"], m["key"], m["payload"]), (p, o, m)
            assert time_text == iso(m["ts"]), (time_text, m["ts"])
        # The newest three, as kcat -o -1 reads each partition's last one.
        newest = conn.execute("SELECT partition, offset FROM kafka_messages(?, ?) ORDER BY offset DESC LIMIT 3",
                              (kit.BROKER, topic)).fetchall()
        assert sorted(newest) == sorted((p, o) for p, o in want if o == 19), newest
    finally:
        kit.delete_topic(topic)


def test_kafka_messages_reads_formats_without_a_registry():
    """MessagePack and plain Avro (schema text or file): the function's
    table reads the schema as CREATE does (it has no shadow table). Before,
    msgpack values came back as BLOBs with an empty error and value_schema
    was refused."""
    import json
    import os
    import tempfile
    conn = kit.connect()
    mp, av = kit.topic("mp"), kit.topic("av")
    rk.table(conn, "m", mp, brokers="mock", partitions=1, value="msgpack")
    conn.execute("""INSERT INTO m(value) VALUES ('{"a": 1, "b": [true, null]}')""")
    got = conn.execute(f"SELECT value, error FROM kafka_messages('mock', '{mp}', 'value=msgpack')").fetchall()
    assert got == conn.execute("SELECT value, error FROM m").fetchall() == [('{"a":1,"b":[true,null]}', None)], got
    schema = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]})
    rk.table(conn, "a", av, brokers="mock", partitions=1, value="avro", value_schema=schema)
    conn.execute("INSERT INTO a(a) VALUES (5), (9007199254740993)")
    want = [('{"a":5}',), ('{"a":9007199254740993}',)]
    text = schema.replace("'", "''")
    assert conn.execute(f"SELECT value FROM kafka_messages('mock', '{av}', "
                        f"'value=avro, value_schema=''{text}''')").fetchall() == want
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "r.avsc")
        with open(path, "w") as f:
            f.write(schema)
        assert conn.execute(f"SELECT value FROM kafka_messages('mock', '{av}', "
                            f"'value=avro, value_schema_file={path}')").fetchall() == want
    kit.expect_error(lambda: conn.execute(f"SELECT * FROM kafka_messages('mock', '{av}', "
                                          "'value=avro, value_schema_file=/nope.avsc')").fetchall(),
                     "kafka_messages: option value_schema_file '/nope.avsc': cannot read the file")


def test_progress_stays_out_of_rows_printed_as_they_come():
    """In the shell's list mode rows print as the scan finds them: a line
    drawn among them would share their terminal lines, so none is drawn.
    In box mode nothing prints until the end: the line shows, and goes
    before the box."""
    script = SLOW_SCAN.format(ext=kit.EXT, options="").replace(
        "SELECT count(*) FROM t WHERE length(hex(zeroblob(20000 + offset % 2))) > 0;",
        "{mode}\nSELECT offset, value FROM t WHERE length(hex(zeroblob(20000 + offset % 2))) > 0 "
        "AND offset % 5000 = 0;")
    listed = _shell_in_a_terminal(script.replace("{mode}", ".mode list"))
    import re
    assert len(re.findall(r"\n\d+\|\d+\r", listed)) >= 15, listed[-500:]
    assert PROGRESS not in listed, listed[-1500:]
    boxed = _shell_in_a_terminal(script.replace("{mode}", ".mode box"))
    assert PROGRESS in boxed, boxed[-1500:]
    last = boxed.rindex(PROGRESS)
    assert boxed.index("\r\x1b[K┌", last) < boxed.index("│ 0 ", last), boxed[last:last + 300]
