"""Bad input (SPEC section 2): every option malformed in turn; empty, huge,
binary and invalid-UTF-8 keys, values and headers; malformed and deeply
nested JSON in typed columns; a value over message.max.bytes; topic names
Kafka rejects; NULL and wrong-typed arguments to every SQL function. Each is
a clear error that names what is wrong, or a documented value: never a
crash, never mangled bytes.

Most cases run on the in-process mock cluster (no broker needed); the ones
whose answer comes from the broker itself run on the real one too.
"""

import hashlib
import os
import sqlite3
import time

import kit

MOCK = "mock"


def mock_table(conn, name="t", extra=""):
    """A kafka table on a new mock topic (2 partitions)."""
    topic = kit.topic("bad")
    conn.execute(f"CREATE VIRTUAL TABLE {name} USING kafka(brokers='{MOCK}', topic='{topic}', "
                 f"partitions=2{', ' + extra if extra else ''})")
    return topic


# Each option, malformed, and a piece of the error text that names it.
MALFORMED_OPTIONS = [
    ("key='xml'", "option key must be text, blob, json, avro, jsonschema, protobuf or msgpack, not 'xml'"),
    ("value=''", "option value must be text, blob, json, avro, jsonschema, protobuf or msgpack"),
    ("value='JSONB'", "option value must be text, blob, json, avro, jsonschema, protobuf or msgpack"),
    ("columns=''", "option columns: a column has no name"),
    ("columns=','", "option columns: a column has no name"),
    ("columns='a INT, a TEXT'", "option columns: column name 'a' is already used"),
    ("columns='offset INT'", "option columns: column name 'offset' is already used"),
    ("columns='a IN\"T'", "option columns: unterminated quote"),
    ("columns='a INT; DROP'", "option columns: bad type 'INT; DROP' for column a"),
    # Found by tests/fuzz/fuzz_options.c: types SQLite's CREATE TABLE refuses.
    ("columns='a INT('", "option columns: unterminated quote or bracket in 'a INT('"),
    ("columns='a INT)'", "option columns: bad type 'INT)' for column a"),
    ("columns='a 1'", "option columns: bad type '1' for column a"),
    ("columns='a INT(1,2,3)'", "option columns: bad type 'INT(1,2,3)' for column a"),
    ("columns='a INT DEFAULT'", "option columns: bad type 'INT DEFAULT' for column a"),
    ("columns='a INT $.x y'", "option columns: bad JSON path '$.x y' for column a"),
    # Malformed paths used to be taken and read NULL for ever (issue 11).
    ("columns='a INT $abc'", "option columns: bad JSON path '$abc' for column a: steps are"),
    ("columns='b INT $..n'", "option columns: bad JSON path '$..n' for column b"),
    ("columns='c INT $.n]x'", "option columns: bad JSON path '$.n]x' for column c"),
    ("columns='d INT $[n]'", "option columns: bad JSON path '$[n]' for column d"),
    ("columns='e INT $.'", "option columns: bad JSON path '$.' for column e"),
    ("columns='f INT $[\"n\"]x'", "option columns: bad JSON path '$[\"n\"]x' for column f"),
    ("columns='g INT $[99999999999]'", "option columns: bad JSON path '$[99999999999]' for column g"),
    ("columns='h INT .n'", "option columns: bad type 'INT .n' for column h"),
    ("group=''", "option group must not be empty"),
    ("start='middle'", "option start must be earliest or latest, not 'middle'"),
    ("transactional_id=''", "option transactional_id must not be empty"),
    ("partitions='0'", "option partitions must be an integer from 1 to 1000000, not '0'"),
    ("partitions='two'", "option partitions must be an integer"),
    ("partitions='99999999999999999999'", "option partitions must be an integer"),
    ("partitions='1', replication='0'", "option replication must be an integer from 1 to 32767"),
    ("replication='3'", "option replication needs option partitions"),
    ("timeout_ms='0'", "option timeout_ms must be an integer from 1 to 86400000, not '0'"),
    ("timeout_ms='-5'", "option timeout_ms must be an integer"),
    ("timeout_ms='1e3'", "option timeout_ms must be an integer"),
    ("timeout_ms='10 s'", "option timeout_ms must be an integer"),
    ("on_error='ignore'", "option on_error must be null or fail, not 'ignore'"),
    ("isolation='serializable'", "option isolation must be read_committed or read_uncommitted"),
    ("rdkafka.no.such.property='1'", "option rdkafka.no.such.property: No such configuration property"),
    ("rdkafka.acks='maybe'", "option rdkafka.acks: Invalid value"),
    ("rdkafka.group.id='g'", "option rdkafka.group.id is set by the extension: use option group"),
    ("rdkafka.bootstrap.servers='h:1'", "option rdkafka.bootstrap.servers is set by the extension: use option brokers"),
    ("rdkafka.enable.partition.eof='false'", "option rdkafka.enable.partition.eof is set by the extension"),
    # Options are parsed again when a database file is opened: none may load code or run a command.
    ("rdkafka.plugin.library.paths='/tmp/x.so'", "option rdkafka.plugin.library.paths is not allowed"),
    ("rdkafka.sasl.kerberos.kinit.cmd='touch /tmp/x'", "option rdkafka.sasl.kerberos.kinit.cmd is not allowed"),
    ("rdkafka.ssl.engine.location='/tmp/x.so'", "option rdkafka.ssl.engine.location is not allowed"),
    ("rdkafka.ssl.providers='/tmp/x'", "option rdkafka.ssl.providers is not allowed"),
    ("rdkafka.=''", "unknown option 'rdkafka.'"),
    ("bogus='1'", "unknown option 'bogus'"),
    ("noequals", "argument 'noequals' is not of the form name = 'value'"),
    ("rdkafka.sasl.password 'x'", "argument 'rdkafka.sasl.password ...' is not of the form name = 'value'"),
    ("key='text', key='blob'", "option key is given twice"),
    ("group='g', transactional_id='x'", "options group and transactional_id cannot be combined"),
]


def test_typed_column_types_with_precision():
    # The comma of DECIMAL(10,2) used to split the column in two (fuzz_options).
    conn = kit.connect()
    mock_table(conn, extra="columns='price DECIMAL(10, 2) $.p, n DOUBLE PRECISION, q NUMERIC( -1 , +2.5e3 )'")
    types = conn.execute("SELECT name, type FROM pragma_table_xinfo('t') WHERE cid > 9").fetchall()
    assert types == [("price", "DECIMAL(10, 2)"), ("n", "DOUBLE PRECISION"),
                     ("q", "NUMERIC( -1 , +2.5e3 )")], types


def test_every_option_malformed_in_turn_names_the_option():
    conn = kit.connect()
    for option, message in MALFORMED_OPTIONS:
        sql = f"CREATE VIRTUAL TABLE z USING kafka(brokers='{MOCK}', topic='x', {option})"
        try:
            kit.expect_error(lambda: conn.execute(sql), message)
        except AssertionError as e:
            raise AssertionError(f"{option}: {e}") from None
        assert not conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'z'").fetchall()


def test_missing_and_malformed_brokers_and_topic():
    conn = kit.connect()
    cases = [
        ("topic='x'", "option brokers is required"),
        ("brokers='mock'", "option topic is required"),
        ("brokers='', topic='x'", "option brokers must not be empty"),
        ("brokers='mock', topic=''", "option topic must not be empty"),
        ("brokers='mock:0', topic='x'", "option brokers: 'mock:0' must be mock or mock:N"),
        ("brokers='mock:17', topic='x'", "option brokers: 'mock:17' must be mock or mock:N"),
        ("brokers='mock:x', topic='x'", "option brokers: 'mock:x' must be mock or mock:N"),
        ("brokers='mock', topic='x', brokers='mock'", "option brokers is given twice"),
    ]
    for options, message in cases:
        kit.expect_error(lambda: conn.execute(f"CREATE VIRTUAL TABLE z USING kafka({options})"), message)


def test_unresolvable_and_refusing_brokers_fail_within_timeout():
    conn = kit.connect()
    for brokers in ["127.0.0.1:1", "no-such-host.invalid:9092", "127.0.0.1:notaport"]:
        t0 = time.monotonic()
        e = kit.expect_error(lambda: conn.execute(
            f"CREATE VIRTUAL TABLE z USING kafka(brokers='{brokers}', topic='x', timeout_ms=1500)"),
            f"cannot connect to brokers '{brokers}' (no connection to any of them succeeded: not waiting "
            "timeout_ms=1500)")
        elapsed = time.monotonic() - t0
        assert elapsed < 1.5 + 5, (brokers, elapsed, e)


def fetch_bytes(conn, table, key_expr="key", value_expr="value"):
    return conn.execute(f"SELECT {key_expr}, {value_expr} FROM {table} "
                        "ORDER BY timestamp, partition, offset").fetchall()


def test_empty_binary_and_invalid_utf8_keys_and_values_come_back_unmangled():
    conn = kit.connect()
    mock_table(conn, "t")
    cases = [
        ("", ""),                      # empty, not NULL
        (b"\x00\x01\xff", b"\xfe\x00"),  # binary with NUL
        (b"\xc3\x28", b"\xa0\xa1"),      # invalid UTF-8 sequences
        (b"\xc0\xaf", b"\xed\xa0\x80"),  # overlong form, surrogate
        (b"\xf4\x90\x80\x80", b"\xff"),  # past U+10FFFF
        ("h\u00e9llo \U0001f600", "\u65e5\u672c"),  # valid multibyte
        (b"a\x00b", b"nul inside"),      # NUL inside otherwise valid UTF-8
        (None, None),                  # no key, tombstone
    ]
    for i, (k, v) in enumerate(cases):
        conn.execute("INSERT INTO t(partition, timestamp, key, value) VALUES(0, ?, ?, ?)", (1000 + i, k, v))
    rows = conn.execute("SELECT key, value, typeof(key), typeof(value) FROM t "
                        "WHERE partition = 0 ORDER BY offset").fetchall()
    assert len(rows) == len(cases), rows
    for (k, v), (rk, rv, tk, tv) in zip(cases, rows):
        for sent, got, typ in ((k, rk, tk), (v, rv, tv)):
            if sent is None:
                assert got is None and typ == "null", (sent, got)
            elif isinstance(sent, str):
                assert got == sent and typ == "text", (sent, got, typ)
            else:
                # bytes: TEXT when valid UTF-8 without NUL, else BLOB; never mangled
                try:
                    text = sent.decode("utf-8")
                    valid = "\x00" not in text
                except UnicodeDecodeError:
                    valid = False
                want = (text, "text") if valid else (sent, "blob")
                assert (got, typ) == want, (sent, got, typ)


def test_blob_format_returns_bytes_for_everything():
    conn = kit.connect()
    mock_table(conn, "t", "key='blob', value='blob'")
    conn.execute("INSERT INTO t(partition, key, value) VALUES(0, 'text key', x'00ff')")
    assert conn.execute("SELECT key, value, typeof(key) FROM t").fetchall() == [
        (b"text key", b"\x00\xff", "blob")]


def test_huge_values_and_keys():
    conn = kit.connect()
    mock_table(conn, "t")
    big = bytes(range(256)) * 3500  # 896,000 bytes, under the 1 MB default
    conn.execute("INSERT INTO t(partition, key, value) VALUES(0, ?, ?)", (b"k" * 60000, big))
    k, v = conn.execute("SELECT key, value FROM t").fetchone()
    assert len(k) == 60000
    assert hashlib.sha256(v).digest() == hashlib.sha256(big).digest()
    # Over message.max.bytes (1,000,000 by default): refused, said so.
    for key, value in [(None, b"x" * 1_100_000), (b"k" * 600_000, b"v" * 600_000)]:
        e = kit.expect_error(lambda: conn.execute(
            "INSERT INTO t(partition, key, value) VALUES(0, ?, ?)", (key, value)), "too large")
        assert "topic" in str(e), e
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1


def test_value_over_message_max_bytes_on_the_real_broker():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("big"))
    conn = kit.connect()
    conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers='{kit.BROKER}', topic='{topic}', timeout_ms=5000)")
    # The broker's limit (message.max.bytes, 1 MiB by default) is below
    # the client's own here: the broker says no, and the statement fails.
    t0 = time.monotonic()
    e = kit.expect_error(lambda: conn.execute(
        "INSERT INTO t(value) VALUES(?)", (b"x" * 1_100_000,)), "too large")
    assert time.monotonic() - t0 < 5 + 5
    assert "'" + topic + "'" in str(e), e
    conn.execute(
        f"CREATE VIRTUAL TABLE big USING kafka(brokers='{kit.BROKER}', topic='{topic}', "
        "timeout_ms=5000, rdkafka.message.max.bytes='5000000')")
    kit.expect_error(lambda: conn.execute("INSERT INTO big(value) VALUES(?)", (b"y" * 1_100_000,)),
                     "not delivered")
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    kit.delete_topic(topic)


def test_headers_edge_cases_round_trip():
    conn = kit.connect()
    mock_table(conn, "t")
    headers = ('{"a":"1","a":"2","b":null,"c":{"hex":"00ff"},"d":[1,true,"x"],'
               '"":"empty name","e":"","u":"\\u00e9\\ud83d\\ude00"}')
    conn.execute("INSERT INTO t(partition, value, headers) VALUES(0, 'v', ?)", (headers,))
    got = conn.execute("SELECT headers FROM t").fetchone()[0]
    import json
    assert json.loads(got) == {"a": ["1", "2"], "b": None, "c": {"hex": "00ff"},
                               "d": ["1", "true", "x"], "": "empty name", "e": "",
                               "u": "\u00e9\U0001f600"}, got
    # A header value of one megabyte is refused by the size limit, not cut.
    kit.expect_error(lambda: conn.execute(
        "INSERT INTO t(value, headers) VALUES('v', ?)", ('{"h":"' + "x" * 1_100_000 + '"}',)),
        "too large")


def test_malformed_headers_are_clear_errors():
    conn = kit.connect()
    mock_table(conn, "t")
    cases = [
        ('{"a":{"hex":"0"}}', 'headers: "a": {"hex": ...} must be an even number of hex digits'),
        ('{"a":{"hex":"zz"}}', 'headers: "a": {"hex": ...} must be an even number of hex digits'),
        ('{"a":{"x":"1"}}', 'headers: "a" must be a string, null'),
        ('{"a":[[1]]}', 'headers: "a" must be a string, null'),
        ('{"a":{"hex":"00","more":1}}', 'headers: "a" must be a string, null'),
        ('[1]', "headers must be a JSON object"),
        ('{"a":', "headers must be a JSON object"),
        ('', "headers must be a JSON object"),
        (b"\xff\xfe", "headers must be a JSON object"),
        ('"just a string"', "headers must be a JSON object"),
        ("[" * 100000, "headers must be a JSON object"),
    ]
    for headers, message in cases:
        kit.expect_error(lambda: conn.execute(
            "INSERT INTO t(value, headers) VALUES('v', ?)", (headers,)), message)
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0


def test_malformed_and_deeply_nested_json_in_typed_columns():
    conn = kit.connect()
    topic = mock_table(conn, "t", "columns='a INT, b TEXT $.x.y, c REAL $[0], d TEXT'")
    deep_ok = '{"x":' * 900 + '1' + '}' * 900          # within cJSON's nesting limit (1000)
    values = [
        '{"a":1,"x":{"y":"why"},"d":"dee"}',
        '{"a":1',                                      # truncated
        'not json at all',
        '',
        '[' * 100000,                                  # unterminated, very deep
        '[' * 5000 + ']' * 5000,                       # valid but deeper than cJSON allows
        deep_ok,
        '{"a":"12","d":{"nested":[1,2]}}',             # string into INT, object into TEXT
        '{"a":1e400}',                                 # overflows a double
        '{"a":99999999999999999999999}',
        '[2.5]',
        '{"a":NaN}',
        b'\xff\xfe{"a":1}',
    ]
    for i, v in enumerate(values):
        conn.execute("INSERT INTO t(partition, timestamp, value) VALUES(0, ?, ?)", (1000 + i, v))
    rows = conn.execute("SELECT a, b, c, d, error FROM t WHERE partition = 0 ORDER BY offset").fetchall()
    assert len(rows) == len(values)
    assert rows[0] == (1, "why", None, "dee", None), rows[0]
    bad = [1, 2, 3, 4, 5, 11, 12]
    for i in bad:
        assert rows[i][:4] == (None,) * 4 and rows[i][4] == "value is not valid JSON", (values[i][:20], rows[i])
    assert rows[6][4] is None, rows[6]
    assert rows[7][:2] == (12, None) and rows[7][3] == '{"nested":[1,2]}' and rows[7][4] is None, rows[7]
    assert rows[10][2] == 2.5, rows[10]
    # on_error = fail: the first undecodable row fails the statement, naming where.
    conn.execute(f"CREATE VIRTUAL TABLE f USING kafka(brokers='{MOCK}', topic='{topic}', "
                 "columns='a INT', on_error='fail')")
    kit.expect_error(lambda: conn.execute("SELECT a FROM f WHERE partition = 0").fetchall(),
                     f"topic '{topic}' partition 0 offset 1: value is not valid JSON")
    # value='json' validates on INSERT, nesting limit included.
    conn.execute(f"CREATE VIRTUAL TABLE j USING kafka(brokers='{MOCK}', topic='{topic}', value='json')")
    for v in ['{"a":1', '[' * 5000 + ']' * 5000, b'\xff']:
        kit.expect_error(lambda: conn.execute("INSERT INTO j(value) VALUES(?)", (v,)),
                         "value is not valid JSON (the table's value format is json)")


def test_wrong_typed_insert_columns():
    conn = kit.connect()
    mock_table(conn, "t", "columns='a INT, c REAL $[0]'")
    cases = [
        ("partition, value", "5, 'x'", "partition 5 does not exist: topic"),
        ("partition, value", "-1, 'x'", "column partition must be an integer from 0 to 2147483647"),
        ("partition, value", "'zero', 'x'", "column partition must be an integer"),
        ("partition, value", "1.5, 'x'", "column partition must be an integer"),
        ("timestamp, value", "-1, 'x'", "column timestamp must be an integer from 1"),
        ("timestamp, value", "x'00', 'x'", "column timestamp must be an integer"),
        ("offset, value", "1, 'x'", "column offset cannot be set on INSERT"),
        ("error, value", "'e', 'x'", "column error cannot be set on INSERT"),
        ("a", "x'00'", "column a: a BLOB cannot go into a JSON value"),
        ("a", "9e999", "column a: a non-finite REAL cannot go into a JSON value"),
        ("c", "1", "column c: cannot compose a value at path $[0]"),
        ("a, value", "1, 'x'", "give either value or the typed columns, not both"),
    ]
    for cols, vals, message in cases:
        kit.expect_error(lambda: conn.execute(f"INSERT INTO t({cols}) VALUES({vals})"), message)
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    conn.execute("INSERT INTO t(value) VALUES('only')")
    kit.expect_error(lambda: conn.execute("UPDATE t SET value = 'x'"), "UPDATE is not supported")
    kit.expect_error(lambda: conn.execute("DELETE FROM t"), "DELETE is not supported")
    assert conn.execute("SELECT value FROM t").fetchall() == [("only",)]


INVALID_TOPICS = ["bad topic", "semi;colon", "x" * 250, ".", "..", "sl/ash", "\u00e9t\u00e9"]


def test_topic_names_kafka_rejects_real_broker():
    kit.need_broker()
    conn = kit.connect()
    for name in INVALID_TOPICS:
        sql = (f"CREATE VIRTUAL TABLE z USING kafka(brokers='{kit.BROKER}', topic=?, partitions=1)")
        quoted = name.replace("'", "''")
        kit.expect_error(lambda: conn.execute(sql.replace("?", f"'{quoted}'")), "Topic name is invalid")
        kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic(?, ?, 1)", (kit.BROKER, name)),
                         "Topic name is invalid")


def test_topic_names_kafka_rejects_mock():
    conn = kit.connect()
    for name in INVALID_TOPICS:
        quoted = name.replace("'", "''")
        kit.expect_error(lambda: conn.execute(
            f"CREATE VIRTUAL TABLE z USING kafka(brokers='mock', topic='{quoted}', partitions=1)"),
            "Topic name is invalid")
        kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic('mock', ?, 1)", (name,)),
                         "Topic name is invalid")


# Arguments of every SQL function: NULL and each wrong type in each place.
WRONG_VALUES = [None, 7, 2.5, b"\x00\xff", ""]  # for text arguments


def test_null_and_wrong_typed_arguments_to_every_function():
    conn = kit.connect()
    assert conn.execute("SELECT kafka_version()").fetchone()[0].startswith("sqlite-kafka ")
    for sql in ["SELECT kafka_version(1)", "SELECT kafka_create_topic('mock', 'x')",
                "SELECT kafka_create_topic('mock', 'x', 1, 1, '{}', '', 7)",
                "SELECT kafka_delete_topic('mock')", "SELECT kafka_delete_topic('mock', 'x', '', 4)"]:
        kit.expect_error(lambda: conn.execute(sql), "wrong number of arguments")
    good = {"brokers": "mock", "topic": kit.topic("fn"), "partitions": 1, "replication": 1,
            "config_json": None, "options": None}
    text_wrongs = WRONG_VALUES
    int_wrongs = [2.5, b"1", "1", 0, -1, 2**40]
    expected = {
        "brokers": ("a non-empty text", text_wrongs),
        "topic": ("a non-empty text", text_wrongs),
        "partitions": ("an integer from 1 to 1000000", int_wrongs + [None]),
        "replication": ("an integer from 1 to 32767 or NULL", int_wrongs),
        "config_json": ("a text or NULL", [7, 2.5, b"{}"]),
        "options": ("a text or NULL", [7, 2.5, b"timeout_ms=1"]),
    }
    for place, (what, wrongs) in expected.items():
        for wrong in wrongs:
            args = dict(good, **{place: wrong})
            kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic(?, ?, ?, ?, ?, ?)",
                                                  tuple(args.values())),
                             f"kafka_create_topic: {place} must be {what}")
    for place, name in enumerate(["brokers", "topic"]):
        for wrong in WRONG_VALUES:
            args = ["mock", "x"]
            args[place] = wrong
            kit.expect_error(lambda: conn.execute("SELECT kafka_delete_topic(?, ?)", args),
                             f"kafka_delete_topic: {name} must be a non-empty text")
    for options, message in [("timeout_ms", "options: item 1 is not of the form name=value"),
                             ("topic=x", "option 'topic' is not accepted here"),
                             ("timeout_ms=0", "option timeout_ms must be an integer"),
                             ("rdkafka.nope=1", "option rdkafka.nope: No such configuration property")]:
        kit.expect_error(lambda: conn.execute("SELECT kafka_delete_topic('mock', 'x', ?)", (options,)),
                         message)
    for config in ["{bad", "[1]", '{"a":[1]}']:
        kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic('mock', 'cfg', 1, 1, ?)", (config,)),
                         "topic config")


CATALOG = {  # table: its arguments after brokers
    "kafka_topics": [],
    "kafka_partitions": ["topic"],
    "kafka_groups": [],
    "kafka_group_offsets": ["group"],
}
OPTIONAL = {("kafka_partitions", 1)}  # (table, place): NULL there means "every topic"


def test_null_and_wrong_typed_arguments_to_the_catalog_tables():
    conn = kit.connect()
    topic = kit.topic("cat")
    conn.execute("SELECT kafka_create_topic('mock', ?, 1)", (topic,))
    for table, extra in CATALOG.items():
        good = ["mock"] + [topic] * len(extra)
        kit.expect_error(lambda: conn.execute(f"SELECT * FROM {table}()").fetchall(), "brokers")
        for place in range(len(good)):
            for wrong in WRONG_VALUES:
                if wrong is None and (table, place) in OPTIONAL:
                    continue
                args = list(good)
                args[place] = wrong
                marks = ", ".join("?" * len(args))
                try:
                    conn.execute(f"SELECT * FROM {table}({marks})", args).fetchall()
                except sqlite3.Error as e:
                    assert table in str(e) and "must be" in str(e), (table, args, e)
                    continue
                raise AssertionError(f"{table}{tuple(args)}: no error")
        marks = ", ".join("?" * (len(good) + 1))
        for options, message in [(7, "options must be"), (b"x", "options must be"),
                                 ("timeout_ms", "is not of the form name=value"),
                                 ("timeout_ms=-1", "option timeout_ms must be an integer"),
                                 ("rdkafka.nope=1", "option rdkafka.nope: No such configuration")]:
            kit.expect_error(lambda: conn.execute(f"SELECT * FROM {table}({marks})",
                                                  good + [options]).fetchall(), message)


def test_null_and_wrong_typed_config_on_the_real_broker():
    kit.need_broker()
    conn = kit.connect()
    name = kit.topic("cfg")
    for config, message in [("{bad", "topic config must be a JSON object"),
                            ("[1]", "topic config must be a JSON object"),
                            ('{"a":[1]}', "topic config 'a' must be a string, number or boolean"),
                            ('{"retention.ms":"abc"}', "INVALID_CONFIG"),
                            ('{"no.such.config":"1"}', "INVALID_CONFIG")]:
        kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic(?, ?, 1, 1, ?)",
                                              (kit.BROKER, name, config)), message)
    kit.expect_error(lambda: conn.execute("SELECT kafka_delete_topic(?, ?)", (kit.BROKER, name)),
                     f"cannot delete topic '{name}': it does not exist")


def test_a_malformed_option_never_echoes_its_value():
    """Without `=`, the whole argument used to be quoted: a password too."""
    conn = kit.connect()
    for arg in ("rdkafka.sasl.password 'hunter2-secret'", "rdkafka.sasl.password hunter2-secret",
                "  rdkafka.ssl.key.password\t\"hunter2-secret\""):
        e = kit.expect_error(lambda: conn.execute(
            f"CREATE VIRTUAL TABLE z USING kafka(brokers='{MOCK}', topic='x', {arg})"),
            "is not of the form name = 'value'")
        assert "hunter2" not in str(e) and "rdkafka." in str(e), (arg, e)


def test_mock_partitions_are_bounded():
    """partitions=100000 on the mock ran for minutes, past any timeout_ms."""
    conn = kit.connect()
    message = "the mock cluster takes at most 1000 partitions per topic, not 100000"
    kit.expect_error(lambda: conn.execute(
        "CREATE VIRTUAL TABLE z USING kafka(brokers='mock', topic='huge', partitions=100000)"), message)
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic('mock', 'huge2', 100000)"), message)
    wide = kit.topic("wide")
    conn.execute(f"CREATE VIRTUAL TABLE y USING kafka(brokers='mock', topic='{wide}', partitions=1000)")
    assert conn.execute("SELECT count(*) FROM kafka_partitions('mock', ?)", (wide,)).fetchone() == (1000,)


OLD_SQLITE_HOST = r"""
#define SQLITE_CORE 1 /* the routine table without the macros that use it */
#include <sqlite3ext.h>
#include <dlfcn.h>
#include <stdio.h>
static int old_version(void) { return 3037002; }
static const char *old_text(void) { return "3.37.2"; }
int main(int argc, char **argv) {
  (void)argc;
  sqlite3_api_routines api = {0};
  api.libversion_number = old_version;
  api.libversion = old_text;
  api.mprintf = sqlite3_mprintf;
  void *lib = dlopen(argv[1], RTLD_NOW);
  int (*init)(sqlite3 *, char **, const sqlite3_api_routines *) = lib ? dlsym(lib, "sqlite3_kafka_init") : NULL;
  if (!init) return 2;
  char *err = NULL;
  int rc = init(NULL, &err, &api);
  printf("%d %s\n", rc, err ? err : "");
  return 0;
}
"""


def test_older_sqlite_is_refused_at_load():
    """The planner needs SQLite 3.38 (sqlite3_vtab_in): an older one's
    routine table ends before those entries. A host that says it is 3.37.2
    gets a clear error and nothing registered."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "host.c"), os.path.join(tmp, "host")
        with open(src, "w") as f:
            f.write(OLD_SQLITE_HOST)
        subprocess.run(["cc", "-o", exe, src, "-lsqlite3", "-ldl"], check=True)
        out = subprocess.run([exe, kit.EXT + ".so"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out
    assert out.stdout == "1 kafka: needs SQLite 3.38.0 or later, this is SQLite 3.37.2\n", out.stdout


@kit.timeout(600)
def test_make_with_cflags_on_the_command_line_keeps_the_needed_flags():
    """`make CFLAGS=-O0` lost -std=c11 -fPIC -Iinclude (the command line
    overrides a Makefile's +=): it must build a loadable extension."""
    import shutil
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        for part in ("Makefile", "ext", "include", "tests/deps.sh"):
            src, dst = kit.ROOT / part, os.path.join(tmp, part)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
        # Not the variables of a `make test SANITIZE=1` around this run.
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        out = subprocess.run(["make", "-C", tmp, "CFLAGS=-O0"], capture_output=True, text=True, timeout=600,
                             env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "-O0 -std=c11" in out.stdout and "-fPIC" in out.stdout, out.stdout[-2000:]
        # Loaded by another process: two copies of the extension in one
        # process share global names (ASan calls that an ODR violation).
        shell = subprocess.run(["sqlite3", ":memory:", f".load {os.path.join(tmp, 'build', 'kafka')}",
                                "SELECT kafka_version() LIKE 'sqlite-kafka %'"],
                               capture_output=True, text=True, timeout=60)
        assert shell.stdout == "1\n" and shell.returncode == 0, (shell.stdout, shell.stderr)


def test_deps_bounds_and_retries_apt_get_update():
    """An apt-get update that never ends is cut at APT_UPDATE_SECONDS and
    tried APT_UPDATE_TRIES times, then deps.sh says so."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        stub = os.path.join(tmp, "apt-get")
        with open(stub, "w") as f:
            f.write(f"#!/bin/sh\necho run >> {tmp}/calls\nexec sleep 600\n")
        os.chmod(stub, 0o755)
        script = ('source <(sed -n "/^apt_update()/,/^}/p" tests/deps.sh); apt_update; echo "rc=$?"')
        env = dict(os.environ, PATH=f"{tmp}:{os.environ['PATH']}", APT_UPDATE_SECONDS="1",
                   APT_UPDATE_TRIES="2")
        out = subprocess.run(["bash", "-c", script], cwd=kit.ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
        calls = open(os.path.join(tmp, "calls")).read().split()
    assert out.stdout.strip() == "rc=1", out
    assert calls == ["run", "run"], calls
    assert "apt-get update failed or took over 1s (try 2 of 2)" in out.stderr, out.stderr
    assert "apt-get update did not succeed in 2 tries" in out.stderr, out.stderr
