"""A browser UI over live topics: Datasette (build/venv) with the extension
loaded serves a database whose kafka tables read the real broker; headless
Chromium (Debian's chromium) loads the pages as a person would, and what it
renders must show the messages produced, including ones produced after the
server started.

The module is SQLITE_VTAB_DIRECTONLY, so the kafka table must be queried
directly (a table page or an SQL query): a view over it is refused, and
that is checked too.
"""

import html
import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse

import datasettekit
import kit

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def need_chromium():
    """Debian's chromium (tests/deps.sh installs it); required in CI."""
    path = shutil.which("chromium")
    if path:
        return path
    msg = "no chromium (tests/deps.sh installs it)"
    if os.environ.get("CI") or os.environ.get("KAFKA_REQUIRED") == "1":
        raise AssertionError(msg)
    raise kit.Skip(msg)


def datasette(db):
    """Serves db with the extension loaded; yields the base URL."""
    return datasettekit.running([db, "--load-extension", kit.EXT, "--setting", "sql_time_limit_ms", "20000"],
                                os.path.dirname(db))


def chromium(url, *extra):
    """Loads url in headless Chromium, in a new profile; returns what it
    printed (--dump-dom: the rendered DOM)."""
    binary = need_chromium()
    # Chromium never loads the extension: the sanitizer runtimes that
    # `make test SANITIZE=1` preloads into every process only stall it.
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    with tempfile.TemporaryDirectory() as profile:
        p = subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                            *extra, url], capture_output=True, timeout=120,
                           stdin=subprocess.DEVNULL, env=env)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-2000:]
    return p.stdout.decode()


def produce_with_kafka_python(topic, samples):
    from kafka import KafkaProducer
    producer = KafkaProducer(bootstrap_servers=kit.BROKER, acks="all")
    try:
        for key, value in samples:
            producer.send(topic, key=key.encode(), value=json.dumps(value).encode())
        producer.flush(30)
    finally:
        producer.close()


def sample(i, location):
    return (f"2024-05-01T12:00:{i:02d}Z",
            {"location": location, "temp_celsius": i, "wind_speed_mph": 3,
             "wind_direction": "NW", "humidity_percent": 80, "pressure_mb": 1000 + i})


@kit.timeout(300)
def test_datasette_shows_live_topic_in_chromium():
    kit.need_broker()
    need_chromium()
    topic = kit.create_topic(kit.topic("ui-weather"), partitions=3)
    with tempfile.TemporaryDirectory() as tmp:
        db = f"{tmp}/topics.db"
        conn = kit.connect(db)
        conn.execute(f"""CREATE VIRTUAL TABLE weather USING kafka(
            brokers = '{kit.BROKER}', topic = '{topic}', value = 'json',
            columns = 'location TEXT, temp_celsius INTEGER, pressure_mb INTEGER')""")
        # A view cannot reach a kafka table (SQLITE_VTAB_DIRECTONLY).
        conn.execute("CREATE VIEW weather_view AS SELECT * FROM weather")
        first = [sample(i, loc) for i, loc in enumerate(["Oslo", "Lisbon", "Vienna"])]
        conn.executemany("INSERT INTO weather(key, value) VALUES (?, ?)",
                         [(k, json.dumps(v)) for k, v in first])
        conn.close()

        with datasette(db) as base:
            page = f"{base}/topics/weather?_size=100"
            dom = chromium(page, "--dump-dom")
            text = html.unescape(dom)
            for key, value in first:
                assert key in text and json.dumps(value) in text, (key, value)
            # Rows shown, not "3 rows": with the plugin installed, the page
            # runs no count(*) (it would read the whole topic).
            assert dom.count('<td class="col-key') == 3, "the table page shows the topic's messages"

            # Live: messages produced now, by another client, show on reload.
            later = [sample(10 + i, loc) for i, loc in enumerate(["Prague", "Dublin"])]
            produce_with_kafka_python(topic, later)
            dom = chromium(page, "--dump-dom")
            text = html.unescape(dom)
            for key, value in first + later:
                assert key in text and json.dumps(value) in text, (key, value)
            assert dom.count('<td class="col-key') == 5

            # SQL over the topic, typed columns and all.
            sql = ("SELECT location, temp_celsius, pressure_mb FROM weather"
                   " WHERE temp_celsius >= 10 ORDER BY temp_celsius")
            dom = chromium(f"{base}/topics?sql={urllib.parse.quote(sql)}", "--dump-dom")
            assert "Prague" in dom and "1010" in dom and "Dublin" in dom and "1011" in dom
            assert "Oslo" not in dom

            # The view is refused, with SQLite's reason on the page.
            dom = chromium(f"{base}/topics/weather_view", "--dump-dom")
            assert "unsafe use of virtual table" in dom, dom[-3000:]

            # A screenshot, as a person would look at it.
            shot = f"{tmp}/weather.png"
            chromium(page, f"--screenshot={shot}", "--window-size=1280,900")
            with open(shot, "rb") as f:
                png = f.read()
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
            if os.environ.get("DATASETTE_SCREENSHOT"):
                shutil.copy(shot, os.environ["DATASETTE_SCREENSHOT"])
    kit.delete_topic(topic)
