"""Secrets stay out of the database file (SPEC section 11): option
`config = '/path/client.properties'` (and `config=PATH` in the options
argument of the catalog and operations functions) reads a client properties
file at CREATE and at every reconnect. librdkafka names, Java's
bootstrap.servers and sasl.jaas.config, the registry's schema.registry.url
and basic.auth.user.info; options in the SQL override the file; errors name
the file and the line, never a value. The database file is searched byte by
byte for the passwords."""

import base64
import http.server
import os
import tempfile
import urllib.error
import urllib.request

import kit
from test_security import SASL_BROKER, need_sasl

SASL_PASSWORD = "alice-secret"
# The registry's password has every character that breaks a URL.
REGISTRY_USER, REGISTRY_PASSWORD = "bob", "Top/Se:cr@et%40"


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def sasl_properties(path, password=SASL_PASSWORD):
    """A file as Kafka's Java tools take it (--command-config)."""
    return write(path, f"""# Kafka client properties, Java style
bootstrap.servers={SASL_BROKER}
security.protocol=SASL_PLAINTEXT
sasl.mechanism: PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\
    username="alice" \\
    password="{password}";
key.serializer=org.apache.kafka.common.serialization.StringSerializer
group.id=ignored-here
""")


def assert_not_in_file(path, secret):
    with open(path, "rb") as f:
        data = f.read()
    assert secret.encode() not in data, f"{secret!r} found in {path} at byte {data.find(secret.encode())}"


def test_sasl_table_through_a_properties_file_keeps_the_password_out_of_the_database():
    need_sasl()
    topic = kit.create_topic(kit.topic("cfg-sasl"), partitions=2)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            props = sasl_properties(f"{tmp}/client.properties")
            db = f"{tmp}/cfg.db"
            conn = kit.connect(db)
            conn.execute(f"CREATE VIRTUAL TABLE s USING kafka(topic='{topic}', config='{props}', timeout_ms=10000)")
            conn.execute("INSERT INTO s(key, value) VALUES ('k1', 'over SASL from a file')")
            conn.close()
            # Reopened: the table reconnects, reading the file again.
            conn = kit.connect(db)
            assert conn.execute("SELECT key, value FROM s").fetchall() == [("k1", "over SASL from a file")]
            rows = conn.execute("SELECT partitions FROM kafka_topics(?, ?) WHERE topic = ?",
                                (SASL_BROKER, f"config={props}", topic)).fetchall()
            assert rows == [(2,)], rows
            conn.close()
            assert_not_in_file(db, SASL_PASSWORD)
            # The file is read at every reconnect: a wrong password there now fails.
            sasl_properties(props, password="wrong-password")
            conn = kit.connect(db)
            e = kit.expect_error(lambda: conn.execute(
                "SELECT * FROM s").fetchall(), "Authentication failed")
            assert "wrong-password" not in str(e), e
            # Options in the SQL override the file's.
            conn.execute(f"CREATE VIRTUAL TABLE temp.o USING kafka(topic='{topic}', config='{props}', "
                         f"rdkafka.sasl.password='{SASL_PASSWORD}')")
            assert conn.execute("SELECT count(*) FROM temp.o").fetchone() == (1,)
    finally:
        kit.delete_topic(topic)


class RegistryProxy(http.server.BaseHTTPRequestHandler):
    """Forwards to the test registry (Apicurio, which has no auth here) only
    requests carrying the expected Basic credentials; 401 otherwise."""
    seen = []

    def log_message(self, *args):
        pass

    def forward(self):
        expected = "Basic " + base64.b64encode(f"{REGISTRY_USER}:{REGISTRY_PASSWORD}".encode()).decode()
        auth = self.headers.get("Authorization")
        RegistryProxy.seen.append(auth == expected)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if self.command == "POST" else None
        if auth != expected:
            self.send_response(401)
            self.end_headers()
            return
        req = urllib.request.Request(kit.REGISTRY + self.path, data=body, method=self.command,
                                     headers={"Content-Type": self.headers.get("Content-Type", "application/json")})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, data = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = forward


def test_registry_with_basic_auth_through_a_properties_file():
    kit.need_broker()
    kit.need_registry()
    topic = kit.create_topic(kit.topic("cfg-reg"))
    schema = '{"type": "record", "name": "R", "fields": [{"name": "n", "type": "long"}]}'
    try:
        with tempfile.TemporaryDirectory() as tmp, kit.http_server(RegistryProxy) as url:
            props = write(f"{tmp}/registry.properties",
                          f"bootstrap.servers={kit.BROKER}\nschema.registry.url={url}\n"
                          "basic.auth.credentials.source=USER_INFO\n"
                          f"basic.auth.user.info={REGISTRY_USER}:{REGISTRY_PASSWORD.replace(':', chr(92) + ':')}\n")
            db = f"{tmp}/reg.db"
            conn = kit.connect(db)
            conn.execute(f"CREATE VIRTUAL TABLE a USING kafka(topic='{topic}', config='{props}', "
                         f"value='avro', value_schema='{schema}')")
            conn.execute("""INSERT INTO a(value) VALUES ('{"n": 7}')""")
            conn.close()
            conn = kit.connect(db)
            assert conn.execute("SELECT value FROM a").fetchall() == [('{"n":7}',)]
            conn.close()
            assert RegistryProxy.seen and all(RegistryProxy.seen), RegistryProxy.seen
            assert_not_in_file(db, REGISTRY_PASSWORD)
            # Without the file's credentials the proxy refuses, and the
            # error shows neither the password nor the user:password URL.
            conn = kit.connect()
            e = kit.expect_error(lambda: conn.execute(
                f"CREATE VIRTUAL TABLE temp.b USING kafka(topic='{topic}', config='{props}', value='avro', "
                f"schema_registry.basic_auth='{REGISTRY_USER}:wrong')"), "401")
            assert "wrong" not in str(e) and REGISTRY_PASSWORD not in str(e), e
    finally:
        kit.delete_topic(topic)


def test_config_file_errors_name_the_file_and_line_and_never_a_value():
    conn = kit.connect()
    with tempfile.TemporaryDirectory() as tmp:
        missing = f"{tmp}/nope.properties"
        kit.expect_error(lambda: conn.execute(
            f"CREATE VIRTUAL TABLE temp.t USING kafka(topic='x', config='{missing}')"),
            f"option config: cannot read '{missing}': No such file or directory")
        cases = [
            ("# ok\nbootstrap.servers=mock\n\nthisisnotaproperty\n", "line 4: expected name=value"),
            ("sasl.password=hunter2-secret\nsecurity.protocol=bogus\n", "line 2: option rdkafka.security.protocol"),
            ("ssl.key.password=hunter2-secret\nno.such.property=hunter2-secret\n",
             "line 2: option rdkafka.no.such.property: No such configuration property"),
            ("sasl.jaas.config=com.sun.security.auth.module.Krb5LoginModule required "
             "password=\"hunter2-secret\";\n", "line 1: sasl.jaas.config: only the PlainLoginModule"),
            ("sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
             "user=\"hunter2-secret\";\n", "line 1: sasl.jaas.config: no username"),
            ("plugin.library.paths=/tmp/evil.so\n", "line 1: option rdkafka.plugin.library.paths is not allowed"),
            ("schema.registry.url=ftp://u:hunter2-secret@h\n", "line 1: option schema_registry must be"),
        ]
        for i, (text, message) in enumerate(cases):
            path = write(f"{tmp}/bad{i}.properties", text)
            e = kit.expect_error(lambda: conn.execute(
                f"CREATE VIRTUAL TABLE temp.t USING kafka(topic='x', config='{path}')"),
                f"kafka: config file '{path}' {message}")
            assert "hunter2" not in str(e), e
            e = kit.expect_error(lambda: conn.execute(
                "SELECT * FROM kafka_topics('mock', ?)", (f"config={path}",)).fetchall(), f"'{path}' {message}")
            assert "hunter2" not in str(e), e


def test_config_file_fills_only_what_the_sql_left_unset():
    conn = kit.connect()
    with tempfile.TemporaryDirectory() as tmp:
        topic = kit.topic("cfg-mock")
        path = write(f"{tmp}/c.properties", "bootstrap.servers : mock\r\nclient.id=from-file\r\n"
                     "rdkafka.linger.ms = 5\r\nmetadata.max.age.ms 60000\r\n")
        conn.execute(f"CREATE VIRTUAL TABLE temp.m USING kafka(topic='{topic}', config='{path}', partitions=1)")
        conn.execute("INSERT INTO temp.m(value) VALUES ('from a file''s brokers')")
        assert conn.execute("SELECT value FROM temp.m").fetchall() == [("from a file's brokers",)]
        # SQL brokers win over the file's.
        kit.expect_error(lambda: conn.execute(
            f"CREATE VIRTUAL TABLE temp.n USING kafka(brokers='mock:99', topic='{topic}', config='{path}')"),
            "mock:99")
