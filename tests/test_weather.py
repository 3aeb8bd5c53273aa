"""The tutorial's weather workflow (sql/weather*.sql, sql/weather-producer.sh)
run as a user runs it, with the sqlite3 shell, on the real broker.

The files name the tutorial's broker, topic and group; the test runs them
with those three replaced (the broker under test, a fresh topic and group),
and with the consumer's 10 s of follow-mode quiet cut to 1.5 s. Everything
the files print is checked against what kcat, an independent client, reads
from the topic.
"""

import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

import kit

SQL = kit.ROOT / "sql"
LOCATIONS = {"Amsterdam", "Berlin", "Dublin", "Lisbon", "London", "Madrid",
             "Oslo", "Paris", "Prague", "Vienna"}
FIELDS = ["location", "temp_celsius", "wind_speed_mph", "wind_direction",
          "humidity_percent", "pressure_mb"]
CONSUMED = re.compile(r"^(?P<topic>[^:]+):(?P<partition>\d+):(?P<offset>\d+): "
                      r"key=(?P<key>\S+) value=(?P<value>.*)$")


class Tutorial:
    """One run of the tutorial in a temp dir: its database, topic and group."""

    def __init__(self, tmp):
        self.db = str(Path(tmp) / "weather.db")
        self.topic = kit.topic("kubertron.weather.inbound")
        self.group = kit.topic("met-consumer-group")

    def sql(self, name, follow_ms=1500):
        text = (SQL / name).read_text()
        text = text.replace("localhost:29092", kit.BROKER)
        text = text.replace("kubertron.weather.inbound", self.topic)
        text = text.replace("met-consumer-group-1", self.group)
        return text.replace("follow = 10000", f"follow = {follow_ms}")

    def run(self, name, **kw):
        """Runs sql/NAME with sqlite3 on the database; stdout lines."""
        out = subprocess.run(["sqlite3", self.db], input=self.sql(name, **kw),
                             text=True, capture_output=True, timeout=120,
                             cwd=kit.ROOT)
        assert out.returncode == 0, f"{name}: {out.stderr}"
        assert out.stderr == "", f"{name}: {out.stderr}"
        return out.stdout.splitlines()

    def error(self, name):
        """Runs sql/NAME as run() does, expecting it to fail; its stderr."""
        out = subprocess.run(["sqlite3", self.db], input=self.sql(name), text=True,
                             capture_output=True, timeout=120, cwd=kit.ROOT)
        assert out.returncode != 0, f"{name} did not fail: {out.stdout}"
        return out.stderr

    def produce(self, count):
        """sql/weather-producer.sh DB COUNT; its lines and its duration."""
        start = time.monotonic()
        out = subprocess.run(["sh", str(SQL / "weather-producer.sh"), self.db,
                              str(count)], text=True, capture_output=True,
                             timeout=120, cwd=kit.ROOT)
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines(), time.monotonic() - start

    def messages(self):
        """Every message of the topic as kcat reads it: (partition, offset) ->
        (timestamp, key, value)."""
        out = kit.kcat("-C", "-t", self.topic, "-e", "-q", "-J")
        msgs = {}
        for line in out.decode().splitlines():
            m = json.loads(line)
            msgs[(m["partition"], m["offset"])] = (m["ts"], m["key"], m["payload"])
        return msgs

    def lag(self):
        """sql/weather-lag.sql's rows: (partition, committed, high, lag)."""
        rows = []
        for line in self.run("weather-lag.sql"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            if len(cells) == 5 and cells[0] == self.topic:
                rows.append(tuple(int(c) for c in cells[1:]))
        return rows


def check_sample(key, value):
    """A simulated sample: the tutorial's fields, plausible values."""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", key), key
    sample = json.loads(value)
    assert list(sample) == FIELDS, sample
    assert sample["location"] in LOCATIONS, sample
    assert -10 <= sample["temp_celsius"] <= 35, sample
    assert 0 <= sample["wind_speed_mph"] <= 40, sample
    assert sample["wind_direction"] in {"N", "NE", "E", "SE", "S", "SW", "W", "NW"}
    assert 30 <= sample["humidity_percent"] <= 100, sample
    assert 970 <= sample["pressure_mb"] <= 1050, sample
    return sample


def consumed(lines, topic):
    """The consumer's lines parsed: (partition, offset) -> (key, value)."""
    got = {}
    for line in lines:
        m = CONSUMED.match(line)
        assert m and m["topic"] == topic, line
        got[(int(m["partition"]), int(m["offset"]))] = (m["key"], m["value"])
    assert len(got) == len(lines), "a message was printed twice"
    return got


@kit.timeout(240)
def test_weather_tutorial_end_to_end():
    kit.need_broker()
    with tempfile.TemporaryDirectory() as tmp:
        t = Tutorial(tmp)
        # Step 2: the batch, the last minute one sample a second.
        assert t.run("weather.sql") == ["wal", f"60 samples in {t.topic}"]
        schema = subprocess.run(["sqlite3", t.db, ".schema"], text=True,
                                capture_output=True, check=True).stdout
        assert "weather USING kafka" in schema and "group" not in schema, \
            "a group table in the file would be consumed by Datasette's counts"
        batch = t.messages()
        assert len(batch) == 60
        assert {p for p, _ in batch} == {0, 1, 2}, "3 partitions, keys spread"
        samples = [check_sample(k, v) for _, k, v in batch.values()]
        assert len({json.dumps(s) for s in samples}) > 50, "samples are random"
        assert len({s["location"] for s in samples}) > 3
        for ts, key, _ in batch.values():
            # The key is the ISO time of the message's timestamp.
            assert key == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts / 1000))
        stamps = sorted(ts for ts, _, _ in batch.values())
        assert stamps == list(range(stamps[0], stamps[0] + 60000, 1000))
        assert abs(stamps[-1] / 1000 - time.time()) < 30

        # The group has committed nothing yet: Kafka does not know it, and
        # says so as kafka-consumer-groups.sh does.
        assert f"group '{t.group}' does not exist on brokers" in t.error("weather-lag.sql")

        # The paced producer: one a second, each printed as sent.
        lines, took = t.produce(3)
        assert len(lines) == 3 and 2.0 <= took < 20, (lines, took)
        sent = {}
        for line in lines:
            m = re.fullmatch(r"produced (\S+) (\{.*\})", line)
            assert m, line
            check_sample(m[1], m[2])
            sent[m[1]] = m[2]
        after = t.messages()
        assert len(after) == 63
        assert {k: v for _, k, v in after.values() if k in sent} == sent

        # Step 3: the group consumer prints every message once, exactly as
        # kcat read it, then commits: the lag is 0 and a second run prints
        # nothing.
        got = consumed(t.run("weather-consumer.sql"), t.topic)
        assert got == {pos: (k, v) for pos, (_, k, v) in after.items()}
        assert t.lag() == [(p, sum(1 for q, _ in after if q == p),
                            sum(1 for q, _ in after if q == p), 0)
                           for p in range(3)]
        assert t.run("weather-consumer.sql") == []

        # Step 4: produce 2 more: the lag says 2, the consumer prints them.
        lines, _ = t.produce(2)
        assert sum(row[3] for row in t.lag()) == 2
        got = consumed(t.run("weather-consumer.sql"), t.topic)
        assert sorted(got.values()) == sorted(
            tuple(line.split(" ", 2)[1:]) for line in lines)
        assert sum(row[3] for row in t.lag()) == 0

        # Follow mode: a consumer started first prints samples produced
        # while it waits.
        consumer = subprocess.Popen(["sqlite3", t.db], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True,
                                    cwd=kit.ROOT)
        consumer.stdin.write(t.sql("weather-consumer.sql", follow_ms=6000))
        consumer.stdin.close()
        time.sleep(2)
        lines, _ = t.produce(2)
        out = consumer.stdout.read()
        assert consumer.wait(timeout=60) == 0
        got = consumed(out.splitlines(), t.topic)
        assert sorted(got.values()) == sorted(
            tuple(line.split(" ", 2)[1:]) for line in lines)

        # Step 5: the clean-up deletes the topic and drops the tables.
        assert t.run("weather-cleanup.sql") == [f"deleted topic {t.topic}"]
        meta = json.loads(kit.kcat("-L", "-J"))
        assert t.topic not in [x["topic"] for x in meta["topics"]]
        out = subprocess.run(["sqlite3", t.db, ".tables"], text=True,
                             capture_output=True, check=True)
        assert out.stdout.strip() == ""


def test_weather_files_name_the_tutorials_broker_topic_and_group():
    """The files a user runs name the tutorial's names, which the test above
    replaces: if one were spelled differently, the test would not notice."""
    files = ["weather.sql", "weather-consumer.sql", "weather-lag.sql", "weather-cleanup.sql"]
    for name in files:
        text = (SQL / name).read_text()
        assert "'localhost:29092'" in text and "'kubertron.weather.inbound'" in text, name
    assert "group   = 'met-consumer-group-1'" in (SQL / "weather-consumer.sql").read_text()
    assert "'met-consumer-group-1')" in (SQL / "weather-lag.sql").read_text()
    assert "WHERE follow = 10000" in (SQL / "weather-consumer.sql").read_text()
