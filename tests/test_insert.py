"""INSERT's error texts and composition rules, on the in-process mock
cluster (fast; the real-broker behaviour is in test_produce.py and
test_txn.py)."""

import json
import time

import kit


def mock_table(conn, partitions=2, **options):
    """A table t on a new topic of the mock cluster."""
    topic = kit.topic("ins")
    conn.execute("SELECT kafka_create_topic('mock', ?, ?)", (topic, partitions))
    opts = "".join(f", {k} = '{v}'" for k, v in options.items())
    conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers = 'mock', topic = '{topic}'{opts})")
    return topic


def test_columns_that_cannot_be_set_and_out_of_range_values():
    conn = kit.connect()
    topic = mock_table(conn)
    cases = [
        ("offset, value", "0, 'x'", "column offset cannot be set on INSERT (it must be NULL)"),
        ("error, value", "'e', 'x'", "column error cannot be set on INSERT (it must be NULL)"),
        ("follow, value", "100, 'x'", "column follow cannot be set on INSERT (it must be NULL)"),
        ("partition, value", "2, 'x'",
         f"partition 2 does not exist: topic '{topic}' has 2 partitions (0 to 1)"),
        ("timestamp, value", "0, 'x'",
         "column timestamp must be an integer from 1 to 9223372036854775807, not '0'"),
        ("timestamp, value", "'soon', 'x'", "column timestamp must be an integer"),
    ]
    for cols, vals, message in cases:
        kit.expect_error(lambda: conn.execute(f"INSERT INTO t({cols}) VALUES ({vals})"), message)
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_json_formats_are_checked_strictly_with_the_place_of_the_error():
    conn = kit.connect()
    mock_table(conn, key="json", value="json")
    bad = ['{} x', '01', '1.', '+1', '.5', '[1,]', '{"a":1,}', "'a'", '"tab\there"', '"\\x"',
           '{"a" 1}', 'nul', '"\\u12"', b'"\xff"', '']
    for v in bad:
        kit.expect_error(lambda: conn.execute("INSERT INTO t(value) VALUES (?)", (v,)),
                         "value is not valid JSON (the table's value format is json): error at byte")
    e = kit.expect_error(lambda: conn.execute("INSERT INTO t(key, value) VALUES ('[1, 2', '1')"),
                         "key is not valid JSON (the table's key format is json)")
    assert "error at byte 5 of 5" in str(e), e
    good = [' {"a": [1, -2.5e-3, true, false, null, "\\u00e9\\n"]} ', '0', '-0.5E+2', '"é"', '[]']
    for v in good:
        conn.execute("INSERT INTO t(key, value) VALUES ('1', ?)", (v,))
    assert [r[0] for r in conn.execute("SELECT value FROM t ORDER BY offset")] == good


def test_typed_columns_compose_the_value_under_their_affinity():
    conn = kit.connect()
    mock_table(conn, partitions=1, value="json",
               columns="i INTEGER, r REAL, s TEXT, n NUMERIC, deep TEXT $.a.b")
    conn.execute("INSERT INTO t(i, r, s, n, deep) VALUES ('42', 3, 7, '8', 'x')")
    conn.execute("INSERT INTO t(i, r, s) VALUES (2.0, '2.5', 1.5)")
    conn.execute("INSERT INTO t(i) VALUES ('not a number')")
    values = [json.loads(v) for (v,) in conn.execute("SELECT value FROM t ORDER BY offset")]
    # NUMERIC turns numeric text into a number, as a plain NUMERIC column does.
    assert values == [{"i": 42, "r": 3.0, "s": "7", "n": 8, "a": {"b": "x"}},
                      {"i": 2, "r": 2.5, "s": "1.5"},
                      {"i": "not a number"}], values
    raw = conn.execute("SELECT value FROM t ORDER BY offset LIMIT 1").fetchone()[0]
    assert '"r":3.0' in raw, raw
    kit.expect_error(lambda: conn.execute("INSERT INTO t(s) VALUES (x'00')"),
                     "column s: a BLOB cannot go into a JSON value")
    kit.expect_error(lambda: conn.execute("INSERT INTO t(value, s) VALUES ('{}', 'x')"),
                     "give either value or the typed columns, not both")


def test_failed_statement_says_how_many_rows_were_produced():
    conn = kit.connect()
    mock_table(conn, partitions=1, value="json")
    e = kit.expect_error(lambda: conn.execute(
        "INSERT INTO t(value) VALUES ('1'), ('2'), ('3'), ('{')"), "value is not valid JSON")
    assert ("(of the 3 earlier rows this statement handed to the producer, " in str(e)
            and "may have been produced" in str(e)
            and "give the table a transactional_id to make a statement all-or-nothing" in str(e)), e
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)


def test_transactional_savepoint_rules_on_the_mock():
    conn = kit.connect()
    topic = mock_table(conn, partitions=1)
    conn.execute(f"CREATE VIRTUAL TABLE x USING kafka(brokers = 'mock', topic = '{topic}', "
                 f"transactional_id = '{topic}')")
    conn.execute("BEGIN")
    conn.execute("SAVEPOINT s")
    conn.execute("ROLLBACK TO s")  # nothing produced since: fine
    conn.execute("INSERT INTO x(value) VALUES ('a')")
    conn.execute("SAVEPOINT s2")
    conn.execute("INSERT INTO x(value) VALUES ('b')")
    kit.expect_error(lambda: conn.execute("ROLLBACK TO s2"), "abort due to ROLLBACK")
    kit.expect_error(lambda: conn.execute("COMMIT"),
                     f"kafka: the Kafka transaction of topic '{topic}' was aborted: rolling back "
                     "to a savepoint cannot take back the 1 message produced since it")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO x(value) VALUES ('c')")
    conn.execute("COMMIT")
    assert conn.execute("SELECT value FROM x").fetchall() == [("c",)]


def test_text_goes_out_as_its_bytes_in_utf8_and_utf16_databases():
    """INSERT reads TEXT with its length (no terminating copy): printf()
    results, NUL bytes inside text and 10 KB values arrive byte for byte,
    and a UTF-16 database still produces UTF-8."""
    for encoding in ("UTF-8", "UTF-16le", "UTF-16be"):
        conn = kit.connect()
        conn.execute(f"PRAGMA encoding = '{encoding}'")
        conn.execute("CREATE TABLE warm(x)")  # the encoding is fixed from here on
        topic = mock_table(conn, partitions=1)
        conn.execute(f"CREATE VIRTUAL TABLE b USING kafka(brokers = 'mock', topic = '{topic}', "
                     "key = 'blob', value = 'blob')")
        big = "é" * 5000 + "€😀"
        conn.execute("INSERT INTO t(key, value) VALUES (printf('k-%05d', 42), printf('%s!', ?))", (big,))
        conn.execute("INSERT INTO t(key, value) VALUES (CAST(x'610062' AS TEXT), 'a' || char(0) || 'b')")
        conn.execute("INSERT INTO t(key, value) VALUES (42, 2.5)")
        rows = conn.execute("SELECT key, value FROM b ORDER BY offset").fetchall()
        assert rows[0] == (b"k-00042", (big + "!").encode()), (encoding, rows[0][0])
        assert rows[2] == (b"42", b"2.5"), (encoding, rows[2])
        if encoding == "UTF-8":  # NUL inside text: only UTF-8 keeps it (SQLite converts at NUL)
            assert rows[1] == (b"a\x00b", b"a\x00b"), rows[1]


def test_typed_insert_keeps_int64_exact_and_follows_affinity():
    conn = kit.connect()
    mock_table(conn, partitions=1, value="json", columns="i INTEGER, r REAL, n NUMERIC, s TEXT")
    conn.execute("INSERT INTO t(i, r, n, s) VALUES (9223372036854775807, 1, '9223372036854775807', 0.1)")
    conn.execute("INSERT INTO t(i, r, n, s) VALUES (-9223372036854775808, '2', ' 5 ', 9223372036854775807)")
    conn.execute("INSERT INTO t(i, n) VALUES ('0x10', '1e3')")
    conn.execute("INSERT INTO t(i, n) VALUES ('5 ', 2.0)")
    values = [v for (v,) in conn.execute("SELECT value FROM t ORDER BY offset")]
    assert values == ['{"i":9223372036854775807,"r":1.0,"n":9223372036854775807,"s":"0.1"}',
                      '{"i":-9223372036854775808,"r":2.0,"n":5,"s":"9223372036854775807"}',
                      '{"i":"0x10","n":1000}',
                      '{"i":5,"n":2}'], values
    rows = conn.execute("SELECT i, typeof(i), n, typeof(n) FROM t ORDER BY offset").fetchall()
    assert rows == [(9223372036854775807, "integer", 9223372036854775807, "integer"),
                    (-9223372036854775808, "integer", 5, "integer"), ("0x10", "text", 1000, "integer"),
                    (5, "integer", 2, "integer")], rows


def test_an_insert_longer_than_timeout_ms_that_keeps_delivering_succeeds():
    """The bound is timeout_ms from the last delivery seen, not from the
    statement's start: rows that come slowly, the producer's queue full
    every 100 of them (a wait, which checks the bound), for several times
    timeout_ms, and every row is produced."""
    conn = kit.connect()
    mock_table(conn, timeout_ms=300, **{"rdkafka.queue.buffering.max.messages": 100})
    conn.create_function("slowly", 1, lambda i: (time.sleep(0.001), i)[1])
    started = time.monotonic()
    conn.execute("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 2000) "
                 "INSERT INTO t(key, value) SELECT 'k' || n, slowly(n) FROM s")
    assert time.monotonic() - started > 3 * 0.3  # the statement outlasted its bound several times
    assert conn.execute("SELECT count(*), count(DISTINCT key), sum(value) FROM t").fetchone() == (
        2000, 2000, 2000 * 2001 // 2)
