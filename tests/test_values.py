"""Every value exact in every format (issue 22): a value the schema cannot
hold is refused on INSERT, naming the field and why, and nothing is
produced; the hidden error column is SQLite's own copy; `key =` with a
registry key never misses rows; ORDER BY rowid DESC LIMIT keeps a bounded
number of messages. Against the real broker and registry."""

import json
import math
import os
import tempfile
import uuid

import kit
import registrykit
from registrykit import setup
import readkit as rk

LOGICAL = {
    "type": "record", "name": "Exact", "fields": [
        {"name": "l", "type": "long"},
        {"name": "i", "type": "int"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 3}},
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "maybe", "type": ["null", "long"], "default": None},
    ]}

GOOD = {"l": 1, "i": 2, "f": 0.5, "d": 0.25, "amount": "1.500", "id": str(uuid.UUID(int=7))}


def _cleanup(topic):
    """The topic and the subjects a test registered for it."""
    kit.delete_topic(topic)
    registrykit.delete_subjects(f"{topic}-value", f"{topic}-key")


def _avro_table(prefix, schema=LOGICAL):
    topic = setup(prefix)
    kit.register_schema(f"{topic}-value", schema)
    conn = kit.connect()
    registrykit.table(conn, "t", topic, fmt="avro")
    return conn, topic


def _insert(conn, **change):
    row = {**GOOD, **change}
    sql = f"INSERT INTO t({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
    conn.execute(sql, tuple(row.values()))


def _refused(conn, topic, cases):
    """Each (change, text): the INSERT fails with text, and the topic stays empty."""
    for change, text in cases:
        if isinstance(change, str):
            kit.expect_error(lambda: conn.execute(change), text)
        else:
            kit.expect_error(lambda: _insert(conn, **change), text)
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,), "a refused row was produced"


def test_avro_long_from_a_real_outside_int64_is_refused():
    """1e19 was written as 1, 9.3e18 as 9, -1e19 as -1 (strtoll stopped at
    the point and nobody looked)."""
    conn, topic = _avro_table("vlong")
    try:
        _refused(conn, topic, [
            ({"l": 1e19}, "Avro field 'l': 1e+19 is out of range for long"),
            ({"l": 9.3e18}, "Avro field 'l': 9.3e+18 is out of range for long"),
            ({"l": -1e19}, "Avro field 'l': -1e+19 is out of range for long"),
            ({"l": 2.5}, "Avro field 'l': expected an integer (long), got a fraction"),
            ({"i": 1e10}, "Avro field 'i': 10000000000 is out of range for int"),
            ("INSERT INTO t(value) VALUES ('" + json.dumps({**GOOD, "l": 1e19}) + "')",
             "Avro field 'l': 1e+19 is out of range for long"),
            ("INSERT INTO t(value) VALUES ('" + json.dumps({**GOOD, "l": 9223372036854775808}) + "')",
             "Avro field 'l': 9223372036854775808 is out of range for long"),
            ("INSERT INTO t(value) VALUES ('" + json.dumps({**GOOD, "maybe": 1e19}) + "')",
             "Avro field 'maybe': 1e+19 fits no branch of its union [null, long]"),
        ])
        # What fits still goes in exactly, at the bounds too.
        _insert(conn, l=-9223372036854775808)
        _insert(conn, l=9223372036854775807, maybe=9.2e18)
        # The same through JSON text (the exact digits, not a double).
        conn.execute("INSERT INTO t(value) VALUES (?)", (json.dumps({**GOOD, "l": -9223372036854775808,
                                                                       "maybe": 9223372036854775807}),))
        got = conn.execute("SELECT l, maybe FROM t").fetchall()
        assert got == [(-9223372036854775808, None), (9223372036854775807, 9200000000000000000),
                       (-9223372036854775808, 9223372036854775807)], got
    finally:
        _cleanup(topic)


def test_avro_decimal_precision_and_scale_are_checked():
    """decimal(10,3) took '99999999.999' (11 digits): confluent's reader
    then showed 100000000.0; Java's Avro refuses to write it."""
    conn, topic = _avro_table("vdec")
    try:
        _refused(conn, topic, [
            ({"amount": "99999999.999"},
             "Avro field 'amount': '99999999.999' has more digits than the decimal's precision (decimal(10,3))"),
            ({"amount": "-12345678.9"},
             "Avro field 'amount': '-12345678.9' has more digits than the decimal's precision (decimal(10,3))"),
            ({"amount": 123456789}, "Avro field 'amount': '123456789' has more digits than the decimal's precision"),
            ({"amount": "1.2345"}, "Avro field 'amount': '1.2345' has more fractional digits than the decimal's scale"),
            ("INSERT INTO t(value) VALUES ('" + json.dumps({**GOOD, "amount": 1.2345}) + "')",
             "Avro field 'amount': '1.2345' has more fractional digits than the decimal's scale"),
            ({"amount": "1e3"}, "Avro field 'amount': '1e3' is not a decimal number"),
        ])
        for amount in ("9999999.999", "-9999999.999", "0.001", "0000000000000001.5", 2.5, 1234567):
            _insert(conn, amount=amount)
        assert [r[0] for r in conn.execute("SELECT amount FROM t")] == [
            "9999999.999", "-9999999.999", "0.001", "1.500", "2.500", "1234567.000"]
    finally:
        _cleanup(topic)


def test_avro_float_overflow_and_uuid_format_are_refused():
    """1e39 in a float was written as +Infinity (read back NULL); 'not-a-uuid'
    in a uuid made a message confluent's deserializer fails on whole."""
    conn, topic = _avro_table("vflt")
    try:
        _refused(conn, topic, [
            ({"f": 1e39}, "Avro field 'f': 1e+39 is out of range for float"),
            ({"f": -3.5e38}, "Avro field 'f': -3.5e+38 is out of range for float"),
            ("INSERT INTO t(value) VALUES ('" + json.dumps({**GOOD, "d": 1e400}).replace("Infinity", "1e400") + "')",
             "Avro field 'd': inf is out of range for double"),
            ("INSERT INTO t(value) VALUES ('" + json.dumps({**GOOD, "f": 1e39}) + "')",
             "Avro field 'f': 1e+39 is out of range for float"),
            ({"f": float("inf")}, "kafka: column f: a non-finite REAL cannot go into a JSON value"),
            ({"d": float("-inf")}, "kafka: column d: a non-finite REAL cannot go into a JSON value"),
            ({"id": "not-a-uuid"}, "Avro field 'id': 'not-a-uuid' is not a UUID (8-4-4-4-12 hex digits)"),
            ({"id": "00000000-0000-0000-0000-00000000000g"}, "is not a UUID"),
            ({"id": "{00000000-0000-0000-0000-000000000007}"}, "is not a UUID"),
            ("INSERT INTO t(value) VALUES ('" + json.dumps({**GOOD, "id": "x"}) + "')",
             "Avro field 'id': 'x' is not a UUID"),
        ])
        _insert(conn, f=3.4028234e38, id="ABCDEF01-2345-6789-abcd-ef0123456789")
        got = conn.execute("SELECT f, id FROM t").fetchall()
        assert got == [(3.40282347e+38, "ABCDEF01-2345-6789-abcd-ef0123456789")], got
    finally:
        _cleanup(topic)


def test_an_aggregate_over_the_error_column_sees_the_text_itself():
    """error was handed to SQLite with SQLITE_STATIC from a buffer freed
    when the cursor moved: max(error) kept that pointer and showed garbage
    in front of the text (ASan: a use after free)."""
    topic = setup("verr")
    try:
        sid = kit.register_schema(f"{topic}-value", LOGICAL)
        conn = kit.connect()
        registrykit.table(conn, "t", topic, fmt="avro")
        _insert(conn)
        header = b"\x00" + sid.to_bytes(4, "big")
        registrykit.produce_bytes(topic, [b"plain text", header + b"\x02", b"\x00\x00",
                                          b"\x00" + (999999).to_bytes(4, "big") + b"\x02", header + b"\x04\x06"])
        errors = [r[0] for r in conn.execute("SELECT error FROM t ORDER BY offset")]
        assert errors[0] is None and all(errors[1:]), errors
        want = max(e for e in errors if e)
        got = conn.execute("SELECT max(error) FROM t").fetchone()[0]
        assert got == want, f"max(error) = {got!r}, the errors read one by one: {errors!r}"
        got = conn.execute("SELECT group_concat(error, '|') FROM t").fetchone()[0]
        assert got == "|".join(e for e in errors if e), got
        assert conn.execute("SELECT min(error), count(error) FROM t").fetchone() == (
            min(e for e in errors if e), len(errors) - 1)
    finally:
        _cleanup(topic)


def _sqlite_highwater(conn, sql):
    """The most memory SQLite's allocator held while sql ran (bytes above
    what it held before): the sorted rows' array is sqlite3_malloc'd."""
    import ctypes
    lib = ctypes.CDLL("libsqlite3.so.0")
    lib.sqlite3_memory_highwater.restype = ctypes.c_int64
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    before = lib.sqlite3_memory_used()
    lib.sqlite3_memory_highwater(1)
    rows = conn.execute(sql).fetchall()
    return rows, lib.sqlite3_memory_highwater(0) - before


def test_order_by_rowid_desc_limit_keeps_a_bounded_number_of_messages():
    """Each partition gives up to LIMIT rows and all were kept, the array
    growing one slot at a time: 64 partitions x LIMIT 1000 held 64,000
    messages (a 512 KB array, reallocated 64,000 times) to deliver 1,000."""
    conn = kit.connect()
    topic = kit.topic("vsort")
    rk.table(conn, "t", topic, brokers="mock", partitions=64)
    conn.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 63999) "
                 "INSERT INTO t(partition, value) SELECT i % 64, 'v' || i FROM n")
    for order, desc in (("DESC", True), ("", False)):
        sql = f"SELECT partition, offset FROM t ORDER BY rowid {order} LIMIT 1000"
        assert f"ORDER BY rowid {order}".strip() in kit.eqp(conn, sql), kit.eqp(conn, sql)
        rows, held = _sqlite_highwater(conn, sql)
        offsets = range(999, 999 - 16, -1) if desc else range(16)
        want = [(p, o) for o in offsets for p in (range(63, -1, -1) if desc else range(64))][:1000]
        assert rows == want, (order, rows[:5], want[:5])
        # 2 x LIMIT pointers and SQLite's own; 64,000 pointers were 512 KB.
        assert held < 160_000, f"ORDER BY rowid {order} LIMIT 1000 held {held} bytes of SQLite memory"


def test_key_pushdown_never_misses_a_registry_key():
    """With key = 'avro' and partitioner = 'murmur2', INSERT hashed the
    framed Avro bytes and `key =` the JSON text SELECT shows: most rows the
    extension itself wrote were not found. The combination is refused at
    CREATE; without partitioner every key is found."""
    kit.need_broker()
    kit.need_registry()
    topic = kit.create_topic(kit.topic("vkey"), partitions=8)
    try:
        kit.register_schema(f"{topic}-key", {"type": "record", "name": "K", "fields": [
            {"name": "station", "type": "string"}, {"name": "n", "type": "long"}]})
        kit.register_schema(f"{topic}-value", {"type": "record", "name": "V", "fields": [
            {"name": "temp", "type": "int"}]})
        path = os.path.join(tempfile.mkdtemp(prefix="vkey-"), "t.db")
        conn = kit.connect(path)
        for fmt in ("avro", "jsonschema", "protobuf"):
            kit.expect_error(lambda: registrykit.table(conn, "p", topic, fmt="avro", key=fmt, partitioner="murmur2"),
                             f"kafka: option partitioner cannot be combined with key = '{fmt}': producers hash "
                             "the key's encoded bytes, not the JSON text a query compares")
        registrykit.table(conn, "t", topic, fmt="avro", key="avro")
        conn.execute("WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 39) "
                     "INSERT INTO t(key, temp) SELECT json_object('station', 's' || i, 'n', i), i FROM n")
        keys = [k for (k,) in conn.execute("SELECT key FROM t")]
        assert len(keys) == 40 and len({p for (p,) in conn.execute("SELECT DISTINCT partition FROM t")}) > 1

        def misses(conn):
            return [k for k in keys if conn.execute("SELECT count(*) FROM t WHERE key = ?", (k,)).fetchone() != (1,)]
        assert not misses(conn), f"key = found no row for {misses(conn)}"
        # A table created with the combination before (its schema says
        # partitioner = 'murmur2') opens, and key = reads every partition.
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute("UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE name = 't'",
                     ("key = 'avro'", "key = 'avro', partitioner = 'murmur2'"))
        conn.commit()
        conn.close()
        conn = kit.connect(path)
        assert "partitioner = 'murmur2'" in conn.execute("SELECT sql FROM sqlite_master WHERE name = 't'").fetchone()[0]
        plan = kit.eqp(conn, "SELECT * FROM t WHERE key = 'x'")
        assert "key =" not in plan, plan
        assert not misses(conn), f"key = found no row for {misses(conn)}"
        conn.execute("DROP TABLE t")
    finally:
        _cleanup(topic)


JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#", "title": "Reading", "type": "object",
    "properties": {
        "n": {"type": "integer", "minimum": 0, "maximum": 100},
        "x": {"type": "number", "exclusiveMaximum": 1.5},
        "s": {"type": "string", "maxLength": 3, "pattern": "^[a-z]*$"},
        "kind": {"enum": ["a", "b"]},
        "pos": {"$ref": "#/definitions/Pos"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        "maybe": {"anyOf": [{"type": "null"}, {"type": "integer"}]},
        "big": {"type": "integer", "minimum": -9223372036854775808},
    },
    "required": ["n"], "additionalProperties": False,
    "definitions": {"Pos": {"type": "object", "properties": {"lat": {"type": "number"}},
                            "required": ["lat"]}},
}


def test_json_schema_values_are_validated_as_the_serializers_do():
    """The JSON Schema format wrote any JSON: a value the schema refuses
    went onto the topic, and confluent's validating readers failed on it."""
    from confluent_kafka.schema_registry.json_schema import JSONSerializer
    topic = setup("vjs")
    try:
        kit.register_schema(f"{topic}-value", JSON_SCHEMA, "JSON")
        conn = kit.connect()
        registrykit.table(conn, "t", topic, fmt="jsonschema")
        ser = JSONSerializer(json.dumps(JSON_SCHEMA), registrykit.sr_client(),
                             conf={"auto.register.schemas": False, "use.latest.version": True})
        cases = [
            ({"n": 1.5}, "JSON Schema field 'n': expected \"integer\", got a fraction"),
            ({"n": 101}, "JSON Schema field 'n': 101 is more than the maximum 100"),
            ({"n": -1}, "JSON Schema field 'n': -1 is less than the minimum 0"),
            ({"n": "1"}, "JSON Schema field 'n': expected \"integer\", got a string"),
            ({"n": 1, "x": 1.5}, "JSON Schema field 'x': 1.5 is not less than the exclusiveMaximum 1.5"),
            ({"n": 1, "s": "abcd"}, "JSON Schema field 's': 'abcd' is longer than maxLength 3"),
            ({"n": 1, "s": "AB"}, "JSON Schema field 's': 'AB' does not match the pattern ^[a-z]*$"),
            ({"n": 1, "kind": "c"}, "JSON Schema field 'kind': \"c\" is not one of the schema's enum values"),
            ({"n": 1, "pos": {}}, "JSON Schema field 'pos.lat': missing, and the schema requires it"),
            ({"n": 1, "tags": ["a", 1]}, "JSON Schema field 'tags[1]': expected \"string\", got a number"),
            ({"n": 1, "tags": ["a", "b", "c"]}, "JSON Schema field 'tags': 3 items, more than maxItems 2"),
            ({"n": 1, "maybe": "x"}, "JSON Schema field 'maybe': a string fits none of the anyOf schemas"),
            ({"n": 1, "nope": 1}, "JSON Schema field 'nope': not a property of the schema"),
            ({}, "JSON Schema field 'n': missing, and the schema requires it"),
            # past 2^53, exactly: as doubles the two are equal
            ({"n": 1, "big": -9223372036854775809},
             "JSON Schema field 'big': -9223372036854775809 is less than the minimum -9.2233720368547758e+18"),
        ]
        for value, text in cases:
            kit.expect_error(lambda: conn.execute("INSERT INTO t(value) VALUES (?)", (json.dumps(value),)), text)
            try:
                ser(value, registrykit.ctx(topic))
            except Exception:
                pass
            else:
                raise AssertionError(f"confluent's JSONSerializer took {value}, which the extension refuses")
        kit.expect_error(lambda: conn.execute("INSERT INTO t(value) VALUES ('{\"n\": 1, \"x\": 1e400}')"),
                         "JSON Schema field 'x': inf is out of range for a number")
        kit.expect_error(lambda: conn.execute("INSERT INTO t(n, s) VALUES (1, 'abcd')"),
                         "JSON Schema field 's': 'abcd' is longer than maxLength 3")
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
        good = {"n": 100, "x": 1.25, "s": "ab", "kind": "b", "pos": {"lat": 1}, "tags": [], "maybe": None}
        ser(good, registrykit.ctx(topic))
        conn.execute("INSERT INTO t(value) VALUES (?)", (json.dumps(good),))
        assert [json.loads(v) for (v,) in conn.execute("SELECT value FROM t")] == [good]
    finally:
        _cleanup(topic)


def test_protobuf_integers_past_their_range_are_refused():
    """libprotobuf 3.21 reads an int64 past its range as a double:
    -9223372036854775809 rounds to -2^63 and was written as that (found by
    tests/test_interop_values.py)."""
    topic = setup("vpbint")
    try:
        kit.register_schema(f"{topic}-value", 'syntax = "proto3";\nimport "google/protobuf/wrappers.proto";\n'
                            "message P { int64 a = 1; sfixed64 b = 2; uint64 c = 3; repeated sint64 d = 4; "
                            "google.protobuf.Int64Value w = 5; map<string, int64> m = 6; }\n", "PROTOBUF")
        conn = kit.connect()
        registrykit.table(conn, "t", topic, fmt="protobuf")
        fits = "kafka: Protobuf field "
        for value, text in [({"a": -9223372036854775809}, "'a': -9223372036854775809 is out of range for int64"),
                            ({"b": 9223372036854775808}, "'b': 9223372036854775808 is out of range for sfixed64"),
                            ({"c": 18446744073709551616}, "'c': 18446744073709551616 is out of range for uint64"),
                            ({"d": [1, -9223372036854775809]}, "'d[1]': -9223372036854775809 is out of range for sint64"),
                            ({"w": -9223372036854775809}, "'w': -9223372036854775809 is out of range for int64"),
                            ({"m": {"k": 9223372036854775808}},
                             '\'m["k"]\': 9223372036854775808 is out of range for int64')]:
            kit.expect_error(lambda: conn.execute("INSERT INTO t(value) VALUES (?)", (json.dumps(value),)), fits + text)
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
        edges = {"a": -9223372036854775808, "b": 9223372036854775807, "c": 18446744073709551615,
                 "d": [-9223372036854775808], "w": 9223372036854775807, "m": {"k": -9223372036854775808}}
        conn.execute("INSERT INTO t(value) VALUES (?)", (json.dumps(edges),))
        assert json.loads(conn.execute("SELECT value FROM t").fetchone()[0]) == edges
    finally:
        _cleanup(topic)


def test_real_columns_compose_json_that_reads_back_as_the_same_double():
    """A REAL typed column composed its JSON with SQLite's printf("%!.17g"),
    which before 3.43 does not round-trip every double: -2.1259274892040128e+304
    was written as ...129e+304, another double (found by tests/fuzz/fuzz_encode.c).
    JSON Schema composes every INSERT's JSON so; seeded random doubles."""
    import random
    import struct
    topic = setup("vreal")
    seed = int(os.environ.get("VALUES_SEED", random.randrange(1 << 30)))
    r = random.Random(seed)
    try:
        kit.register_schema(f"{topic}-value", {"type": "object", "properties": {"x": {"type": "number"}}}, "JSON")
        conn = kit.connect()
        registrykit.table(conn, "t", topic, fmt="jsonschema")
        doubles = [-2.1259274892040128e+304, 5e-324, 1.7976931348623157e308, 0.1, -0.0]
        while len(doubles) < 100:
            d = struct.unpack("<d", r.getrandbits(64).to_bytes(8, "little"))[0]
            if math.isfinite(d):
                doubles.append(d)
        conn.execute("INSERT INTO t(x) SELECT value FROM json_each(?)", (json.dumps(doubles),))
        got = [json.loads(v)["x"] for (v,) in conn.execute("SELECT value FROM t ORDER BY offset")]
        wrong = [(d, g) for d, g in zip(doubles, got) if struct.pack("<d", d) != struct.pack("<d", float(g))]
        assert len(got) == len(doubles) and not wrong, f"VALUES_SEED={seed}: written as other doubles: {wrong[:5]}"
    finally:
        _cleanup(topic)


def test_protobuf_map_key_repeated_on_the_wire_reads_once_with_its_last_value():
    """A map entry the wire repeats (valid: parsers keep the last) showed
    twice in the JSON ({"m":{"k":1,"k":2}}), which no JSON reader keeps
    whole and which did not encode back (found by tests/fuzz/fuzz_encode.c)."""
    topic = setup("vpbmap")
    try:
        sid = kit.register_schema(f"{topic}-value", 'syntax = "proto3";\nmessage P { map<string, int32> m = 1; }\n',
                                  "PROTOBUF")
        conn = kit.connect()
        registrykit.table(conn, "t", topic, fmt="protobuf")

        def entry(key, value):
            body = b"\x0a" + bytes([len(key)]) + key + b"\x10" + bytes([value])
            return b"\x0a" + bytes([len(body)]) + body
        registrykit.produce_bytes(topic, [b"\x00" + sid.to_bytes(4, "big") + b"\x00" +
                                          entry(b"k", 1) + entry(b"j", 3) + entry(b"k", 2)])
        got = conn.execute("SELECT value, m FROM t").fetchall()
        assert got == [('{"m":{"j":3,"k":2}}', '{"j":3,"k":2}')], got
        conn.execute("INSERT INTO t(value) SELECT value FROM t")
        got = conn.execute("SELECT value FROM t WHERE offset = 1").fetchone()
        assert got == ('{"m":{"j":3,"k":2}}',), got
    finally:
        _cleanup(topic)


def test_text_that_is_not_utf8_is_refused_in_every_format():
    """Avro and JSON Schema wrote a value's bytes that are not UTF-8 as they
    were: a string no reader (Java, fastavro, json.loads) can read, a poison
    pill; Protobuf refused with an error that quoted the bytes (not text)."""
    topics = []
    try:
        conn = kit.connect()
        for fmt, schema, kind in [
                ("avro", {"type": "record", "name": "R", "fields": [
                    {"name": "s", "type": "string"}, {"name": "m", "type": {"type": "map", "values": "int"}}]}, "AVRO"),
                ("jsonschema", {"type": "object", "properties": {"s": {"type": "string"}, "m": {"type": "object"}}},
                 "JSON"),
                ("protobuf", 'syntax = "proto3";\nmessage R { string s = 1; map<string, int32> m = 2; }\n', "PROTOBUF")]:
            topic = setup(f"vutf{fmt}")
            topics.append(topic)
            kit.register_schema(f"{topic}-value", schema, kind)
            registrykit.table(conn, fmt, topic, fmt=fmt)
            name = {"avro": "Avro", "jsonschema": "JSON Schema", "protobuf": "Protobuf"}[fmt]
            for value in (b'{"s": "a\xffb", "m": {}}', b'{"s": "ok", "m": {"k\xfe": 1}}'):
                kit.expect_error(lambda: conn.execute(f"INSERT INTO {fmt}(value) VALUES (CAST(? AS TEXT))", (value,)),
                                 f"kafka: {name} value: the JSON text is not UTF-8")
            assert conn.execute(f"SELECT count(*) FROM {fmt}").fetchone() == (0,), fmt
    finally:
        for topic in topics:
            _cleanup(topic)


def test_json_schema_validates_a_value_nested_deeply():
    """Validation stopped 64 levels down (meant for a $ref that refers to
    itself): a wrong leaf deeper than that was written (found by
    tests/fuzz/fuzz_encode.c's review)."""
    topic = setup("vjsdeep")
    try:
        kit.register_schema(f"{topic}-value", {
            "type": "object", "properties": {"t": {"$ref": "#/definitions/L"}},
            "definitions": {"L": {"type": "array", "items": {"anyOf": [{"type": "integer"}, {"$ref": "#/definitions/L"}]}}},
        }, "JSON")
        conn = kit.connect()
        registrykit.table(conn, "t", topic, fmt="jsonschema")
        deep = "x"
        for _ in range(70):
            deep = [deep]
        # The refusal names the leaf, not the first anyOf above it.
        kit.expect_error(lambda: conn.execute("INSERT INTO t(value) VALUES (?)", (json.dumps({"t": deep}),)),
                         "kafka: JSON Schema field 't" + "[0]" * 70 + "': a string fits none of the anyOf schemas")
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
        deep = 5
        for _ in range(70):
            deep = [deep]
        conn.execute("INSERT INTO t(value) VALUES (?)", (json.dumps({"t": deep}),))
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
    finally:
        _cleanup(topic)


def test_negative_zero_reads_back_negative_in_every_format():
    """Protobuf showed -0.0 as -0, which JSON readers (and SQLite's JSON)
    read as the integer 0: the sign was lost (the issue's edges: +-0)."""
    topics = []
    try:
        conn = kit.connect()
        for fmt, schema, kind in [
                ("avro", {"type": "record", "name": "R", "fields": [
                    {"name": "d", "type": "double"}, {"name": "f", "type": "float"}]}, "AVRO"),
                ("protobuf", 'syntax = "proto3";\nmessage R { double d = 1; float f = 2; }\n', "PROTOBUF")]:
            topic = setup(f"vzero{fmt}")
            topics.append(topic)
            kit.register_schema(f"{topic}-value", schema, kind)
            registrykit.table(conn, fmt, topic, fmt=fmt)
            conn.execute(f"INSERT INTO {fmt}(value) VALUES ('{{\"d\": -0.0, \"f\": -0.0}}')")
            conn.execute(f"INSERT INTO {fmt}(d, f) VALUES (-0.0, -0.0)")
            for value, d, f in conn.execute(f"SELECT value, d, f FROM {fmt}"):
                got = [json.loads(value)["d"], json.loads(value)["f"], d, f]
                assert all(isinstance(x, float) and math.copysign(1, x) == -1 for x in got), (fmt, value, got)
    finally:
        for topic in topics:
            _cleanup(topic)
