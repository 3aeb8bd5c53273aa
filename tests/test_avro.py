"""value = 'avro' against a real Schema Registry (Apicurio, Confluent API)
and a real broker, with confluent-kafka's AvroSerializer/AvroDeserializer
as the independent client: both directions field-exact, schema evolution,
rows that do not fit, bad bytes."""

import datetime
import decimal
import functools
import json
import time
import uuid

import kit
import registrykit
from registrykit import ctx, setup, sr_client
import readkit as rk

avro_table = functools.partial(registrykit.table, fmt="avro")  # (conn, name, topic, **options)

SCHEMA = {
    "type": "record", "name": "Sample", "namespace": "kubertron", "fields": [
        {"name": "location", "type": "string"},
        {"name": "temp_celsius", "type": "double"},
        {"name": "humidity", "type": "float"},
        {"name": "count", "type": "int"},
        {"name": "total", "type": "long"},
        {"name": "ok", "type": "boolean"},
        {"name": "wind", "type": ["null", "int"], "default": None},
        {"name": "dir", "type": {"type": "enum", "name": "Dir", "symbols": ["N", "E", "S", "W"]}},
        {"name": "raw", "type": "bytes"},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                                    "precision": 12, "scale": 3}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "at_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "extra", "type": {"type": "map", "values": "long"}},
        {"name": "pos", "type": {"type": "record", "name": "Pos", "fields": [
            {"name": "lat", "type": "double"}, {"name": "lon", "type": "double"}]}},
    ]}

COLUMNS = [("location", "TEXT"), ("temp_celsius", "REAL"), ("humidity", "REAL"),
           ("count", "INTEGER"), ("total", "INTEGER"), ("ok", "INTEGER"), ("wind", "INTEGER"),
           ("dir", "TEXT"), ("raw", "BLOB"), ("amount", "TEXT"), ("at", "INTEGER"),
           ("at_us", "INTEGER"), ("day", "INTEGER"), ("id", "TEXT"), ("tags", "TEXT"),
           ("extra", "TEXT"), ("pos", "TEXT")]

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def record(i):
    """One Python record as confluent-kafka's AvroSerializer takes it."""
    return {
        "location": f"Oslo-{i}", "temp_celsius": -3.25 + i, "humidity": 0.5,
        "count": -2147483648 + i, "total": 9007199254740993 + i, "ok": i % 2 == 0,
        "wind": None if i == 0 else i, "dir": "NESW"[i % 4], "raw": bytes([0, 255, i]),
        "amount": decimal.Decimal("-1234.567") + i,
        "at": EPOCH + datetime.timedelta(milliseconds=1700000000123 + i),
        "at_us": EPOCH + datetime.timedelta(microseconds=1700000000123456 + i),
        "day": datetime.date(2024, 2, 29) + datetime.timedelta(days=i),
        "id": uuid.UUID(int=i + 1), "tags": ["a", f"t{i}"], "extra": {"k": i},
        "pos": {"lat": 59.9, "lon": 10.75},
    }


def expected_row(i):
    """The same record as the extension's typed columns show it."""
    r = record(i)
    return (r["location"], r["temp_celsius"], 0.5, r["count"], r["total"], int(r["ok"]),
            r["wind"], r["dir"], r["raw"], str(r["amount"]), 1700000000123 + i,
            1700000000123456 + i, (r["day"] - datetime.date(1970, 1, 1)).days, str(r["id"]),
            json.dumps(r["tags"], separators=(",", ":")), json.dumps(r["extra"], separators=(",", ":")),
            '{"lat":59.9,"lon":10.75}')


def confluent_produce(topic, schema, records, key_schema=None, keys=None):
    """Produce records with confluent-kafka's AvroSerializer (it registers
    the schema under <topic>-value, as it does by default)."""
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry.avro import AvroSerializer
    ser = AvroSerializer(sr_client(), json.dumps(schema))
    key_ser = AvroSerializer(sr_client(), json.dumps(key_schema)) if key_schema else None
    p = Producer({"bootstrap.servers": kit.BROKER})
    for n, r in enumerate(records):
        key = key_ser(keys[n], ctx(topic, True)) if key_ser else None
        p.produce(topic, key=key, value=ser(r, ctx(topic)))
    assert p.flush(30) == 0


def confluent_consume(topic, n, key=False):
    """The first n values (or keys) of topic through AvroDeserializer."""
    from confluent_kafka import Consumer
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    de = AvroDeserializer(sr_client())
    c = Consumer({"bootstrap.servers": kit.BROKER, "group.id": kit.topic("g"),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    out, deadline = [], time.time() + 60
    try:
        while len(out) < n and time.time() < deadline:
            m = c.poll(1)
            if m is None or m.error():
                continue
            out.append(de(m.key() if key else m.value(), ctx(topic, key)))
    finally:
        c.close()
    assert len(out) == n, out
    return out


def test_confluent_writes_extension_reads_field_exact():
    topic = setup("avro")
    confluent_produce(topic, SCHEMA, [record(i) for i in range(3)])
    conn = kit.connect()
    avro_table(conn, "t", topic)
    info = [(r[1], r[2]) for r in conn.execute("PRAGMA table_info(t)")][6:]
    assert info == COLUMNS, info
    names = ", ".join(n for n, _ in COLUMNS)
    rows = conn.execute(f"SELECT {names} FROM t ORDER BY offset").fetchall()
    assert rows == [expected_row(i) for i in range(3)], rows
    # value is the record as JSON with plain values (a union's branch value).
    value = json.loads(conn.execute("SELECT value FROM t WHERE offset = 1").fetchone()[0])
    assert value["wind"] == 1 and value["raw"] == "00ff01" and value["amount"] == "-1233.567", value
    ids = conn.execute("SELECT DISTINCT schema_id FROM t").fetchall()
    assert ids == [(sr_client().get_latest_version(f"{topic}-value").schema_id,)], ids
    assert conn.execute("SELECT count(*) FROM t WHERE error IS NOT NULL").fetchone() == (0,)


def test_extension_writes_confluent_reads_field_exact():
    topic = setup("avro")
    kit.register_schema(f"{topic}-value", SCHEMA)
    conn = kit.connect()
    avro_table(conn, "t", topic)
    names = [n for n, _ in COLUMNS]
    for i in range(3):
        conn.execute(f"INSERT INTO t({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                     expected_row(i))
    # A JSON value works too.
    value = dict(json.loads(conn.execute("SELECT value FROM t WHERE offset = 0").fetchone()[0]))
    conn.execute("INSERT INTO t(value) VALUES (?)", (json.dumps(value),))
    got = confluent_consume(topic, 4)
    for i in range(3):
        assert got[i] == record(i), (got[i], record(i))
    assert got[3] == record(0), got[3]


def test_schema_evolution_old_and_new_side_by_side():
    topic = setup("evo")
    v1 = {"type": "record", "name": "W", "fields": [
        {"name": "location", "type": "string"}, {"name": "temp", "type": "double"}]}
    v2 = {"type": "record", "name": "W", "fields": [
        {"name": "location", "type": "string"}, {"name": "temp", "type": "double"},
        {"name": "humidity", "type": ["null", "int"], "default": None},
        {"name": "pressure", "type": "double", "default": 1013.25}]}
    confluent_produce(topic, v1, [{"location": "A", "temp": 1.5}])
    conn = kit.connect()
    avro_table(conn, "old", topic)  # columns of v1, fixed at CREATE
    confluent_produce(topic, v2, [{"location": "B", "temp": 2.5, "humidity": 40, "pressure": 1000.5}])
    avro_table(conn, "new", topic)  # columns of v2
    assert conn.execute("SELECT location, temp FROM old ORDER BY offset").fetchall() == [
        ("A", 1.5), ("B", 2.5)]
    rows = conn.execute("SELECT location, temp, humidity, pressure, schema_id FROM new "
                        "ORDER BY offset").fetchall()
    ids = [v.schema_id for v in (sr_client().get_version(f"{topic}-value", n) for n in (1, 2))]
    # Fields the writer lacks read NULL: each message is decoded with its own schema.
    assert rows == [("A", 1.5, None, None, ids[0]), ("B", 2.5, 40, 1000.5, ids[1])], rows
    # INSERT encodes with the latest schema; a left-out field takes its default.
    conn.execute("INSERT INTO new(location, temp) VALUES ('C', 3.5)")
    assert confluent_consume(topic, 3)[2] == {"location": "C", "temp": 3.5, "humidity": None,
                                              "pressure": 1013.25}
    # A BACKWARD-incompatible version is refused by the registry.
    bad = {"type": "record", "name": "W", "fields": [{"name": "x", "type": "int"}]}
    kit.expect_error(lambda: conn.execute("SELECT kafka_register_schema(?, ?, ?)",
                                          (kit.REGISTRY, f"{topic}-value", json.dumps(bad))).fetchall(),
                     "incompatible with the subject's earlier versions (HTTP 409)")


def test_rows_that_do_not_fit_fail_naming_the_field_and_produce_nothing():
    topic = setup("fit")
    kit.register_schema(f"{topic}-value", SCHEMA)
    conn = kit.connect()
    avro_table(conn, "t", topic)
    good = dict(zip([n for n, _ in COLUMNS], expected_row(0)))

    def insert(**change):
        row = {**good, **change}
        row = {k: v for k, v in row.items() if v is not None}
        sql = f"INSERT INTO t({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
        return lambda: conn.execute(sql, tuple(row.values()))

    kit.expect_error(insert(location=None), "Avro field 'location': missing, and the schema gives no default")
    kit.expect_error(insert(count="many"), "Avro field 'count': expected an integer (int), got a string")
    kit.expect_error(insert(count=2147483648), "Avro field 'count': 2147483648 is out of range for int")
    kit.expect_error(insert(dir="NE"), "Avro field 'dir': 'NE' is not a symbol of enum Dir")
    kit.expect_error(insert(amount="1.2345"), "Avro field 'amount': '1.2345' has more fractional digits "
                     "than the decimal's scale")
    kit.expect_error(insert(pos='{"lat": 1}'), "Avro field 'pos.lon': missing, and the schema gives no default")
    kit.expect_error(insert(tags='["a", 1]'), "Avro field 'tags[1]': expected a string, got a number")
    kit.expect_error(lambda: conn.execute("INSERT INTO t(value) VALUES ('{\"nope\": 1}')"),
                     "Avro field 'nope': not a field of record Sample")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    # In one statement, a failing row stops it: the rows before it are kept
    # (Kafka has no rollback outside transactions), the failed one is not sent.
    insert()()
    kit.expect_error(lambda: conn.execute(
        "INSERT INTO t(value) SELECT v FROM (SELECT value AS v FROM t UNION ALL SELECT '{}')"),
        "Avro field 'location': missing")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
    assert kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%o\\n").decode().split() == ["0", "1"]


def test_bad_bytes_follow_on_error():
    topic = setup("bad")
    sid = kit.register_schema(f"{topic}-value", SCHEMA)
    conn = kit.connect()
    avro_table(conn, "t", topic)
    avro_table(conn, "strict", topic, on_error="fail")
    conn.execute("INSERT INTO t(value) VALUES (?)", (json.dumps(json.loads(
        '{"location":"x","temp_celsius":1,"humidity":1,"count":1,"total":1,"ok":true,"wind":null,'
        '"dir":"N","raw":"","amount":"1","at":1,"at_us":1,"day":1,"id":"00000000-0000-0000-0000-000000000001","tags":[],"extra":{},'
        '"pos":{"lat":1,"lon":2}}')),))
    raw = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%s", "-c", "1")
    assert raw[0] == 0 and int.from_bytes(raw[1:5], "big") == sid, raw
    # A string length of 2^40 bytes in a 40-byte message: refused before
    # avro-c would allocate it.
    huge = raw[:5] + bytes([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]) + b"x" * 40
    bad = [b"plain text", b"\x00\x00", raw[:5] + b"\x02", b"\x00" + (999999).to_bytes(4, "big") + raw[5:],
           raw + b"\x00", huge]
    registrykit.produce_bytes(topic, bad)
    errors = [r[0] for r in conn.execute("SELECT error FROM t ORDER BY offset")]
    assert errors[0] is None, errors
    assert errors[1] == "value: message is not in the schema registry wire format (first byte is not 0)"
    assert errors[2] == "value: message is shorter than the wire format's 5-byte header"
    assert errors[3].startswith(f"value: schema id {sid}: not a valid Avro record of its schema"), errors[3]
    assert errors[4].startswith("value: schema registry ") and "schema id 999999: not found (HTTP 404)" in errors[4]
    assert errors[5] == f"value: schema id {sid}: not a valid Avro record of its schema: bytes left after the record"
    assert errors[6] == (f"value: schema id {sid}: not a valid Avro record of its schema: a length past the end "
                         "of the message"), errors[6]
    assert errors[3] == (f"value: schema id {sid}: not a valid Avro record of its schema: a length past the end "
                         "of the message"), errors[3]
    # Typed columns read NULL, value the raw bytes, the row is kept.
    assert conn.execute("SELECT location, value FROM t WHERE offset = 1").fetchone() == (None, b"plain text")
    kit.expect_error(lambda: conn.execute("SELECT location FROM strict").fetchall(),
                     f"kafka: topic '{topic}' partition 0 offset 1: value: message is not in the schema "
                     "registry wire format")


def test_registry_errors_at_create_are_clear_and_bounded():
    topic = setup("reg")
    conn = kit.connect()
    kit.expect_error(lambda: avro_table(conn, "t", topic),
                     f"subject '{topic}-value' version latest: not found (HTTP 404)")
    started = time.monotonic()
    kit.expect_error(lambda: rk.table(conn, "t", topic, value="avro", timeout_ms=2000,
                                      schema_registry="http://127.0.0.1:9/apis/ccompat/v7"),
                     "kafka: schema registry http://127.0.0.1:9/apis/ccompat/v7: subject "
                     f"'{topic}-value' version latest: unreachable")
    assert time.monotonic() - started < 30
    # A malformed value_schema fails before the registry sees it.
    kit.expect_error(lambda: avro_table(conn, "t", topic, value_schema='{"type": "record"'),
                     "kafka: option value_schema: not a valid Avro schema")
    kit.expect_error(lambda: avro_table(conn, "t", topic, value_schema='{"type": "recrod", "name": "x"}'),
                     "kafka: option value_schema: not a valid Avro schema")
    kit.expect_error(lambda: rk.table(conn, "t", topic, value="avro"),
                     "format avro needs option schema_registry, or value_schema_file")


def test_secrets_never_shown():
    topic = setup("sec")
    conn = kit.connect()
    e = kit.expect_error(lambda: rk.table(conn, "t", topic, value="avro", timeout_ms=2000,
                                          **{"schema_registry": "http://bob:hunter2@127.0.0.1:9/x",
                                             "schema_registry.basic_auth": "alice:s3cret"}),
                         "schema registry http://127.0.0.1:9/x:")
    assert "hunter2" not in str(e) and "s3cret" not in str(e) and "bob" not in str(e), e
    e = kit.expect_error(lambda: rk.table(conn, "t", topic, value="avro", schema_registry=kit.REGISTRY,
                                          **{"schema_registry.basic_auth": "no-colon-secret"}),
                         "schema_registry.basic_auth must be user:password")
    assert "no-colon-secret" not in str(e)


def test_value_schema_registers_at_create_and_key_avro():
    topic = setup("reg2")
    key_schema = {"type": "record", "name": "K", "fields": [{"name": "station", "type": "string"}]}
    kit.register_schema(f"{topic}-key", key_schema)
    value_schema = json.dumps({"type": "record", "name": "V", "fields": [
        {"name": "temp", "type": "int"}]})
    conn = kit.connect()
    avro_table(conn, "t", topic, key="avro", value_schema=value_schema)
    latest = sr_client().get_latest_version(f"{topic}-value")
    assert json.loads(latest.schema.schema_str) == json.loads(value_schema)
    conn.execute("INSERT INTO t(key, temp) VALUES ('{\"station\": \"S1\"}', 21)")
    assert conn.execute("SELECT key, temp, schema_id FROM t").fetchall() == [
        ('{"station":"S1"}', 21, latest.schema_id)]
    assert confluent_consume(topic, 1, key=True) == [{"station": "S1"}]
    assert confluent_consume(topic, 1) == [{"temp": 21}]
    kit.expect_error(lambda: conn.execute("INSERT INTO t(key, temp) VALUES ('{\"st\": 1}', 1)"),
                     "Avro field 'st': not a field of record K")


def test_reopening_needs_no_registry():
    """The columns CREATE learned are in the shadow table t_registry: a
    new connection declares the table without asking the registry (its
    URL here answers no more once the proxy is closed)."""
    import http.server
    import urllib.request
    topic = setup("reopen")
    confluent_produce(topic, SCHEMA, [record(0)])

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            with urllib.request.urlopen(kit.REGISTRY + self.path[len("/p"):], timeout=10) as r:
                body = r.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    # The writer schemas are cached while the extension is loaded: SQLite
    # unloads it when its last connection closes, so one stays open.
    keep = kit.connect()
    import os
    import tempfile
    path = os.path.join(tempfile.mkdtemp(), "db.sqlite")
    with kit.http_server(Proxy) as url:
        conn = kit.connect(path)
        avro_table(conn, "t", topic, **{"schema_registry": f"{url}/p"})
        conn.close()
    conn = kit.connect(path)
    info = [(r[1], r[2]) for r in conn.execute("PRAGMA table_info(t)")][6:]
    assert info == COLUMNS, info
    # The shadow table is read-only to ordinary SQL when defensive.
    assert conn.execute("SELECT name FROM t_registry").fetchall() == [("columns",)]
    # The writer schema was cached by this process: reading still works.
    got = conn.execute("SELECT location, error FROM t").fetchall()
    assert got == [("Oslo-0", None)], got
    # The shadow table follows a rename, and the renamed table reopens.
    conn.execute("ALTER TABLE t RENAME TO t2")
    conn.close()
    conn = kit.connect(path)
    assert conn.execute("SELECT location FROM t2").fetchall() == [("Oslo-0",)]
    conn.execute("ALTER TABLE t2 RENAME TO t")
    conn.execute("DROP TABLE t")
    keep.close()
    assert conn.execute("SELECT count(*) FROM sqlite_schema WHERE name = 't_registry'").fetchone() == (0,)


def test_integers_past_2_53_stay_exact_at_every_depth():
    topic = setup("big")
    kit.register_schema(f"{topic}-value", {"type": "record", "name": "B", "fields": [
        {"name": "n", "type": "long"}, {"name": "arr", "type": {"type": "array", "items": "long"}},
        {"name": "m", "type": {"type": "map", "values": ["null", "long"]}}]})
    conn = kit.connect()
    avro_table(conn, "t", topic)
    big = 9007199254740993
    conn.execute("INSERT INTO t(n, arr, m) VALUES (?, ?, ?)",
                 (big, f"[1, {big}]", json.dumps({"k": big}).replace(str(big), str(big))))
    conn.execute("INSERT INTO t(value) VALUES (?)", (f'{{"n": {-big}, "arr": [{big}], "m": {{"k": null}}}}',))
    rows = conn.execute("SELECT n, arr, m, value ->> '$.arr[0]' FROM t ORDER BY offset").fetchall()
    assert rows == [(big, f"[1,{big}]", f'{{"k":{big}}}', 1), (-big, f"[{big}]", '{"k":null}', big)], rows
    got = confluent_consume(topic, 2)
    assert got == [{"n": big, "arr": [1, big], "m": {"k": big}}, {"n": -big, "arr": [big], "m": {"k": None}}], got


def test_doubles_read_back_exactly():
    """Values whose 17-digit text SQLite's printf (before 3.43) gets wrong."""
    topic = setup("dbl")
    schema = {"type": "record", "name": "D", "fields": [{"name": "d", "type": "double"},
                                                        {"name": "f", "type": "float"}]}
    values = [-1.1545580616824966e+232, 1.4523142177899403e+308, 0.1, 5e-324, -0.0, 1e16]
    confluent_produce(topic, schema, [{"d": v, "f": 0.1} for v in values])
    conn = kit.connect()
    avro_table(conn, "t", topic)
    got = [(json.loads(v)["d"], d, json.loads(v)["f"]) for v, d in conn.execute("SELECT value, d FROM t ORDER BY offset")]
    assert [g[0] for g in got] == values and [g[1] for g in got] == values, got
    assert all(g[2] == 0.1 for g in got), got  # a float's shortest text
    conn.execute("INSERT INTO t(value) SELECT value FROM t")
    assert [r["d"] for r in confluent_consume(topic, 2 * len(values))[len(values):]] == values
