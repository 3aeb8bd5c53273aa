"""The Schema Registry side: value = 'jsonschema' with confluent-kafka's
JSONSerializer/JSONDeserializer both ways, the registry catalog
(kafka_subjects, kafka_schemas, kafka_register_schema), and the client's
errors against small local HTTP servers: 401, no answer within
timeout_ms, basic auth sent and never shown, a base URL with a path
prefix."""

import base64
import contextlib
import http.server
import json
import subprocess
import tempfile
import time
import urllib.request

import kit
import readkit as rk
from test_avro import confluent_consume, ctx, sr_client  # noqa: F401  (shared helpers)

JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Weather", "type": "object",
    "properties": {
        "location": {"type": "string"},
        "temp_celsius": {"type": "number"},
        "humidity_percent": {"type": "integer"},
        "calm": {"type": "boolean"},
        "gust": {"type": ["null", "integer"]},
        "wind": {"type": "object", "properties": {"speed": {"type": "number"}}},
    },
    "required": ["location", "temp_celsius"],
}


def setup(prefix="js"):
    kit.need_broker()
    kit.need_registry()
    return kit.create_topic(kit.topic(prefix))


def test_jsonschema_both_directions_with_confluent():
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
    topic = setup()
    ser = JSONSerializer(json.dumps(JSON_SCHEMA), sr_client())
    p = Producer({"bootstrap.servers": kit.BROKER})
    sent = [{"location": "Oslo", "temp_celsius": -3.5, "humidity_percent": 80, "calm": True,
             "gust": None, "wind": {"speed": 4.5}},
            {"location": "Rome", "temp_celsius": 21}]
    for r in sent:
        p.produce(topic, value=ser(r, ctx(topic)))
    assert p.flush(30) == 0
    conn = kit.connect()
    rk.table(conn, "t", topic, value="jsonschema", schema_registry=kit.REGISTRY)
    info = [(r[1], r[2]) for r in conn.execute("PRAGMA table_info(t)")][6:]
    assert info == [("location", "TEXT"), ("temp_celsius", "REAL"), ("humidity_percent", "INTEGER"),
                    ("calm", "INTEGER"), ("gust", "INTEGER"), ("wind", "TEXT")], info
    sid = sr_client().get_latest_version(f"{topic}-value").schema_id
    rows = conn.execute("SELECT location, temp_celsius, humidity_percent, calm, gust, wind, "
                        "value ->> '$.wind.speed', schema_id, error FROM t ORDER BY offset").fetchall()
    assert rows == [("Oslo", -3.5, 80, 1, None, '{"speed":4.5}', 4.5, sid, None),
                    ("Rome", 21.0, None, None, None, None, None, sid, None)], rows
    conn.execute("INSERT INTO t(location, temp_celsius, calm) VALUES ('Nuuk', -10.25, 0)")
    conn.execute("INSERT INTO t(value) VALUES (?)", (json.dumps(sent[0]),))
    de = JSONDeserializer(json.dumps(JSON_SCHEMA))
    c = Consumer({"bootstrap.servers": kit.BROKER, "group.id": kit.topic("g"),
                  "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got, deadline = [], time.time() + 60
    try:
        while len(got) < 4 and time.time() < deadline:
            m = c.poll(1)
            if m is not None and not m.error():
                assert m.value()[0] == 0 and int.from_bytes(m.value()[1:5], "big") == sid
                got.append(de(m.value(), ctx(topic)))
    finally:
        c.close()
    assert got == sent + [{"location": "Nuuk", "temp_celsius": -10.25, "calm": False}, sent[0]], got
    # A boolean's INTEGER column writes a JSON boolean (the reader validates).
    assert got[2]["calm"] is False, got[2]
    # Payloads are checked to be JSON, not validated against the schema.
    kit.expect_error(lambda: conn.execute("INSERT INTO t(value) VALUES ('{not json')"),
                     "the value to write as JSON Schema JSON is not JSON")
    kit.kcat("-P", "-t", topic, "-c", "1", input=b"\x00" + sid.to_bytes(4, "big") + b"{oops")
    assert conn.execute("SELECT error FROM t WHERE offset = 4").fetchone() == (
        f"value: schema id {sid}: the payload is not JSON text",)


def test_catalog_shows_what_a_registry_ui_shows():
    topic = setup("cat")
    subject = f"{topic}-value"
    conn = kit.connect()
    v1 = json.dumps({"type": "record", "name": "W", "fields": [{"name": "a", "type": "int"}]})
    v2 = json.dumps({"type": "record", "name": "W", "fields": [
        {"name": "a", "type": "int"}, {"name": "b", "type": "string", "default": ""}]})
    id1 = conn.execute("SELECT kafka_register_schema(?, ?, ?)", (kit.REGISTRY, subject, v1)).fetchone()[0]
    id2 = conn.execute("SELECT kafka_register_schema(?, ?, ?, 'AVRO')", (kit.REGISTRY, subject, v2)).fetchone()[0]
    # Registering the same schema again gives the same id.
    assert conn.execute("SELECT kafka_register_schema(?, ?, ?)", (kit.REGISTRY, subject, v2)).fetchone()[0] == id2
    js = conn.execute("SELECT kafka_register_schema(?, ?, ?, 'JSON')",
                      (kit.REGISTRY, f"{topic}-js", json.dumps(JSON_SCHEMA))).fetchone()[0]
    subjects = {r[0]: r[1:] for r in conn.execute("SELECT * FROM kafka_subjects(?)", (kit.REGISTRY,))}
    assert subjects[subject] == (2, 2, id2, "AVRO"), subjects[subject]
    assert subjects[f"{topic}-js"] == (1, 1, js, "JSON"), subjects[f"{topic}-js"]
    rows = conn.execute("SELECT subject, version, id, schema_type, json_extract(schema, '$.fields[1].name') "
                        "FROM kafka_schemas(?, ?)", (kit.REGISTRY, subject)).fetchall()
    assert rows == [(subject, 1, id1, "AVRO", None), (subject, 2, id2, "AVRO", "b")], rows
    kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_schemas(?, 'no-such-subject')",
                                          (kit.REGISTRY,)).fetchall(),
                     "kafka_schemas: schema registry http://127.0.0.1:")
    kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_schemas(?)", (kit.REGISTRY,)).fetchall(),
                     "kafka_schemas: argument subject is required: kafka_schemas(registry, subject)")
    kit.expect_error(lambda: conn.execute("SELECT kafka_register_schema(?, ?, '{\"type\": 1')",
                                          (kit.REGISTRY, subject)).fetchall(),
                     "rejected as invalid (HTTP 422)")


class FakeRegistry:
    """A local HTTP server with a handler function: (method, path,
    headers) -> (status, body dict) or None to never answer."""

    def __init__(self, handler, tls=None):
        outer = self
        self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.seen.append((self.path, self.headers.get("Authorization")))
                answer = handler(self.path, self.headers)
                if answer is None:
                    time.sleep(30)
                    return
                status, body = answer
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.serving = contextlib.ExitStack()
        self.url = self.serving.enter_context(kit.http_server(Handler, tls))

    def close(self):
        self.serving.close()


AVRO_TEXT = json.dumps({"type": "record", "name": "W", "fields": [{"name": "a", "type": "int"}]})


def test_basic_auth_is_sent_and_never_shown():
    def handler(path, headers):
        want = "Basic " + base64.b64encode(b"alice:s3cret").decode()
        if headers.get("Authorization") != want:
            return 401, {"error_code": 401, "message": "Unauthorized"}
        return 200, {"id": 42, "subject": "x-value", "version": 3, "schema": AVRO_TEXT}

    fake = FakeRegistry(handler)
    try:
        conn = kit.connect()
        # The right password: CREATE learns the columns through a path prefix.
        conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers = 'mock', topic = 'x', value = 'avro', "
                     f"schema_registry = '{fake.url}/prefix/v7/', "
                     "schema_registry.basic_auth = 'alice:s3cret', partitions = 1)")
        assert [r[1] for r in conn.execute("PRAGMA table_info(t)")][6:] == ["a"]
        assert fake.seen[0] == ("/prefix/v7/subjects/x-value/versions/latest",
                                "Basic " + base64.b64encode(b"alice:s3cret").decode()), fake.seen
        e = kit.expect_error(lambda: conn.execute(
            f"CREATE VIRTUAL TABLE u USING kafka(brokers = 'mock', topic = 'x', value = 'avro', "
            f"schema_registry = '{fake.url}', schema_registry.basic_auth = 'alice:wrong-pass')"),
            f"kafka: schema registry {fake.url}: subject 'x-value' version latest: not authorized "
            "(check schema_registry.basic_auth) (HTTP 401): Unauthorized")
        assert "wrong-pass" not in str(e)
        # The option never reads back (sqlite_schema holds what the user typed).
        assert "s3cret" not in "".join(r[0] for r in conn.execute(
            "SELECT name FROM pragma_table_info('t')"))
    finally:
        fake.close()


def test_a_registry_that_does_not_answer_fails_within_timeout_ms():
    fake = FakeRegistry(lambda path, headers: None)
    try:
        conn = kit.connect()
        started = time.monotonic()
        kit.expect_error(lambda: conn.execute(
            f"CREATE VIRTUAL TABLE t USING kafka(brokers = 'mock', topic = 'x', value = 'avro', "
            f"schema_registry = '{fake.url}', timeout_ms = 1500)"),
            f"kafka: schema registry {fake.url}: subject 'x-value' version latest: no answer within "
            "timeout_ms: Timeout was reached")
        assert time.monotonic() - started < 20
    finally:
        fake.close()


def test_an_unreachable_registry_while_reading_is_a_row_error_not_a_hang():
    """The registry dies after CREATE: every message with an id not yet
    cached reads with error set (once asked per id and table, not once
    per message), within timeout_ms."""
    topic = kit.topic("dead")
    fake = FakeRegistry(lambda path, headers: (
        200, {"id": 7, "subject": f"{topic}-value", "version": 1, "schema": AVRO_TEXT}))
    conn = kit.connect()
    try:
        conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers = 'mock', topic = '{topic}', "
                     f"value = 'avro', schema_registry = '{fake.url}', partitions = 1, timeout_ms = 2000)")
        conn.execute("INSERT INTO t(a) VALUES (1)")
    finally:
        fake.close()
    # Id 7 is cached: it still reads. Id 8 was never fetched: its rows say why.
    conn.execute("CREATE VIRTUAL TABLE raw USING kafka(brokers = 'mock', topic = ?, value = 'blob')"
                 .replace("?", f"'{topic}'"))
    framed = conn.execute("SELECT value FROM raw").fetchone()[0]
    for _ in range(3):
        conn.execute("INSERT INTO raw(value) VALUES (?)", (b"\x00\x00\x00\x00\x08" + framed[5:],))
    rows = conn.execute("SELECT a, schema_id, error FROM t ORDER BY offset").fetchall()
    assert rows[0] == (1, 7, None), rows
    assert all(r[:2] == (None, 8) and r[2].startswith(f"value: schema registry {fake.url}: schema id 8: "
                                                      "unreachable") for r in rows[1:]), rows


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate
    signed by it, and a second CA that signed neither (PEM files in d)."""
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out",
                f"{ca}.pem", "-days", "1", "-subj", f"/CN={ca}", cwd=d)
    with open(f"{d}/san.cnf", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for name, ext in (("server", ["-extfile", "san.cnf"]), ("client", [])):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={name}", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "1", *ext, cwd=d)


def test_registry_over_https_with_a_client_certificate():
    import ssl
    with tempfile.TemporaryDirectory() as d:
        make_certs(d)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(f"{d}/server.pem", f"{d}/server.key")
        tls.load_verify_locations(f"{d}/ca.pem")
        tls.verify_mode = ssl.CERT_REQUIRED  # the client must show a certificate of the CA
        fake = FakeRegistry(lambda path, headers: (
            200, {"id": 5, "subject": "x-value", "version": 1, "schema": AVRO_TEXT}), tls=tls)
        conn = kit.connect()

        def create(name, **ssl_options):
            opts = "".join(f", schema_registry.ssl.{k.replace('_', '.')} = '{d}/{v}'"
                           for k, v in ssl_options.items())
            conn.execute(f"CREATE VIRTUAL TABLE {name} USING kafka(brokers = 'mock', topic = 'x', "
                         f"value = 'avro', schema_registry = '{fake.url}', timeout_ms = 5000, partitions = 1{opts})")

        try:
            create("t", ca_location="ca.pem", certificate_location="client.pem", key_location="client.key")
            assert [r[1] for r in conn.execute("PRAGMA table_info(t)")][6:] == ["a"]
            # No client certificate: the server ends the handshake.
            kit.expect_error(lambda: create("u", ca_location="ca.pem"),
                             f"kafka: schema registry {fake.url}: subject 'x-value' version latest: unreachable: ")
            # A CA that did not sign the server's certificate.
            e = kit.expect_error(lambda: create("v", ca_location="other-ca.pem", certificate_location="client.pem",
                                                key_location="client.key"),
                                 f"kafka: schema registry {fake.url}: subject 'x-value' version latest: unreachable: ")
            assert "certificate" in str(e), e
        finally:
            fake.close()


def apicurio_sh(command, port, tls_dir):
    """tests/registry/apicurio.sh for a second registry serving https only
    (without the sanitizer runtimes: the JVM hangs under them)."""
    import os
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    env.update(REGISTRY_PORT=str(port), REGISTRY_TLS_DIR=tls_dir)
    p = subprocess.run(["bash", os.path.join(os.path.dirname(__file__), "registry", "apicurio.sh"), command],
                       env=env, capture_output=True, text=True, timeout=150)
    assert p.returncode == 0, p.stderr


def test_apicurio_over_https():
    """Apicurio itself over https (REGISTRY_TLS_DIR: Quarkus serves the PEM
    files): CREATE registers, INSERT encodes, SELECT decodes through it; a
    wrong CA and plain http are clear errors."""
    kit.need_broker()
    kit.need_registry()
    port = kit.REGISTRY_PORT + 1
    url = f"https://127.0.0.1:{port}/apis/ccompat/v7"
    with tempfile.TemporaryDirectory() as d:
        make_certs(d)
        apicurio_sh("up", port, d)
        try:
            topic = kit.create_topic(kit.topic("tls"))
            conn = kit.connect()
            rk.table(conn, "t", topic, value="avro", schema_registry=url, value_schema=AVRO_TEXT,
                     **{"schema_registry.ssl.ca.location": f"{d}/ca.pem"})
            conn.execute("INSERT INTO t(a) VALUES (7)")
            assert conn.execute("SELECT a, error FROM t").fetchall() == [(7, None)]
            for name, options, why in (
                    ("u", {"schema_registry": url, "schema_registry.ssl.ca.location": f"{d}/other-ca.pem"},
                     "certificate"),
                    ("v", {"schema_registry": url.replace("https", "http")}, "unreachable")):
                e = kit.expect_error(lambda: rk.table(conn, name, topic, value="avro", timeout_ms=5000, **options),
                                     f"kafka: schema registry {options['schema_registry']}: subject '{topic}-value' "
                                     "version latest: unreachable: ")
                assert why in str(e), e
        finally:
            apicurio_sh("down", port, d)
