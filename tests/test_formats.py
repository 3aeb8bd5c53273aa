"""Formats on the real broker, data written by kcat: text/blob/json,
typed JSON columns with paths and affinities, on_error null vs fail."""

import kit
import readkit as rk

ROWS = [
    '{"loc":"Oslo","temp":12,"wind":{"speed":3.5},"tags":["a","b"],"big":9007199254740993}',
    '{"loc":"Rome","temp":"21","wind":{"speed":"7"}}',
    "not json {",
    '{"loc":"Nuuk","temp":-4.5,"wind":null,"tags":[]}',
    '{"loc":"Lima","temp":true,"extra":{"x":[1,2]}}',
]
COLUMNS = ("loc TEXT, temp INTEGER, speed REAL $.wind.speed, tag TEXT $.tags[0], "
           "big INTEGER, extra TEXT, raw $.temp")


def _topic():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("fmt"))
    kit.kcat("-P", "-t", topic, "-p", "0", input="".join(r + "\n" for r in ROWS))
    return topic


def test_typed_columns_and_on_error_null():
    topic = _topic()
    conn = kit.connect()
    rk.table(conn, "t", topic, value="json", columns=COLUMNS)
    rows = conn.execute("SELECT offset, loc, temp, typeof(temp), speed, typeof(speed), tag, big, "
                        "extra, raw, typeof(raw), error FROM t ORDER BY offset").fetchall()
    assert rows[0] == (0, "Oslo", 12, "integer", 3.5, "real", "a", 9007199254740993, None, 12,
                       "integer", None), rows[0]
    # Text that is a number takes the column's affinity, like SQLite's own.
    assert rows[1] == (1, "Rome", 21, "integer", 7.0, "real", None, None, None, "21", "text", None), rows[1]
    # Not JSON: the row is kept, typed columns NULL, error says why.
    assert rows[2][:2] == (2, None) and rows[2][-1] == "value is not valid JSON", rows[2]
    assert conn.execute("SELECT value FROM t WHERE offset = 2").fetchone()[0] == "not json {"
    assert rows[3][1:6] == ("Nuuk", -4.5, "real", None, "null"), rows[3]
    assert rows[4][1:4] == ("Lima", 1, "integer") and rows[4][8] == '{"x":[1,2]}', rows[4]
    assert conn.execute("SELECT count(*) FROM t WHERE error IS NOT NULL").fetchone()[0] == 1


def test_on_error_fail_names_topic_partition_offset():
    topic = _topic()
    conn = kit.connect()
    rk.table(conn, "t", topic, value="json", on_error="fail", columns="loc TEXT")
    # Rows whose decoding is not asked for cost nothing and cannot fail.
    assert conn.execute("SELECT count(*), max(offset) FROM t").fetchone() == (5, 4)
    assert len(conn.execute("SELECT key, headers, timestamp FROM t").fetchall()) == 5
    assert conn.execute("SELECT loc FROM t WHERE offset = 3").fetchone() == ("Nuuk",)
    for col in ("loc", "value", "error"):
        kit.expect_error(lambda: conn.execute(f"SELECT {col} FROM t").fetchall(),
                         f"kafka: topic '{topic}' partition 0 offset 2: value is not valid JSON")
    rk.table(conn, "txt", topic, on_error="fail")
    assert conn.execute("SELECT value FROM txt WHERE offset = 2").fetchone() == ("not json {",)


def test_text_blob_json_formats():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("fmt2"))
    # kcat sends ":x" with an empty (not NULL) key, and with -Z a NULL one.
    kit.kcat("-P", "-t", topic, "-p", "0", "-K", ":", input='k1:{"a": 1}\n:empty-key\n')
    kit.kcat("-P", "-t", topic, "-p", "0", "-K", ":", "-Z", input=':null-key\n')
    envelope = rk.kcat_json(topic)
    assert [envelope[(0, o)]["key"] for o in range(3)] == ["k1", "", None]
    conn = kit.connect()
    rk.table(conn, "t", topic)
    rk.table(conn, "b", topic, key="blob", value="blob")
    rk.table(conn, "j", topic, key="text", value="json")
    assert conn.execute("SELECT key, value, typeof(value) FROM t").fetchall() == [
        ("k1", '{"a": 1}', "text"), ("", "empty-key", "text"), (None, "null-key", "text")]
    assert conn.execute("SELECT key, value FROM b").fetchall() == [
        (b"k1", b'{"a": 1}'), (b"", b"empty-key"), (None, b"null-key")]
    assert conn.execute("SELECT value ->> '$.a', json_valid(value) FROM j LIMIT 1").fetchone() == (1, 1)
