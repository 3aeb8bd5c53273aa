"""The extension from Python's standard sqlite3 module: Debian's
/usr/bin/python3 (whose sqlite3 can load extensions), no venv, no package
beyond the standard library. EXAMPLE is the README's example, run as a
user would run it, on the real broker.
"""

import json
import sqlite3
import subprocess
import tempfile
import threading
import time

import kit

EXAMPLE = r'''
import sqlite3

conn = sqlite3.connect("weather.db", isolation_level=None)  # autocommit
conn.enable_load_extension(True)
conn.load_extension("./build/kafka")       # or /usr/local/lib/sqlite3/kafka
conn.enable_load_extension(False)

conn.execute("""CREATE VIRTUAL TABLE IF NOT EXISTS weather USING kafka(
    brokers = 'localhost:29092', topic = 'kubertron.weather.inbound',
    partitions = 3, value = 'json',
    columns = 'location TEXT, temp_celsius INTEGER')""")

# Produce: returns when Kafka has acknowledged every row.
samples = [("2024-05-01T12:00:00Z", "Oslo", 4), ("2024-05-01T12:00:01Z", "Paris", 17)]
conn.executemany("INSERT INTO weather(key, location, temp_celsius) VALUES (?, ?, ?)", samples)

# Consume as the tutorial's group: what the group has not seen yet, then
# its position is committed. TEMP: a group table is no table to keep in a
# file that other tools open (Datasette's row counts would consume it).
conn.execute("""CREATE VIRTUAL TABLE temp.weather_consumer USING kafka(
    brokers = 'localhost:29092', topic = 'kubertron.weather.inbound',
    group = 'met-consumer-group-1', start = 'earliest')""")
for partition, offset, key, value in conn.execute(
        "SELECT partition, offset, key, value FROM weather_consumer"):
    print(f"kubertron.weather.inbound:{partition}:{offset}: key={key} value={value}")

# Typed columns read like any column.
for row in conn.execute("SELECT location, avg(temp_celsius) FROM weather GROUP BY location ORDER BY 1"):
    print(row)
'''


def substituted(text, topic, group):
    return (text.replace("localhost:29092", kit.BROKER)
                .replace("kubertron.weather.inbound", topic)
                .replace("met-consumer-group-1", group))


def test_readme_example_runs_on_debians_python3():
    kit.need_broker()
    topic, group = kit.topic("py-weather"), kit.topic("py-group")
    with tempfile.TemporaryDirectory() as tmp:
        script = substituted(EXAMPLE, topic, group).replace(
            '"weather.db"', repr(f"{tmp}/weather.db"))
        run = subprocess.run(["/usr/bin/python3", "-I", "-c", script],
                             capture_output=True, text=True, timeout=120, cwd=kit.ROOT)
        assert run.returncode == 0, run.stderr
        lines = run.stdout.splitlines()
        assert all(line.startswith(f"{topic}:") for line in lines[:2])
        consumed = sorted(line.split(": ", 1)[1] for line in lines[:2])
        assert consumed == [
            'key=2024-05-01T12:00:00Z value={"location":"Oslo","temp_celsius":4}',
            'key=2024-05-01T12:00:01Z value={"location":"Paris","temp_celsius":17}']
        assert lines[2:] == ["('Oslo', 4.0)", "('Paris', 17.0)"]
        first = {tuple(line.split(":")[1:3]) for line in lines[:2]}
        # What kcat, an independent client, sees: the same two messages.
        out = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%k %s\n").decode()
        assert sorted(out.splitlines()) == [
            '2024-05-01T12:00:00Z {"location":"Oslo","temp_celsius":4}',
            '2024-05-01T12:00:01Z {"location":"Paris","temp_celsius":17}']
        # Run again: it produces the two samples again, and the group reads
        # only those, not the first two it committed.
        run = subprocess.run(["/usr/bin/python3", "-I", "-c", script],
                             capture_output=True, text=True, timeout=120, cwd=kit.ROOT)
        assert run.returncode == 0, run.stderr
        lines = run.stdout.splitlines()
        assert len(lines) == 4 and lines[2:] == ["('Oslo', 4.0)", "('Paris', 17.0)"], lines
        second = {tuple(line.split(":")[1:3]) for line in lines[:2]}
        assert len(second) == 2 and not first & second, (first, second)
        kit.delete_topic(topic)


def test_bytes_parameters_and_python_transactions():
    """bytes bind as BLOBs and come back as bytes; with Python's default
    isolation (implicit BEGIN), conn.commit() returns once Kafka has
    acknowledged the rows."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("py-bytes"))
    conn = kit.connect()
    conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers = '{kit.BROKER}',"
                 f" topic = '{topic}', key = 'blob', value = 'blob')")
    conn.isolation_level = ""  # Python's default: BEGIN before an INSERT
    conn.executemany("INSERT INTO t(key, value, headers) VALUES (?, ?, ?)",
                     [(b"\x00k", bytes(range(256)), json.dumps({"h": "v"})),
                      (b"k2", b"", None)])
    assert conn.in_transaction
    conn.commit()
    out = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%K %S\n").decode()
    assert sorted(out.split()) == ["0", "2", "2", "256"], out
    assert conn.execute("SELECT key, value, headers FROM t ORDER BY offset").fetchall() == [
        (b"\x00k", bytes(range(256)), '{"h":"v"}'), (b"k2", b"", None)]


def test_follow_scans_from_python():
    """Follow mode from Python. Python's cursor steps one row ahead (a row
    reaches the loop once the next one is read), so a follow scan is best
    bounded by LIMIT: it ends as soon as the LIMIT-th row arrives, here one
    produced while the scan waited. conn.interrupt() (Python's Ctrl-C) ends
    a follow scan long before its quiet period."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("py-follow"))
    conn = kit.connect()
    conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers = '{kit.BROKER}', topic = '{topic}')")
    conn.execute("INSERT INTO t(key, value) VALUES ('k', 'before')")
    produced = {}

    def produce_after():
        kit.kcat("-P", "-t", topic, input=b"after")
        produced["at"] = time.monotonic()

    produce_later = threading.Timer(1.0, produce_after)
    produce_later.start()
    start = time.monotonic()
    rows = conn.execute("SELECT value FROM t WHERE follow = 60000 LIMIT 2").fetchall()
    end = time.monotonic()
    produce_later.join()
    # Timed from kcat's exit (its message acknowledged), not from its start:
    # a kcat slow to start or to deliver (the scan took 16 s once in CI,
    # with its rows right) says nothing of the scan.
    assert rows == [("before",), ("after",)] and end - start > 0.9, (rows, end - start)
    assert end - produced["at"] < 10, f"the scan ended {end - produced['at']:.1f} s after 'after' was delivered"

    threading.Timer(1.5, conn.interrupt).start()
    start = time.monotonic()
    e = kit.expect_error(lambda: conn.execute("SELECT value FROM t WHERE follow = 60000").fetchall(),
                         "interrupted")
    took = time.monotonic() - start
    assert 1.4 < took < 10, (e, took)
