"""Typed columns of value = 'avro' read straight from the message (the
codec's decode_columns) against what json_extract() reads in the `value`
JSON, and against the extension's own JSON path: a schema with every Avro
type (logical types, unions, nulls, nested and referenced records) written
by confluent-kafka's AvroSerializer, an older writer that lacks fields, and
bad bytes (the error column and on_error say the same either way)."""

import datetime
import decimal
import json
import math
import uuid

import kit
import readkit as rk
from test_avro import confluent_produce, setup, avro_table

POS = {"type": "record", "name": "Pos", "fields": [
    {"name": "lat", "type": "double"}, {"name": "lon", "type": "double"}]}

V1_FIELDS = [
    {"name": "s", "type": "string"},
    {"name": "b", "type": "boolean"},
    {"name": "i", "type": "int"},
    {"name": "l", "type": "long"},
    {"name": "f", "type": "float"},
    {"name": "d", "type": "double"},
    {"name": "by", "type": "bytes"},
    {"name": "fx", "type": {"type": "fixed", "name": "Three", "size": 3}},
    {"name": "e", "type": {"type": "enum", "name": "Dir", "symbols": ["N", "E", "S", "W"]}},
    {"name": "dec", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 3}},
    {"name": "decf", "type": {"type": "fixed", "name": "Money", "size": 8, "logicalType": "decimal",
                              "precision": 15, "scale": 2}},
    {"name": "dec_null", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 9,
                                           "scale": 4}], "default": None},
    {"name": "ts_ms", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "ts_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "t_ms", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "t_us", "type": {"type": "long", "logicalType": "time-micros"}},
    {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "un", "type": ["null", "int"], "default": None},
    {"name": "u", "type": ["null", "string", "long", "double", "boolean"], "default": None},
    {"name": "arr", "type": {"type": "array", "items": POS}},
    {"name": "m", "type": {"type": "map", "values": ["null", "string"]}},
    {"name": "rec", "type": {"type": "record", "name": "Outer", "fields": [
        {"name": "name", "type": "string"}, {"name": "at", "type": "Pos"},
        {"name": "money", "type": "Money"}]}},
    {"name": "ref", "type": ["null", "Pos"], "default": None},
]
# The newer version adds fields an older writer lacks (they read NULL).
V2_FIELDS = V1_FIELDS + [
    {"name": "added", "type": "long", "default": 7},
    {"name": "added_rec", "type": ["null", "Pos"], "default": None},
]
V1 = {"type": "record", "name": "All", "namespace": "kubertron", "fields": V1_FIELDS}
V2 = {"type": "record", "name": "All", "namespace": "kubertron", "fields": V2_FIELDS}
STRINGS = ["Oslo", "", "tab\tline\nquote\" back\\ é 😀 \x01", "nul\x00after", "x" * 300]
FLOATS = [0.1, -0.0, 3.4028234e38, float("nan"), float("inf"), 1e-45]
DOUBLES = [1.5, -0.0, 1e-300, float("nan"), float("-inf"), 123456789.123456789]
UNIONS = [None, "text", 2 ** 62, 2.5, True]


def record(i, v2):
    r = {
        "s": STRINGS[i % len(STRINGS)], "b": i % 2 == 1, "i": -2147483648 + i, "l": 2 ** 62 + i,
        "f": FLOATS[i % len(FLOATS)], "d": DOUBLES[i % len(DOUBLES)], "by": bytes([0, 255, i % 256]) * (i % 3),
        "fx": bytes([i % 256, 0, 255]), "e": "NESW"[i % 4], "dec": decimal.Decimal("-1234.567") + i,
        "decf": decimal.Decimal("0.05") * i, "dec_null": None if i % 2 else decimal.Decimal("1.2345") - i,
        "ts_ms": datetime.datetime(2024, 2, 29, 12, 0, i, tzinfo=datetime.timezone.utc),
        "ts_us": datetime.datetime(1969, 12, 31, 23, 59, 59, i, tzinfo=datetime.timezone.utc),
        "day": datetime.date(1970, 1, 1) + datetime.timedelta(days=i - 3),
        "t_ms": datetime.time(1, 2, 3, 4000 * i), "t_us": datetime.time(23, 59, 59, i),
        "id": uuid.UUID(int=i * 7919), "un": None if i % 3 == 0 else i, "u": UNIONS[i % len(UNIONS)],
        "arr": [{"lat": 1.25 * k, "lon": -k} for k in range(i % 3)],
        "m": {"k": None, "q\"uote": f"v{i}"} if i % 2 else {},
        "rec": {"name": f"n{i}", "at": {"lat": 59.9, "lon": 10.75}, "money": decimal.Decimal("1.10") * i},
        "ref": None if i % 2 == 0 else {"lat": i, "lon": 0.5},
    }
    if v2:
        r["added"] = -i
        r["added_rec"] = {"lat": 0.0, "lon": float(i)}
    return r


def fill():
    """A topic with older (V1) and newer (V2) records; the table made after
    both has V2's columns."""
    topic = setup("cols")
    confluent_produce(topic, V1, [record(i, False) for i in range(6)])
    confluent_produce(topic, V2, [record(i, True) for i in range(6, 14)])
    return topic


def columns(conn, table):
    """(name, declared type) of the table's typed columns."""
    return [(r[1], r[2]) for r in conn.execute(f"PRAGMA table_info({table})")][6:]


def tables(conn, topic):
    """t: typed columns as CREATE learned them (decoded straight from the
    message); j: the same columns declared with quoted paths, which only
    the JSON path reads. Returns the columns."""
    avro_table(conn, "t", topic)
    cols = columns(conn, "t")
    spec = ", ".join(f'{n} {t} $."{n}"' for n, t in cols)
    avro_table(conn, "j", topic, columns=spec)
    return cols


def rows(conn, sql):
    return [tuple((type(v).__name__, v) for v in r) for r in conn.execute(sql)]


def oracle(conn, cols):
    """What json_extract() reads in `value`, stored in a plain table of the
    same declared types (SQLite applies the affinity); BLOB columns hold
    the bytes of the hex digits."""
    conn.execute(f"CREATE TEMP TABLE o({', '.join(f'{n} {t}' for n, t in cols)})")
    conn.execute(f"INSERT INTO o SELECT {', '.join(f'json_extract(value, {chr(39)}$.{n}{chr(39)})' for n, _ in cols)} "
                 "FROM t ORDER BY offset")
    out = []
    for r in conn.execute("SELECT * FROM o ORDER BY rowid"):
        out.append(tuple(bytes.fromhex(v) if t == "BLOB" and v is not None else v
                         for (_, t), v in zip(cols, r)))
    return [tuple((type(v).__name__, v) for v in r) for r in out]


def test_typed_columns_read_what_json_extract_reads_in_value():
    topic = fill()
    conn = kit.connect()
    cols = tables(conn, topic)
    assert [n for n, _ in cols] == [f["name"] for f in V2_FIELDS], cols
    names = ", ".join(n for n, _ in cols)
    typed = rows(conn, f"SELECT {names} FROM t ORDER BY offset")
    assert len(typed) == 14
    extracted = oracle(conn, cols)
    assert typed == extracted, [(row, name, a, b) for row, (ra, rb) in enumerate(zip(typed, extracted))
                                for (name, _), a, b in zip(cols, ra, rb) if a != b][:5]
    assert typed == rows(conn, f"SELECT {names} FROM j ORDER BY offset")
    # A few values spelled out (both readers could agree on a wrong one).
    by_name = dict(zip([n for n, _ in cols], zip(*[[v for _, v in r] for r in typed])))
    assert by_name["s"][2] == STRINGS[2] and by_name["s"][3] == "nul", by_name["s"]
    assert by_name["f"][0] == 0.1 and by_name["f"][3] is None and by_name["d"][4] is None
    assert by_name["l"][1] == 2 ** 62 + 1 and by_name["b"][:2] == (0, 1)
    assert by_name["dec"][0] == "-1234.567" and by_name["decf"][3] == "0.15", by_name["decf"]
    assert by_name["fx"][1] == bytes([1, 0, 255]) and by_name["by"][2] == bytes([0, 255, 2]) * 2
    assert by_name["u"][:5] == (None, "text", 2 ** 62, 2.5, 1), by_name["u"]
    assert by_name["m"][1] == '{"k":null,"q\\"uote":"v1"}', by_name["m"]
    assert by_name["rec"][1] == '{"name":"n1","at":{"lat":59.9,"lon":10.75},"money":"1.10"}', by_name["rec"]
    # The older writer lacks the added fields: NULL, not their defaults.
    assert by_name["added"] == (None,) * 6 + tuple(-i for i in range(6, 14)), by_name["added"]
    assert by_name["added_rec"][:6] == (None,) * 6 and by_name["added_rec"][6] == '{"lat":0.0,"lon":6.0}'


def test_each_column_alone_and_asked_late_reads_the_same():
    topic = fill()
    conn = kit.connect()
    cols = tables(conn, topic)
    for n, _ in cols:
        alone = rows(conn, f"SELECT {n} FROM t ORDER BY offset")
        assert alone == rows(conn, f"SELECT {n} FROM j ORDER BY offset"), n
        # Asked on some rows only: a row decoded without it is decoded again;
        # with value read too, the JSON serves the typed columns.
        for sql in (f"SELECT i, CASE WHEN offset % 3 = 1 THEN {n} END FROM {{}} ORDER BY offset",
                    f"SELECT i, CASE WHEN offset % 3 = 1 THEN {n} END, value FROM {{}} ORDER BY offset",
                    f"SELECT i, value, {n} FROM {{}} ORDER BY offset"):
            assert rows(conn, sql.format("t")) == rows(conn, sql.format("j")), (n, sql)


def test_bad_bytes_give_the_same_error_and_on_error_either_way():
    topic = fill()
    conn = kit.connect()
    tables(conn, topic)
    avro_table(conn, "strict", topic, on_error="fail")
    raw = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%s", "-o", "6", "-c", "1")
    for bad in (b"plain text", raw[:5] + b"\x02", raw + b"\x00", raw[:-3]):
        kit.kcat("-P", "-t", topic, "-c", "1", input=bad)
    direct = conn.execute("SELECT s, added, error FROM t ORDER BY offset").fetchall()
    assert direct == conn.execute("SELECT s, added, error FROM j ORDER BY offset").fetchall()
    errors = [r[2] for r in direct]
    assert errors[:14] == [None] * 14 and all(errors[14:]), errors
    assert errors == [r[0] for r in conn.execute("SELECT error FROM t ORDER BY offset")]
    assert errors[16].endswith("not a valid Avro record of its schema: bytes left after the record"), errors
    assert [r[:2] for r in direct[14:]] == [(None, None)] * 4
    kit.expect_error(lambda: conn.execute("SELECT added FROM strict").fetchall(),
                     f"kafka: topic '{topic}' partition 0 offset 14: value: message is not in the schema "
                     "registry wire format")
    kit.expect_error(lambda: conn.execute("SELECT s FROM strict WHERE offset = 16").fetchall(),
                     f"kafka: topic '{topic}' partition 0 offset 16: {errors[16]}")


def test_insert_of_expression_results_and_reordered_columns_reads_back():
    """Strings from functions (texts SQLite keeps without a terminator) and
    columns that are not the record's fields in order encode the same."""
    from test_avro import confluent_consume
    schema = {"type": "record", "name": "W", "fields": [
        {"name": "s", "type": "string"}, {"name": "e", "type": {"type": "enum", "name": "D", "symbols": ["N", "S"]}},
        {"name": "i", "type": "int"}, {"name": "d", "type": "double"},
        {"name": "o", "type": ["null", "string"], "default": None}]}
    topic = setup("ins")
    kit.register_schema(f"{topic}-value", schema)
    conn = kit.connect()
    avro_table(conn, "t", topic)
    avro_table(conn, "r", topic, columns="o TEXT, d REAL, s TEXT, e TEXT, i INTEGER")
    conn.execute("WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < 3) "
                 "INSERT INTO t(s, e, i, d, o) SELECT substr('abcdef', value, 3), json_extract('[\"N\",\"S\"]', "
                 "'$[' || (value % 2) || ']'), value, value / 4.0, printf('%d é', value) FROM n")
    conn.execute("INSERT INTO r(i, s, e, d) VALUES (4, substr('xyz', 2), 'S', 1.5)")
    got = confluent_consume(topic, 4)
    assert got == [{"s": "abcdef"[i - 1:i + 2], "e": "NS"[i % 2], "i": i, "d": i / 4.0, "o": f"{i} é"}
                   for i in range(1, 4)] + [{"s": "yz", "e": "S", "i": 4, "d": 1.5, "o": None}], got


def test_a_record_of_plain_fields_checks_its_bytes():
    """A record whose fields hold no other value is checked field by field
    without walking the schema: the same errors as any record."""
    schema = {"type": "record", "name": "Flat", "fields": [
        {"name": "n", "type": "null", "default": None}, {"name": "ok", "type": "boolean"}, {"name": "s", "type": "string"},
        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
        {"name": "fx", "type": {"type": "fixed", "name": "F", "size": 2}}, {"name": "f", "type": "float"},
        {"name": "d", "type": "double"}, {"name": "by", "type": "bytes"}, {"name": "l", "type": "long"}]}
    topic = setup("flat")
    kit.register_schema(f"{topic}-value", schema)
    conn = kit.connect()
    avro_table(conn, "t", topic)
    conn.execute("INSERT INTO t(ok, s, e, fx, f, d, by, l) VALUES (1, 'hi', 'B', x'0102', 0.5, 2.5, x'ff', -3)")
    raw = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%s", "-c", "1")
    body = raw[5:]
    assert body == b"\x01\x04hi\x02\x01\x02" + bytes.fromhex("0000003f") + bytes.fromhex("0000000000000440") + b"\x02\xff\x05", body
    enum_at = 1 + 3
    for bad in (raw[:-1], raw + b"\x00", raw[:5 + enum_at] + b"\x04" + raw[5 + enum_at + 1:], raw[:5 + 1] + b"\x40"):
        kit.kcat("-P", "-t", topic, "-c", "1", input=bad)
    got = conn.execute("SELECT ok, s, e, fx, f, d, by, l, n, error FROM t ORDER BY offset").fetchall()
    assert got[0] == (1, "hi", "B", b"\x01\x02", 0.5, 2.5, b"\xff", -3, None, None), got[0]
    why = "value: schema id {}: not a valid Avro record of its schema: ".format(int.from_bytes(raw[1:5], "big"))
    assert [r[-1] for r in got[1:]] == [why + "truncated", why + "bytes left after the record",
                                        why + "an enum symbol out of range", why + "a length past the end of the message"], got
    assert all(r[:-1] == (None,) * 9 for r in got[1:]), got
