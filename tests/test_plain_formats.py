"""Formats without a registry (SPEC section 13, issue 27): Avro with the
schema in an .avsc file or in value_schema, Protobuf from .proto files, and
MessagePack, against a real broker, checked both ways field by field with
independent libraries: fastavro (schemaless_writer / schemaless_reader),
Python's protobuf (classes compiled with protoc at test time) and msgpack.
Messages also come from kcat, one file a message.

Random tests print their seed; PLAIN_SEED=<n> replays one."""

import contextlib
import io
import itertools
import json
import math
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import kit
from registrykit import produce_bytes


def quoted(v):
    return "'" + str(v).replace("'", "''") + "'"


def table(conn, name, topic, **options):
    opts = {"brokers": kit.BROKER, "topic": topic, **options}
    args = ", ".join(f"{k} = {quoted(v)}" for k, v in opts.items())
    conn.execute(f"CREATE VIRTUAL TABLE {name} USING kafka({args})")


@contextlib.contextmanager
def new_topic(prefix):
    """A new topic (one partition; the broker is needed), deleted afterwards."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic(prefix))
    try:
        yield topic
    finally:
        kit.delete_topic(topic)


@contextlib.contextmanager
def topic_and_dir(prefix):
    """A new topic and a scratch directory, both gone afterwards."""
    with new_topic(prefix) as topic:
        tmp = tempfile.mkdtemp()
        try:
            yield topic, tmp
        finally:
            shutil.rmtree(tmp)


def raw_values(conn, topic):
    """Every value of topic as bytes, in offset order."""
    name = "raw_" + str(abs(hash(topic)) % 10**8)
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {name} USING kafka(brokers = {quoted(kit.BROKER)}, "
                 f"topic = {quoted(topic)}, value = 'blob')")
    return [v for (v,) in conn.execute(f'SELECT value FROM {name} ORDER BY "offset"')]


def kcat_files(topic, payloads):
    """Each payload produced by kcat from a file of its own (one message a file)."""
    d = Path(tempfile.mkdtemp(prefix="kcat-files-"))
    try:
        files = []
        for i, p in enumerate(payloads):
            f = d / f"m{i:04d}.bin"
            f.write_bytes(p)
            files.append(str(f))
        kit.kcat("-P", "-t", topic, "-p", "0", *files)
    finally:
        shutil.rmtree(d)


def seed(name):
    s = int(os.environ.get("PLAIN_SEED", random.randrange(2**32)))
    print(f"{name}: seed {s} (replay with PLAIN_SEED={s})")
    return random.Random(s)


# ------------------------------------------------------------------ Avro --

WEATHER = {
    "type": "record", "name": "Weather", "namespace": "plain.test",
    "fields": [
        {"name": "location", "type": "string"},
        {"name": "temp", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "ratio", "type": "float"},
        {"name": "pressure", "type": "double"},
        {"name": "raining", "type": "boolean"},
        {"name": "raw", "type": "bytes"},
        {"name": "sig", "type": {"type": "fixed", "name": "Sig", "size": 4}},
        {"name": "sky", "type": {"type": "enum", "name": "Sky", "symbols": ["CLEAR", "CLOUDY", "RAIN"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "counts", "type": {"type": "map", "values": "long"}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "station", "type": {"type": "record", "name": "Station",
                                     "fields": [{"name": "id", "type": "int"}, {"name": "name", "type": "string"}]}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
    ],
}

COLUMNS = ("location TEXT, temp INTEGER, big INTEGER, ratio REAL, pressure REAL, raining INTEGER, raw BLOB, "
           "sig BLOB, sky TEXT, tags TEXT, counts TEXT, note TEXT, station TEXT, at INTEGER, amount TEXT")


def weather(i):
    import datetime
    import decimal
    return {"location": f"city-{i} \u00e9", "temp": -40 + i, "big": 2**62 + i, "ratio": 0.5 + i,
            "pressure": 1013.25 + i / 7, "raining": i % 2 == 0, "raw": bytes([i % 256, 0, 255, 10]),
            "sig": bytes([1, 2, 3, i % 256]), "sky": ["CLEAR", "CLOUDY", "RAIN"][i % 3],
            "tags": [f"t{j}" for j in range(i % 3)], "counts": {f"k{j}": j * 2**40 for j in range(i % 3)},
            "note": None if i % 2 else f"n\n{i}", "station": {"id": i, "name": f"s{i}"},
            "at": datetime.datetime.fromtimestamp(1700000000 + i, datetime.timezone.utc),
            "amount": decimal.Decimal(f"{i}.{i % 100:02d}")}


def expected_row(w):
    return (w["location"], w["temp"], w["big"], w["ratio"], w["pressure"], int(w["raining"]), w["raw"], w["sig"],
            w["sky"], json.dumps(w["tags"], separators=(",", ":")),
            json.dumps(w["counts"], separators=(",", ":")), w["note"],
            json.dumps(w["station"], separators=(",", ":")), int(w["at"].timestamp() * 1000), str(w["amount"]))


def avsc_file(tmp, schema=WEATHER, name="weather.avsc"):
    path = Path(tmp) / name
    path.write_text(json.dumps(schema, indent=2))
    return str(path)


def avro_bytes(schema, record):
    import fastavro
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def avro_record(schema, data):
    import fastavro
    return fastavro.schemaless_reader(io.BytesIO(data), fastavro.parse_schema(schema))


def test_avro_file_reads_fastavro_and_kcat():
    with topic_and_dir("plain-avro") as (topic, tmp):
        records = [weather(i) for i in range(6)]
        produce_bytes(topic, [avro_bytes(WEATHER, r) for r in records[:3]])
        kcat_files(topic, [avro_bytes(WEATHER, r) for r in records[3:]])
        conn = kit.connect()
        table(conn, "w", topic, value="avro", value_schema_file=avsc_file(tmp))
        cols = [c for c, _ in (s.split(" ") for s in COLUMNS.split(", "))]
        got = conn.execute(f'SELECT {", ".join(cols)}, error, schema_id FROM w ORDER BY "offset"').fetchall()
        for i, (row, r) in enumerate(zip(got, records)):
            want = expected_row(r) + (None, None)
            for c, g, w in zip(cols + ["error", "schema_id"], row, want):
                assert g == w, f"record {i} column {c}: got {g!r}, want {w!r}"
        assert len(got) == len(records), got
        decl = conn.execute("SELECT type FROM pragma_table_info('w') WHERE name = 'raw'").fetchone()
        assert decl == ("BLOB",), decl


def test_avro_file_writes_what_fastavro_reads():
    with topic_and_dir("plain-avro-w") as (topic, tmp):
        conn = kit.connect()
        table(conn, "w", topic, value="avro", value_schema_file=avsc_file(tmp))
        records = [weather(i) for i in range(4)]
        cols = [c for c, _ in (s.split(" ") for s in COLUMNS.split(", "))]
        for r in records[:2]:  # typed columns
            conn.execute(f"INSERT INTO w({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                         expected_row(r))
        for r in records[2:]:  # the JSON value
            row = dict(zip(cols, expected_row(r)))
            row.update(raw=row["raw"].hex(), sig=row["sig"].hex(), tags=r["tags"], counts=r["counts"],
                       station=r["station"])
            conn.execute("INSERT INTO w(value) VALUES (?)", (json.dumps(row),))
        for i, (data, r) in enumerate(zip(raw_values(conn, topic), records)):
            got = avro_record(WEATHER, data)
            for field, want in r.items():
                assert got[field] == want, f"record {i} field {field}: fastavro read {got[field]!r}, want {want!r}"


def test_avro_reopen_after_the_file_moved():
    with topic_and_dir("plain-avro-reopen") as (topic, tmp):
        db = str(Path(tmp) / "t.db")
        schema = avsc_file(tmp)
        conn = kit.connect(db)
        table(conn, "w", topic, value="avro", value_schema_file=schema)
        conn.execute("INSERT INTO w(location, temp, big, ratio, pressure, raining, raw, sig, sky, tags, counts, "
                     "station, at, amount) VALUES ('x', 1, 2, 0.5, 1.5, 1, x'01', x'01020304', 'RAIN', '[]', "
                     "'{}', '{\"id\": 1, \"name\": \"s\"}', 7, '1.25')")
        conn.close()
        os.remove(schema)
        conn = kit.connect(db)
        got = conn.execute("SELECT location, temp, sky, amount, station FROM w").fetchall()
        assert got == [("x", 1, "RAIN", "1.25", '{"id":1,"name":"s"}')], got
        conn.execute("INSERT INTO w(value) SELECT value FROM w")
        assert conn.execute("SELECT count(*), count(DISTINCT value) FROM w").fetchone() == (2, 1)
        conn.execute("ALTER TABLE w RENAME TO w2")
        conn.close()
        conn = kit.connect(db)
        assert conn.execute("SELECT count(*) FROM w2").fetchone() == (2,)
        # a shadow table that lost the schema says so, and what to do
        conn.execute("DELETE FROM w2_registry WHERE name = 'value_schema'")
        conn.close()
        conn = kit.connect(db)
        lost = ("value: table w2: schema: the shadow table w2_registry lacks the schema CREATE read (row "
                "value_schema): drop the table and create it again")
        got = conn.execute("SELECT location, error FROM w2").fetchall()
        assert got == [(None, lost)] * 2, got
        kit.expect_error(lambda: conn.execute("INSERT INTO w2(location) VALUES ('x')"), "kafka: " + lost)
        conn.execute("DROP TABLE w2")
        left = conn.execute("SELECT name FROM sqlite_schema").fetchall()
        assert left == [], left


def test_avro_schema_text_and_key_schema():
    with topic_and_dir("plain-avro-text") as (topic, tmp):
        conn = kit.connect()
        key_schema = {"type": "record", "name": "K", "fields": [{"name": "id", "type": "long"}]}
        value_schema = {"type": "record", "name": "V", "fields": [{"name": "n", "type": "string"}]}
        table(conn, "t", topic, value="avro", value_schema=json.dumps(value_schema), key="avro",
              key_schema=json.dumps(key_schema))
        table(conn, "kf", topic, value="avro", value_schema=json.dumps(value_schema), key="avro",
              key_schema_file=avsc_file(tmp, key_schema, "key.avsc"))
        conn.execute("INSERT INTO t(key, n) VALUES ('{\"id\": 9007199254740993}', 'it''s')")
        produce = avro_bytes(key_schema, {"id": 7}), avro_bytes(value_schema, {"n": "kcat"})
        kit.kcat("-P", "-t", topic, "-p", "0", "-K", "|", input=produce[0] + b"|" + produce[1])
        got = conn.execute('SELECT key, n, value FROM t ORDER BY "offset"').fetchall()
        assert got == [('{"id":9007199254740993}', "it's", '{"n":"it\'s"}'), ('{"id":7}', "kcat", '{"n":"kcat"}')], got
        assert conn.execute('SELECT key, n, value FROM kf ORDER BY "offset"').fetchall() == got
        table(conn, "b", topic, key="blob", value="blob")
        (k, v), _ = conn.execute('SELECT key, value FROM b ORDER BY "offset"').fetchall()
        assert avro_record(key_schema, k) == {"id": 9007199254740993}, k
        assert avro_record(value_schema, v) == {"n": "it's"}, v


def test_avro_bad_messages_follow_on_error():
    with new_topic("plain-avro-bad") as topic:
        schema = {"type": "record", "name": "V", "fields": [{"name": "n", "type": "int"}]}
        produce_bytes(topic, [avro_bytes(schema, {"n": 3}), b"\x80", avro_bytes(schema, {"n": 4}) + b"x"])
        conn = kit.connect()
        table(conn, "t", topic, value="avro", value_schema=json.dumps(schema))
        got = conn.execute('SELECT n, error IS NOT NULL, value FROM t ORDER BY "offset"').fetchall()
        assert [g[:2] for g in got] == [(3, 0), (None, 1), (None, 1)], got
        assert got[1][2] == b"\x80", got  # bytes that do not decode stay bytes
        errors = [e for (e,) in conn.execute('SELECT error FROM t WHERE error IS NOT NULL ORDER BY "offset"')]
        assert all(e.startswith("value: ") and "schema id" not in e for e in errors), errors
        table(conn, "f", topic, value="avro", value_schema=json.dumps(schema), on_error="fail")
        kit.expect_error(lambda: conn.execute("SELECT n FROM f").fetchall(),
                         f"kafka: topic '{topic}' partition 0 offset 1: value: ")
        # INSERT refuses what does not fit, with the registry formats' texts
        kit.expect_error(lambda: conn.execute("INSERT INTO t(value) VALUES ('{\"n\": \"x\"}')"), "n")
        kit.expect_error(lambda: conn.execute("INSERT INTO t(n) VALUES (4294967296)"), "n")
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)


def test_avro_file_errors_name_the_file_and_line():
    tmp = tempfile.mkdtemp()
    try:
        conn = kit.connect()
        mk = lambda **o: table(conn, "t", "never-created", **o)
        missing = str(Path(tmp) / "missing.avsc")
        kit.expect_error(lambda: mk(value="avro", value_schema_file=missing),
                         f"kafka: option value_schema_file '{missing}': cannot read the file: No such file")
        bad = Path(tmp) / "bad.avsc"
        bad.write_text('{\n  "type": "record",\n  "name": "x",\n  "fields": [\n    {"name": "a" "type": "int"}\n  ]\n}\n')
        kit.expect_error(lambda: mk(value="avro", value_schema_file=str(bad)),
                         f"kafka: option value_schema_file '{bad}': not a valid Avro schema: not JSON (line 5")
        bad.write_text('{\n  "type": "record",\n  "name": "x",\n  "fields": [\n    {"name": "a", "type": "strin"}\n  ]\n}\n')
        kit.expect_error(lambda: mk(value="avro", value_schema_file=str(bad)),
                         f"kafka: option value_schema_file '{bad}': not a valid Avro schema: "
                         "Unknown Avro \"type\": strin (line 5)")
        kit.expect_error(lambda: mk(value="avro", value_schema='{"type": "recrod"}'),
                         "kafka: option value_schema: not a valid Avro schema")
        kit.expect_error(lambda: mk(value="avro"), "format avro needs option schema_registry, or value_schema_file")
        kit.expect_error(lambda: mk(value="avro", key="avro", value_schema='"int"'),
                         "format avro needs option schema_registry, or key_schema_file")
        kit.expect_error(lambda: mk(value="avro", value_schema='"int"', value_schema_file=missing),
                         "options value_schema and value_schema_file cannot be combined")
        kit.expect_error(lambda: mk(value="avro", value_schema_file=missing, schema_registry=kit.REGISTRY),
                         "option value_schema_file is for schemas outside a registry")
        kit.expect_error(lambda: mk(value="json", value_schema_file=missing),
                         "option value_schema_file applies to value = 'avro' or 'protobuf' only")
        kit.expect_error(lambda: mk(value="avro", value_proto_file=missing),
                         "option value_proto_file is for format protobuf")
        kit.expect_error(lambda: mk(value="json", value_schema='"int"'),
                         "option value_schema applies to value = 'avro' or 'protobuf' only")
        kit.expect_error(lambda: mk(key="text", key_message="A"),
                         "option key_message applies to key = 'avro' or 'protobuf' only")
        kit.expect_error(lambda: mk(value="msgpack", value_schema='"int"'),
                         "option value_schema does not apply: format msgpack has no schema")
        kit.expect_error(lambda: mk(value="jsonschema"), "format jsonschema needs option schema_registry")
        # a schema that is not a record: value only, no columns to learn
        kit.expect_error(lambda: mk(value="avro", value_schema='"int"', brokers="mock"),
                         "the Avro schema is a int, not a record")
    finally:
        shutil.rmtree(tmp)


# ----------------------------------------------------------- MessagePack --

def msgpack_json(v):
    """What the table's value shows for a MessagePack value (the documented
    form: bin, ext and maps with other keys as markers)."""
    import msgpack
    if isinstance(v, bytes):
        return {"$bin": v.hex()}
    if isinstance(v, msgpack.ExtType):
        return {"$ext": [v.code, v.data.hex()]}
    if isinstance(v, (list, tuple)):
        return [msgpack_json(x) for x in v]
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v) and not (len(v) == 1 and next(iter(v)) in ("$bin", "$ext", "$map")):
            return {k: msgpack_json(x) for k, x in v.items()}
        return {"$map": [[msgpack_json(k), msgpack_json(x)] for k, x in v.items()]}
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def random_msgpack(rnd, depth=0):
    import msgpack
    kinds = ["nil", "bool", "int", "uint", "float", "str", "bin", "ext"] + (["list", "map", "imap"] if depth < 3 else [])
    k = rnd.choice(kinds)
    if k == "nil":
        return None
    if k == "bool":
        return rnd.random() < 0.5
    if k == "int":
        return rnd.choice([0, -1, -33, -129, -2**15 - 1, -2**31 - 1, -2**63, rnd.randrange(-2**63, 0)])
    if k == "uint":
        return rnd.choice([0, 1, 127, 128, 255, 65536, 2**32, 2**64 - 1, rnd.randrange(2**64)])
    if k == "float":
        return rnd.choice([0.0, -0.5, 1e300, 5e-324, 0.1, rnd.uniform(-1e6, 1e6)])
    if k == "str":
        return "".join(rnd.choice(["a", "\u00e9", "\u20ac", "\U0001f600", "\n", '"', "\\", "\x00", "\x1f", "$bin"])
                       for _ in range(rnd.randrange(6)))
    if k == "bin":
        return bytes(rnd.randrange(256) for _ in range(rnd.randrange(5)))
    if k == "ext":
        return msgpack.ExtType(rnd.randrange(128),  # (Python's msgpack takes no negative type)
                               bytes(rnd.randrange(256) for _ in range(rnd.randrange(4))))
    if k == "list":
        return [random_msgpack(rnd, depth + 1) for _ in range(rnd.randrange(4))]
    if k == "map":
        return {rnd.choice(["a", "b", "$bin", "$map", "c d"]) + str(i): random_msgpack(rnd, depth + 1)
                for i in range(rnd.randrange(4))} if rnd.random() < 0.8 else {"$bin": random_msgpack(rnd, depth + 1)}
    return {rnd.randrange(-5, 5) if rnd.random() < 0.7 else f"s{i}": random_msgpack(rnd, depth + 1)
            for i in range(rnd.randrange(1, 4))}


def test_msgpack_reads_and_writes_what_msgpack_does():
    import msgpack
    rnd = seed("test_msgpack_reads_and_writes_what_msgpack_does")
    with new_topic("plain-msgpack") as topic:
        # any value, and (two in three) records of the keys the typed columns below read
        values = [random_msgpack(rnd) if i % 3 == 0 else
                  {k: random_msgpack(rnd, 1) for k in ("a0", "a1", "b0", "b1", "c d0") if rnd.random() < 0.6}
                  for i in range(150)]
        values[0] = {"location": "x", "temp": 21, "raw": b"\x00\xff", "when": msgpack.ExtType(5, b"\x00" * 4),
                     "deep": {"a": [1, {"b": 2.5}]}}
        packed = [msgpack.packb(v) for v in values]
        produce_bytes(topic, packed[:100])
        kcat_files(topic, packed[100:])
        conn = kit.connect()
        table(conn, "m", topic, value="msgpack",
              columns="location TEXT, temp INTEGER, raw BLOB, deep_b REAL $.deep.a[1].b")
        got = conn.execute('SELECT value, error FROM m ORDER BY "offset"').fetchall()
        assert len(got) == len(values), len(got)
        for i, ((text, error), v) in enumerate(zip(got, values)):
            assert error is None, f"message {i} ({packed[i].hex()}): error {error}"
            assert json.loads(text) == msgpack_json(v), f"message {i}: {text} != {msgpack_json(v)}"
        first = conn.execute('SELECT location, temp, raw, deep_b FROM m WHERE "offset" = 0').fetchone()
        assert first == ("x", 21, b"\x00\xff", 2.5), first
        # typed columns (read straight from each message) are what json_extract() reads in value
        paths = ["$.a0", "$.a1", "$.b0", "$.b1", "$.a0[0]", "$.a0.b1", "$.b0[1].a0", "$.\"c d0\"", "$.a1.\"$bin\""]
        cols = ", ".join(f"c{i} NUMERIC {p}" for i, p in enumerate(paths))
        table(conn, "mc", topic, value="msgpack", columns=cols)
        # (a table column of the declared type stores json_extract() as the typed column reads it)
        conn.execute(f"CREATE TEMP TABLE oracle(o INTEGER, {', '.join(f'c{i} NUMERIC' for i in range(len(paths)))})")
        conn.execute(f"INSERT INTO oracle SELECT \"offset\", "
                     f"{', '.join(f'json_extract(value, {quoted(p)})' for p in paths)} FROM mc")
        for i, p in enumerate(paths):
            bad = conn.execute(f"SELECT o, mc.c{i}, oracle.c{i} FROM mc JOIN oracle ON o = \"offset\" "
                               f"WHERE mc.c{i} IS NOT oracle.c{i} OR typeof(mc.c{i}) != typeof(oracle.c{i})").fetchall()
            assert not bad, f"column {p}: (offset, column, json_extract) {bad}"
        # writing the value read gives the same MessagePack value back
        with new_topic("plain-msgpack-copy") as other:
            table(conn, "c", other, value="msgpack")
            conn.execute('INSERT INTO c(value) SELECT value FROM m ORDER BY "offset"')
            for i, (data, v) in enumerate(zip(raw_values(conn, other), values)):
                back = msgpack.unpackb(data, strict_map_key=False)
                assert back == v or json.dumps(msgpack_json(back)) == json.dumps(msgpack_json(v)), \
                    f"message {i}: wrote {data.hex()} = {back!r}, read {v!r}"


def test_msgpack_typed_columns_and_errors():
    import msgpack
    with new_topic("plain-msgpack-cols") as topic:
        conn = kit.connect()
        table(conn, "m", topic, value="msgpack", columns="location TEXT, temp INTEGER, ratio REAL, raw BLOB")
        conn.execute("INSERT INTO m(location, temp, ratio, raw) VALUES ('a', -3, 0.25, x'00ff')")
        conn.execute("INSERT INTO m(value) VALUES ('{\"big\": 18446744073709551615, \"neg\": -9223372036854775808}')")
        kit.expect_error(lambda: conn.execute("INSERT INTO m(value) VALUES ('{nope')"), "value is not valid JSON")
        kit.expect_error(lambda: conn.execute("INSERT INTO m(value) VALUES ('{\"$bin\": \"abc\"}')"),
                         "kafka: MessagePack: a marker's bytes must be a string of hex digits")
        kit.expect_error(lambda: conn.execute("INSERT INTO m(value) VALUES ('{\"$ext\": [300, \"00\"]}')"),
                         "type must be an integer from -128 to 127")
        produce_bytes(topic, [b"\xc1", msgpack.packb(1) + b"\x01", b"\xa3ab", b"\xa2\xff\xfe",
                              b"\xd6\xff\x00\x00\x00\x01"])  # (a timestamp: ext type -1)
        rows = conn.execute('SELECT location, temp, ratio, error, raw FROM m ORDER BY "offset"').fetchall()
        assert rows[0] == ("a", -3, 0.25, None, b"\x00\xff"), rows  # a BLOB column is a bin
        data = raw_values(conn, topic)
        assert msgpack.unpackb(data[0]) == {"location": "a", "temp": -3, "ratio": 0.25, "raw": b"\x00\xff"}, data[0]
        assert msgpack.unpackb(data[1]) == {"big": 2**64 - 1, "neg": -2**63}, data[1]
        errors = [r[3] for r in rows[2:6]]
        assert errors == ["value: not MessagePack", "value: not one MessagePack value: 1 byte after the value at byte 1",
                          "value: not MessagePack: the value is cut short", "value: a string is not UTF-8"], errors
        assert conn.execute('SELECT value FROM m WHERE "offset" = 6').fetchone() == ('{"$ext":[-1,"00000001"]}',)
        conn.execute('INSERT INTO m(value) SELECT value FROM m WHERE "offset" = 6')
        assert raw_values(conn, topic)[-1] == b"\xd6\xff\x00\x00\x00\x01"
        table(conn, "k", topic, key="msgpack", value="msgpack")
        conn.execute("INSERT INTO k(key, value) VALUES ('[1, \"a\", {\"$bin\": \"00\"}]', '{}')")
        assert conn.execute('SELECT key FROM k WHERE key IS NOT NULL').fetchall() == [('[1,"a",{"$bin":"00"}]',)]
        table(conn, "kb", topic, key="blob", value="blob")
        assert conn.execute('SELECT key FROM kb WHERE key IS NOT NULL').fetchone() == (msgpack.packb([1, "a", b"\x00"]),)
        table(conn, "f", topic, value="msgpack", on_error="fail")
        kit.expect_error(lambda: conn.execute("SELECT value FROM f").fetchall(),
                         f"kafka: topic '{topic}' partition 0 offset 2: value: not MessagePack")


# -------------------------------------------------------------- Protobuf --

def pb():
    """tests/test_protobuf.py's classes (compiled with protoc at test time),
    its weather(i) messages and their typed columns."""
    import test_protobuf
    return test_protobuf


WEATHER_PROTO = kit.PROTO_DIR / "pbtest" / "weather.proto"


def test_protobuf_file_reads_python_protobuf_and_kcat():
    tp = pb()
    with new_topic("plain-pb") as topic:
        messages = [tp.weather(i) for i in range(4)]
        produce_bytes(topic, [m.SerializeToString() for m in messages[:2]])
        kcat_files(topic, [m.SerializeToString() for m in messages[2:]])
        conn = kit.connect()
        table(conn, "t", topic, value="protobuf", value_proto_file=str(WEATHER_PROTO),
              value_proto_path=str(kit.PROTO_DIR))
        info = [(r[1], r[2]) for r in conn.execute("PRAGMA table_info(t)")][6:]
        assert info == tp.COLUMNS, info
        names = [n for n, _ in tp.COLUMNS]
        rows = conn.execute(f'SELECT {", ".join(names)}, error, schema_id FROM t ORDER BY "offset"').fetchall()
        assert len(rows) == 4, rows
        for i, row in enumerate(rows):
            for name, got, want in zip(names + ["error", "schema_id"], row, tp.expected_row(i) + (None, None)):
                assert got == want, f"message {i} column {name}: got {got!r}, want {want!r}"
        value = json.loads(conn.execute('SELECT value FROM t WHERE "offset" = 0').fetchone()[0])
        assert value["raw"] == "00ff00" and value["station"]["unit"] == "FAHRENHEIT", value


def test_protobuf_file_writes_what_python_protobuf_reads():
    tp = pb()
    with new_topic("plain-pb-w") as topic:
        conn = kit.connect()
        table(conn, "t", topic, value="protobuf", value_proto_file=str(WEATHER_PROTO),
              value_proto_path=str(kit.PROTO_DIR))
        names = [n for n, _ in tp.COLUMNS]
        for i in range(2):  # uint64 past 2^63 has no SQL INTEGER: it goes in through value
            row = {**dict(zip(names, tp.expected_row(i))), "big": 18446744073709551615 - i}
            row_sql = {**row, "big": None}
            conn.execute(f"INSERT INTO t({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                         tuple(row_sql.values()))
            value = json.loads(conn.execute(f'SELECT value FROM t WHERE "offset" = {2 * i}').fetchone()[0])
            conn.execute("INSERT INTO t(value) VALUES (?)", (json.dumps({**value, "big": row["big"]}),))
        table(conn, "alerts", topic, value="protobuf", value_proto_file=str(WEATHER_PROTO),
              value_proto_path=str(kit.PROTO_DIR), value_message="Alert.Level")
        conn.execute("INSERT INTO alerts(n) VALUES (7)")
        raw = raw_values(conn, topic)
        cls = tp.classes().Weather
        for i in range(2):
            want = tp.weather(i)
            typed, from_value = cls.FromString(raw[2 * i]), cls.FromString(raw[2 * i + 1])
            want_typed = cls()
            want_typed.CopyFrom(want)
            want_typed.big = 0
            assert typed == want_typed, f"message {i} from typed columns:\n{typed}\nwant:\n{want_typed}"
            assert from_value == want, f"message {i} from value:\n{from_value}\nwant:\n{want}"
        assert tp.classes().Alert.Level.FromString(raw[4]).n == 7 and raw[4] == b"\x08\x07", raw[4]


def write_protos(d, files):
    for name, text in files.items():
        p = Path(d) / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


# Imports of imports across two import directories, and a well-known type.
LAYERED = {
    "a/top.proto": 'syntax = "proto3";\npackage lay;\nimport "mid.proto";\nimport "google/protobuf/timestamp.proto";\n'
                   'message Top { Mid mid = 1; google.protobuf.Timestamp at = 2; string name = 3; }\n'
                   'message Key { int64 id = 1; }\n',
    "b/mid.proto": 'syntax = "proto3";\npackage lay;\nimport "deep/leaf.proto";\nmessage Mid { Leaf leaf = 1; }\n',
    "b/deep/leaf.proto": 'syntax = "proto3";\npackage lay;\nmessage Leaf { repeated sint32 n = 1; }\n',
}


def test_protobuf_imports_keys_and_reopen_after_the_files_moved():
    with topic_and_dir("plain-pb-imp") as (topic, tmp):
        write_protos(tmp, LAYERED)
        db = str(Path(tmp) / "t.db")
        conn = kit.connect(db)
        top = str(Path(tmp) / "a" / "top.proto")
        path = f"{tmp}/a:{tmp}/b"
        table(conn, "t", topic, value="protobuf", value_proto_file=top, value_proto_path=path, value_message="Top",
              key="protobuf", key_proto_file=top, key_proto_path=path, key_message="lay.Key")
        conn.execute("INSERT INTO t(key, mid, at, name) VALUES ('{\"id\": -1}', '{\"leaf\": {\"n\": [-1, 2]}}', "
                     "1700000000123, 'x')")
        # .proto text in value_schema finds its imports in value_proto_path too
        table(conn, "txt", topic, value="protobuf", value_proto_path=f"{tmp}/b",
              value_schema='syntax = "proto3"; import "mid.proto"; message M2 { lay.Mid mid = 1; }')
        conn.close()
        shutil.rmtree(Path(tmp) / "a")
        shutil.rmtree(Path(tmp) / "b")
        conn = kit.connect(db)
        assert conn.execute("SELECT mid FROM txt").fetchall() == [('{"leaf":{"n":[-1,2]}}',)]
        got = conn.execute("SELECT key, mid, at, name, value FROM t").fetchall()
        assert got == [('{"id":-1}', '{"leaf":{"n":[-1,2]}}', 1700000000123, "x",
                        '{"mid":{"leaf":{"n":[-1,2]}},"at":1700000000123,"name":"x"}')], got
        # Python's protobuf reads the bytes (classes compiled now by protoc)
        write_protos(tmp, LAYERED)
        out = Path(tmp) / "py"
        out.mkdir()
        done = subprocess.run(["protoc", f"-I{tmp}/a", f"-I{tmp}/b", f"--python_out={out}", "top.proto", "mid.proto",
                               "deep/leaf.proto"], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        sys.path.insert(0, str(out))
        try:
            import top_pb2
        finally:
            sys.path.remove(str(out))
        table(conn, "b", topic, key="blob", value="blob")
        k, v = conn.execute("SELECT key, value FROM b").fetchone()
        key, value = top_pb2.Key.FromString(k), top_pb2.Top.FromString(v)
        assert key.id == -1 and list(value.mid.leaf.n) == [-1, 2] and value.name == "x", (key, value)
        assert value.at.ToMilliseconds() == 1700000000123, value
        assert top_pb2.Top.FromString(v).SerializeToString() == v  # (no field the class does not know)


def test_protobuf_file_errors_name_the_file_and_line():
    tmp = tempfile.mkdtemp()
    try:
        write_protos(tmp, {
            "syntax.proto": 'syntax = "proto3";\n\nmessage A {\n  int32 x = 1\n}\n',
            "undef.proto": 'syntax = "proto3";\nmessage A {\n  int32 x = 1;\n  Nope y = 2;\n}\n',
            "outer.proto": 'syntax = "proto3";\nimport "inner.proto";\nmessage A { B b = 1; }\n',
            "inner.proto": 'syntax = "proto3";\n\nimport "gone.proto";\nmessage B { int32 x = 1; }\n',
            "ok.proto": 'syntax = "proto3";\npackage p;\nmessage A { int32 x = 1; }\n',
        })
        conn = kit.connect()
        mk = lambda **o: table(conn, "t", "never-created", value="protobuf", **o)
        f = lambda n: str(Path(tmp) / n)
        kit.expect_error(lambda: mk(value_proto_file=f("missing.proto")),
                         f"kafka: option value_proto_file '{f('missing.proto')}': cannot read the file: No such file")
        kit.expect_error(lambda: mk(value_proto_file=f("syntax.proto")),
                         f"kafka: option value_proto_file '{f('syntax.proto')}': syntax.proto:5:1: Expected \";\".")
        kit.expect_error(lambda: mk(value_proto_file=f("undef.proto")),
                         f"kafka: option value_proto_file '{f('undef.proto')}': undef.proto:4:3: A.y: "
                         "\"Nope\" is not defined.")
        kit.expect_error(lambda: mk(value_proto_file=f("outer.proto")),
                         f"kafka: option value_proto_file '{f('outer.proto')}': inner.proto:3:1: import \"gone.proto\" "
                         f"cannot be resolved: no file of that name in the import directories '{tmp}'")
        kit.expect_error(lambda: mk(value_proto_file=f("ok.proto"), value_message="B"),
                         "message \"B\" is not in the schema (its messages: p.A)")
        kit.expect_error(lambda: mk(value_schema_file=f("ok.proto")),
                         "option value_schema_file is for format avro; format protobuf takes value_proto_file")
        kit.expect_error(lambda: mk(), "format protobuf needs option schema_registry, or value_proto_file")
        kit.expect_error(lambda: mk(value_proto_file=f("ok.proto"), value_schema="syntax = 'proto3';"),
                         "options value_schema and value_proto_file cannot be combined")
        kit.expect_error(lambda: table(conn, "t", "x", value="json", key="protobuf", key_proto_file=f("ok.proto"),
                                       schema_registry=kit.REGISTRY),
                         "option key_proto_file is for schemas outside a registry")
    finally:
        shutil.rmtree(tmp)


def test_protobuf_schema_text_and_bad_bytes():
    with new_topic("plain-pb-bad") as topic:
        conn = kit.connect()
        text = 'syntax = "proto3"; message V { int32 n = 1; string s = 2; }'
        table(conn, "t", topic, value="protobuf", value_schema=text)
        conn.execute("INSERT INTO t(n, s) VALUES (5, 'x')")
        kit.expect_error(lambda: conn.execute("INSERT INTO t(n) VALUES (4294967296)"), "n")
        produce_bytes(topic, [b"\x08", b"\xff\xff"])
        got = conn.execute('SELECT n, s, error FROM t ORDER BY "offset"').fetchall()
        assert got[0] == (5, "x", None), got
        assert [g[2] for g in got[1:]] == ["value: bytes do not parse as message V"] * 2, got
        table(conn, "f", topic, value="protobuf", value_schema=text, on_error="fail")
        kit.expect_error(lambda: conn.execute("SELECT n FROM f").fetchall(),
                         f"kafka: topic '{topic}' partition 0 offset 1: value: bytes do not parse as message V")


def test_reference_example_prints_what_it_says():
    """docs/formats-without-registry.md's Example block, run by the sqlite3
    shell on the mock cluster, prints its `-- ` lines."""
    doc = (kit.ROOT / "docs" / "formats-without-registry.md").read_text()
    block = doc.split("## Example")[1].split("```sql\n")[1].split("```")[0]
    want = [line[3:] for line in block.splitlines() if line.startswith("-- ")]
    done = subprocess.run(["sqlite3", "-bail", ":memory:"], input=block, capture_output=True, text=True,
                          cwd=kit.ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == want, f"printed:\n{done.stdout}\nthe page says:\n" + "\n".join(want)


# ------------------------------------------------- Avro, property-based --

def random_avro_type(rnd, names, depth=0):
    """A random Avro type (named types get fresh names from names)."""
    simple = ["boolean", "int", "long", "float", "double", "string", "bytes"]
    kinds = simple + ["enum", "fixed", "union"] + (["array", "map", "record"] if depth < 2 else [])
    k = rnd.choice(kinds)
    if k in simple:
        return k
    name = f"N{next(names)}"
    if k == "enum":
        return {"type": "enum", "name": name, "symbols": [f"S{i}" for i in range(rnd.randrange(1, 4))]}
    if k == "fixed":
        return {"type": "fixed", "name": name, "size": rnd.randrange(1, 5)}
    if k == "union":
        return ["null", rnd.choice(simple)]
    if k == "array":
        return {"type": "array", "items": random_avro_type(rnd, names, depth + 1)}
    if k == "map":
        return {"type": "map", "values": random_avro_type(rnd, names, depth + 1)}
    return random_avro_record(rnd, names, depth + 1)


def random_avro_record(rnd, names, depth=0):
    return {"type": "record", "name": f"R{next(names)}",
            "fields": [{"name": f"f{i}", "type": random_avro_type(rnd, names, depth)}
                       for i in range(rnd.randrange(1, 5))]}


def random_avro_value(rnd, t):
    if isinstance(t, list):
        return None if rnd.random() < 0.3 else random_avro_value(rnd, t[1])
    if isinstance(t, dict):
        k = t["type"]
        if k == "enum":
            return rnd.choice(t["symbols"])
        if k == "fixed":
            return bytes(rnd.randrange(256) for _ in range(t["size"]))
        if k == "array":
            return [random_avro_value(rnd, t["items"]) for _ in range(rnd.randrange(3))]
        if k == "map":
            return {f"k{i}\u00e9": random_avro_value(rnd, t["values"]) for i in range(rnd.randrange(3))}
        return {f["name"]: random_avro_value(rnd, f["type"]) for f in t["fields"]}
    return {"boolean": lambda: rnd.random() < 0.5,
            "int": lambda: rnd.choice([0, -1, 2**31 - 1, -2**31, rnd.randrange(-2**31, 2**31)]),
            "long": lambda: rnd.choice([0, 2**63 - 1, -2**63, 2**53 + 1, rnd.randrange(-2**63, 2**63)]),
            "float": lambda: rnd.choice([0.0, 0.1, -3.5, 1e30, rnd.uniform(-1e6, 1e6)]),
            "double": lambda: rnd.choice([0.0, 0.1, -1e300, 5e-324, rnd.uniform(-1e6, 1e6)]),
            "string": lambda: "".join(rnd.choice(["a", "\u00e9", "\U0001f600", "\n", '"', "\\"])
                                      for _ in range(rnd.randrange(5))),
            "bytes": lambda: bytes(rnd.randrange(256) for _ in range(rnd.randrange(5)))}[t]()


def avro_json(t, v):
    """The JSON the table shows for value v of type t (include/codec.h's
    plain values: bytes and fixed as hex, a union as its branch's value)."""
    if isinstance(t, list):
        return None if v is None else avro_json(t[1], v)
    if isinstance(t, dict):
        k = t["type"]
        if k == "fixed":
            return v.hex()
        if k == "array":
            return [avro_json(t["items"], x) for x in v]
        if k == "map":
            return {key: avro_json(t["values"], x) for key, x in v.items()}
        if k == "record":
            return {f["name"]: avro_json(f["type"], v[f["name"]]) for f in t["fields"]}
        return v
    if t == "bytes":
        return v.hex()
    if t == "float":
        return struct.unpack("f", struct.pack("f", v))[0]
    return v


def same_floats(a, b):
    """a == b, floats compared as float 32 (Avro float) when either is one."""
    if isinstance(a, float) or isinstance(b, float):
        return a == b or struct.pack("f", a) == struct.pack("f", b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_floats(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_floats(x, y) for x, y in zip(a, b))
    return a == b


def test_avro_random_schemas_both_ways_with_fastavro():
    rnd = seed("test_avro_random_schemas_both_ways_with_fastavro")
    conn = kit.connect()
    for n in range(25):
        names = itertools.count()
        schema = random_avro_record(rnd, names)
        records = [random_avro_value(rnd, schema) for _ in range(5)]
        topic, copy = kit.topic("plain-avro-prop"), kit.topic("plain-avro-prop-copy")
        table(conn, f"raw{n}", topic, brokers="mock", partitions=1, value="blob")
        conn.executemany(f"INSERT INTO raw{n}(value) VALUES (?)", [(avro_bytes(schema, r),) for r in records])
        table(conn, f"t{n}", topic, brokers="mock", value="avro", value_schema=json.dumps(schema))
        table(conn, f"c{n}", copy, brokers="mock", partitions=1, value="avro", value_schema=json.dumps(schema))
        got = conn.execute(f'SELECT value, error FROM t{n} ORDER BY "offset"').fetchall()
        for i, ((text, error), r) in enumerate(zip(got, records)):
            assert error is None and same_floats(json.loads(text), avro_json(schema, r)), \
                f"schema {n} record {i}: read {text!r} (error {error}), want {avro_json(schema, r)}\nschema: {schema}"
        conn.execute(f'INSERT INTO c{n}(value) SELECT value FROM t{n} ORDER BY "offset"')
        table(conn, f"craw{n}", copy, brokers="mock", value="blob")
        for i, ((data,), r) in enumerate(zip(conn.execute(f'SELECT value FROM craw{n} ORDER BY "offset"'), records)):
            back = avro_record(schema, data)
            assert same_floats(avro_json(schema, back), avro_json(schema, r)), \
                f"schema {n} record {i}: wrote {data.hex()}, fastavro reads {back}, want {r}\nschema: {schema}"


# --------------------------------------------- Protobuf, property-based --

PB_SCALARS = ["int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32",
              "sfixed64", "bool", "string", "bytes", "float", "double"]
PB_RANGES = {"int32": (-2**31, 2**31), "sint32": (-2**31, 2**31), "sfixed32": (-2**31, 2**31),
             "int64": (-2**63, 2**63), "sint64": (-2**63, 2**63), "sfixed64": (-2**63, 2**63),
             "uint32": (0, 2**32), "fixed32": (0, 2**32), "uint64": (0, 2**64), "fixed64": (0, 2**64)}


def random_proto(rnd, n):
    """A random proto3 file (package r<n>) and its top message's fields:
    [(name, kind, type)] with kind scalar, optional, repeated, map, enum or message."""
    fields, lines = [], []
    for i in range(rnd.randrange(1, 7)):
        kind = rnd.choice(["scalar", "scalar", "optional", "repeated", "map", "enum", "message"])
        t = rnd.choice(PB_SCALARS)
        decl = {"scalar": f"{t}", "optional": f"optional {t}", "repeated": f"repeated {t}",
                "map": f"map<string, {t}>", "enum": "Color", "message": "Inner"}[kind]
        lines.append(f"  {decl} f{i} = {i + 1};")
        fields.append((f"f{i}", kind, t))
    text = (f'syntax = "proto3";\npackage r{n};\nenum Color {{ RED = 0; GREEN = 1; BLUE = 2; }}\n'
            f'message Top {{\n' + "\n".join(lines) + "\n}\n"
            "message Inner { sint64 a = 1; repeated string b = 2; Color c = 3; }\n")
    return text, fields


def random_scalar(rnd, t):
    if t in PB_RANGES:
        lo, hi = PB_RANGES[t]
        return rnd.choice([0, lo, hi - 1, rnd.randrange(lo, hi)])
    return {"bool": lambda: rnd.random() < 0.5,
            "string": lambda: "".join(rnd.choice(["a", "\u00e9", "\U0001f600", "\n", '"'])
                                      for _ in range(rnd.randrange(4))),
            "bytes": lambda: bytes(rnd.randrange(256) for _ in range(rnd.randrange(4))),
            "float": lambda: rnd.choice([0.0, 0.5, -1.25e10]),
            "double": lambda: rnd.choice([0.0, 0.1, -1e300, rnd.uniform(-1e6, 1e6)])}[t]()


def fill_message(rnd, msg, fields):
    for name, kind, t in fields:
        if kind in ("scalar", "optional") and rnd.random() < 0.8:
            setattr(msg, name, random_scalar(rnd, t))
        elif kind == "repeated":
            getattr(msg, name).extend(random_scalar(rnd, t) for _ in range(rnd.randrange(3)))
        elif kind == "map":
            for j in range(rnd.randrange(3)):
                getattr(msg, name)[f"k{j}"] = random_scalar(rnd, t)
        elif kind == "enum":
            setattr(msg, name, rnd.randrange(3))
        elif kind == "message" and rnd.random() < 0.7:
            inner = getattr(msg, name)
            inner.a = random_scalar(rnd, "sint64")
            inner.b.extend(random_scalar(rnd, "string") for _ in range(rnd.randrange(3)))
            inner.c = rnd.randrange(3)


def column_of(msg, name, kind, t):
    """What the table's typed column reads for a plain field (None: not checked here)."""
    if kind not in ("scalar", "optional", "enum"):
        return None
    if kind == "optional" and not msg.HasField(name):
        return "absent"
    v = getattr(msg, name)
    if kind == "enum":
        return ["RED", "GREEN", "BLUE"][v]
    if t == "bool":
        return int(v)
    if t in ("uint64", "fixed64") and v >= 2**63:
        return float(v)
    return v


def test_protobuf_random_schemas_both_ways_with_python_protobuf():
    rnd = seed("test_protobuf_random_schemas_both_ways_with_python_protobuf")
    conn = kit.connect()
    tmp = tempfile.mkdtemp()
    sys.path.insert(0, tmp)
    try:
        for n in range(12):
            text, fields = random_proto(rnd, n)
            (Path(tmp) / f"r{n}.proto").write_text(text)
            done = subprocess.run(["protoc", f"-I{tmp}", f"--python_out={tmp}", f"r{n}.proto"],
                                  capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            cls = __import__(f"r{n}_pb2").Top
            messages = []
            for _ in range(5):
                m = cls()
                fill_message(rnd, m, fields)
                messages.append(m)
            topic, copy = kit.topic("plain-pb-prop"), kit.topic("plain-pb-prop-copy")
            table(conn, f"raw{n}", topic, brokers="mock", partitions=1, value="blob")
            conn.executemany(f"INSERT INTO raw{n}(value) VALUES (?)", [(m.SerializeToString(),) for m in messages])
            opts = dict(brokers="mock", value="protobuf", value_proto_file=f"{tmp}/r{n}.proto", value_message="Top")
            table(conn, f"t{n}", topic, **opts)
            table(conn, f"c{n}", copy, partitions=1, **opts)
            names = [f[0] for f in fields]
            rows = conn.execute(f'SELECT error, {", ".join(names)} FROM t{n} ORDER BY "offset"').fetchall()
            for i, (row, m) in enumerate(zip(rows, messages)):
                assert row[0] is None, f"schema {n} message {i}: error {row[0]}\n{text}"
                for (name, kind, t), got in zip(fields, row[1:]):
                    want = column_of(m, name, kind, t)
                    if want is None:  # lists, maps and messages: the round trip below checks them
                        continue
                    if want == "absent":
                        want = None
                    elif t == "float" and kind != "enum":
                        got, want = struct.pack("f", got), struct.pack("f", want)
                    assert got == want, \
                        f"schema {n} message {i} column {name} ({kind} {t}): got {got!r}, want {want!r}\n{text}"
            conn.execute(f'INSERT INTO c{n}(value) SELECT value FROM t{n} ORDER BY "offset"')
            table(conn, f"craw{n}", copy, brokers="mock", value="blob")
            written = [v for (v,) in conn.execute(f'SELECT value FROM craw{n} ORDER BY "offset"')]
            for i, (data, m) in enumerate(zip(written, messages)):
                assert cls.FromString(data) == m, \
                    f"schema {n} message {i}: wrote {cls.FromString(data)}, read {m}\n{text}"
            assert len(written) == len(messages), written
    finally:
        sys.path.remove(tmp)
        shutil.rmtree(tmp)
