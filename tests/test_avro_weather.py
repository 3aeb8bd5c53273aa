"""sql/weather-avro.sql (the tutorial's step 103) run as a user runs it,
with the sqlite3 shell, on the real broker and registry; what it wrote is
read back by confluent-kafka's AvroDeserializer, an independent client."""

import re
import subprocess
import tempfile
from pathlib import Path

import kit
from test_avro import confluent_consume

SQL = kit.ROOT / "sql" / "weather-avro.sql"
FIELDS = ["location", "temp_celsius", "wind_speed_mph", "wind_direction",
          "humidity_percent", "pressure_mb"]


def run(db, topic, group):
    text = SQL.read_text()
    text = text.replace("localhost:29092", kit.BROKER)
    text = text.replace("http://localhost:8081/apis/ccompat/v7", kit.REGISTRY)
    text = text.replace("kubertron.weather.avro", topic)
    text = text.replace("met-consumer-group-avro", group)
    out = subprocess.run(["sqlite3", db], input=text, text=True, capture_output=True,
                         timeout=120, cwd=kit.ROOT)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    return out.stdout


@kit.timeout(240)
def test_weather_avro_tutorial_step():
    kit.need_broker()
    kit.need_registry()
    topic, group = kit.topic("kubertron.weather.avro"), kit.topic("met-consumer-group-avro")
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "weather.db")
        first = run(db, topic, group)
        second = run(db, topic, group)
    consumed = [re.search(r"consumed (\d+) samples, schema ids (\d+)", out) for out in (first, second)]
    assert all(consumed), (first, second)
    # The group reads each batch once: the second run sees only its own.
    assert [int(m[1]) for m in consumed] == [60, 60], (first, second)
    sid = int(consumed[0][2])
    assert int(consumed[1][2]) == sid
    assert re.search(rf"│ {re.escape(topic)}-value +│ 1 +│ 1 +│ AVRO", second), second
    samples = confluent_consume(topic, 120)
    for s in samples:
        assert list(s) == FIELDS, s
        assert -10 <= s["temp_celsius"] <= 35 and s["wind_direction"] in {
            "N", "NE", "E", "SE", "S", "SW", "W", "NW"}, s
