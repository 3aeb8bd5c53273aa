"""Formats on the real broker, data written by kcat: text/blob/json,
typed JSON columns with paths and affinities, on_error null vs fail; and on
the mock: typed columns against a plain SQLite column of the same type, strict
JSON, the text path's exactness."""

import json
import random

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


# Typed columns against the oracle: the same JSON value, through SQLite's
# json_extract(), stored in a plain table column of the same declared type.
TYPES = ["INTEGER", "INT", "REAL", "DOUBLE", "TEXT", "VARCHAR(9)", "NUMERIC", "DECIMAL(10,2)",
         "BOOLEAN", "BLOB", "", "ANY"]
VALUES = [
    "0", "-0", "7", "-7", "9007199254740993", "-9007199254740993", "9199999999999999999",
    "9223372036854775806", "9223372036854775807", "-9223372036854775807", "-9223372036854775808",
    "9223372036854775808", "-9223372036854775809", "123456789012345678901234567890",
    "1.0", "-0.0", "2.5", "0.1", "1e3", "1E-3", "-1.5e+300", "1e400", "4.5e15",
    "true", "false", "null",
    '"0x10"', '"5 "', '" 5"', '"\\t5\\n"', '"\\u000b5"', '"5x"', '"+5"', '"-0"', '".5"', '"5."',
    '"1e"', '"1e3"', '" 1.5e2 "', '"9223372036854775807"', '"9223372036854775808"',
    '"12345678901234567"', '"abc"', '""', '"inf"', '"NaN"', '"0x"', '"1,5"',
    '"\\u00e9\\ud83d\\ude00\\"\\\\\\/\\b\\f\\n\\r\\t"',
    "[1, 2.50, {\"a\" : [ ]}]", "{\"x\" : {\"y\" : \"a b\"}}", "[]", "{}",
]
PATHS = ['$.v', '$["v"]', '$."v"', '$.o.v', '$.o["v"]', '$.a[1]', '$["a"][1]']


def _oracle_rows(conn, docs, types):
    conn.execute("CREATE TEMP TABLE o(" + ", ".join(f"c{i} {t}" for i, t in enumerate(types)) + ")")
    for doc in docs:
        conn.execute(f"INSERT INTO o VALUES ({', '.join(['json_extract(?, ?)'] * len(types))})",
                     [x for _ in types for x in (doc, "$.v")])
    cols = ", ".join(f"c{i}, typeof(c{i})" for i in range(len(types)))
    rows = conn.execute(f"SELECT {cols} FROM o ORDER BY rowid").fetchall()
    conn.execute("DROP TABLE o")
    return rows


def _typed_vs_oracle(docs):
    """Every doc (holding the same value at each path of PATHS) read by a
    typed column of every type and path; the oracle reads $.v."""
    conn = kit.connect()
    topic = kit.topic("typed")
    rk.table(conn, "raw", topic, brokers="mock", partitions=1)
    conn.executemany("INSERT INTO raw(value) VALUES (?)", [(d,) for d in docs])
    want = _oracle_rows(conn, docs, TYPES)
    for p, path in enumerate(PATHS):
        spec = ", ".join(f"c{i} {t} {path}" for i, t in enumerate(TYPES))
        rk.table(conn, f"j{p}", topic, brokers="mock", columns=spec)
        cols = ", ".join(f"c{i}, typeof(c{i})" for i in range(len(TYPES)))
        got = conn.execute(f"SELECT {cols} FROM j{p} ORDER BY offset").fetchall()
        for doc, w, g in zip(docs, want, got):
            assert w == g, (path, doc, [(TYPES[i // 2], w[i], g[i]) for i in range(len(w)) if w[i] != g[i]])


def _doc(v):
    return f'{{"v": {v}, "o": {{"v": {v}}}, "a": [0, {v}]}}'


def test_typed_columns_read_what_a_plain_column_of_the_type_stores():
    """Issue 11: 9223372036854775807 read as REAL 9.22337203685478e+18 (and
    every integer from 9199999999999999999 up), $["m"] lost exactness past
    2^53, '0x10' became 16 and '5 ' stayed text in an INTEGER column."""
    _typed_vs_oracle([_doc(v) for v in VALUES])


def test_typed_columns_random_values_match_the_oracle():
    rnd = random.Random(20261201)
    values = []
    for _ in range(400):
        kind = rnd.randrange(6)
        if kind == 0:
            values.append(str(rnd.randint(-2**63, 2**63 - 1)))
        elif kind == 1:
            values.append(str(rnd.choice([1, -1]) * rnd.randint(2**53 - 5, 2**53 + 5) * rnd.choice([1, 1024])))
        elif kind == 2:
            values.append(repr(rnd.uniform(-1e6, 1e6)) if rnd.random() < 0.7 else f"{rnd.randint(1, 99)}e{rnd.randint(-30, 30)}")
        elif kind == 3:
            n = str(rnd.randint(-2**63, 2**63 - 1)) if rnd.random() < 0.5 else repr(rnd.uniform(-1e9, 1e9))
            values.append(json.dumps(rnd.choice(["", " ", "\t", "\n"]) + n + rnd.choice(["", " ", "  ", "\r\n"])))
        elif kind == 4:
            values.append(json.dumps(rnd.choice(["0x", "0X", "", "+", "-", "1_", "#"]) + str(rnd.randint(0, 999))))
        else:
            values.append(str(rnd.choice([2**63 - 1, -2**63, 2**63, -2**63 - 1]) + rnd.randint(-3, 3)))
    _typed_vs_oracle([_doc(v) for v in values])


def test_typed_columns_need_strict_json():
    """cJSON took text after the value, 01 and the like: the error column
    now says what SQLite's json_valid() says."""
    conn = kit.connect()
    topic = kit.topic("strict")
    rk.table(conn, "raw", topic, brokers="mock", partitions=1)
    rk.table(conn, "j", topic, brokers="mock", columns="a INTEGER")
    bad = ['{"a": 1} x', '{"a": 01}', '{"a": 1,}', "{'a': 1}", '{"a": NaN}', '{"a": .5}', '{"a": 1.}',
           '{"a": +1}', '{"a": "\x01"}', '{"a": 1}{}', '', ' ', '{"a": "\\x"}', '[1', '{"a": tru}']
    good = ['{"a": 1}', ' {"a" : 2 } ', '{"b": {"a": 9}, "a": 3}', '{"a": 4, "a": 5}', '{"\\u0061": 6}']
    conn.executemany("INSERT INTO raw(value) VALUES (?)", [(v,) for v in bad + good])
    rows = conn.execute("SELECT value, a, error, json_valid(value) FROM j ORDER BY offset").fetchall()
    for value, a, error, valid in rows[:len(bad)]:
        assert (a, error, valid) == (None, "value is not valid JSON", 0), (value, a, error)
    assert [r[1:] for r in rows[len(bad):]] == [(1, None, 1), (2, None, 1), (3, None, 1), (4, None, 1),
                                                (6, None, 1)], rows[len(bad):]


def text_or_blob(raw):
    """What a text column shows of raw bytes: TEXT when they are UTF-8 with
    no NUL, else the BLOB itself."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    return raw if "\x00" in text else text


def test_json_strings_at_word_boundaries():
    """The strict check scans strings eight bytes at a time and checks
    UTF-8 only when a string held a byte above 0x7F. One odd byte (quote,
    backslash escape, control byte, DEL, a two-byte character, a cut one,
    0xff) at every position of strings of 0 to 20 bytes, as a member name
    and as a value: the value is JSON exactly when Python's strict decoder
    says so (and SQLite's json_valid() for valid UTF-8), and the typed
    column reads the member after it."""
    conn = kit.connect()
    topic = kit.topic("jsonwords")
    rk.table(conn, "raw", topic, brokers="mock", partitions=1, value="blob")
    rk.table(conn, "j", topic, brokers="mock", columns="n INTEGER")
    odd = [b'"', b'\\"', b"\\n", b"\\u00e9", b"\\x", b"\x01", b"\x1f", b"\x7f", b"\xc3\xa9",
           b"\xc3", b"\xff", b"\x00"]
    values = []
    for n in range(21):
        for at in range(n + 1):
            for o in odd:
                text = b"a" * at + o + b"b" * (n - at)
                values.append(b'{"s": "' + text + b'", "n": ' + str(n).encode() + b"}")
                values.append(b'{"' + text + b'": 1, "n": ' + str(n).encode() + b"}")
    conn.executemany("INSERT INTO raw(value) VALUES (?)", [(v,) for v in values])

    def strict(raw):
        try:
            return json.loads(raw.decode("utf-8"))["n"]
        except (UnicodeDecodeError, ValueError):
            return None

    rows = conn.execute("SELECT n, error FROM j ORDER BY offset").fetchall()
    assert len(rows) == len(values)
    for v, (n, error) in zip(values, rows):
        want = strict(v)
        assert (n, error) == (want, None if want is not None else "value is not valid JSON"), v


def test_text_values_come_back_exact_or_as_blob():
    """The text path hands SQLite the message bytes with their length: NUL
    bytes and invalid UTF-8 still come back as a BLOB, 10 KB values exact."""
    conn = kit.connect()
    topic = kit.topic("text")
    rk.table(conn, "b", topic, brokers="mock", partitions=1, key="blob", value="blob")
    rk.table(conn, "t", topic, brokers="mock")
    big = "".join(chr(0x20 + i % 90) for i in range(10_000)) + "é€😀"
    values = [b"", b"plain", b"a\x00b", b"\x00", b"caf\xc3\xa9", b"\xc3", b"\xed\xa0\x80", b"\xff" * 3,
              big.encode(), big.encode() + b"\x00", b"\xff" + big.encode()]
    conn.executemany("INSERT INTO b(key, value) VALUES (?, ?)", [(v[:20], v) for v in values])
    rows = conn.execute("SELECT key, value, typeof(value), length(CAST(value AS BLOB)) FROM t "
                        "ORDER BY offset").fetchall()

    for v, (key, value, kind, n) in zip(values, rows):
        assert (key, value) == (text_or_blob(v[:20]), text_or_blob(v)), v[:20]
        assert kind == ("text" if isinstance(text_or_blob(v), str) else "blob") and n == len(v), v[:20]
    # Through SQLite's own functions too (they read the text with its length).
    assert conn.execute("SELECT length(value), substr(value, -3) FROM t WHERE offset = 8").fetchone() == (
        10_003, "é€😀")


def test_text_at_word_and_buffer_boundaries():
    """The UTF-8 check reads eight bytes at a time, 32 in a round, the last
    ones by an overlapping word; short text is terminated in a 4 KB stack
    buffer, longer text in a heap copy. One odd byte (NUL, invalid, a cut or
    whole two-byte character) at the first, a middle and the last position
    of every length around those sizes: TEXT exactly when Python's decoder
    agrees and there is no NUL, else the same bytes as a BLOB."""
    conn = kit.connect()
    topic = kit.topic("bounds")
    rk.table(conn, "b", topic, brokers="mock", partitions=1, key="blob", value="blob")
    rk.table(conn, "t", topic, brokers="mock")
    lengths = list(range(1, 41)) + [63, 64, 65, 4094, 4095, 4096, 4097, 4098, 8191]
    values = [b""]
    for n in lengths:
        plain = bytes(0x21 + i % 90 for i in range(n))
        values.append(plain)
        for at in sorted({0, n // 2, n - 1}):
            for odd in (b"\x00", b"\xff", b"\xc3", b"\xc3\xa9", b"\x7f", b"\x80"):
                values.append(plain[:at] + odd + plain[at + 1:])
    conn.executemany("INSERT INTO b(key, value) VALUES (?, ?)", [(v, v) for v in values])

    rows = conn.execute("SELECT key, value, length(value), typeof(value) FROM t ORDER BY offset").fetchall()
    assert len(rows) == len(values)
    for v, (key, value, length, kind) in zip(values, rows):
        want = text_or_blob(v)
        assert (key, value) == (want, want), v
        assert (length, kind) == ((len(want), "text") if isinstance(want, str) else (len(v), "blob")), v


def test_typed_strings_objects_and_arrays_as_json_extract_gives_them():
    conn = kit.connect()
    topic = kit.topic("shapes")
    rk.table(conn, "raw", topic, brokers="mock", partitions=1)
    rk.table(conn, "j", topic, brokers="mock",
             columns='s TEXT, o TEXT, a TEXT, n TEXT $.a[2].x, q TEXT $."k.y", z TEXT $.a[9]')
    doc = ('{"s": "a\\u00e9\\ud83d\\ude00\\n\\"", "o": { "p" : [ 1 , "x y" ] }, '
           '"a": [1, [2, 3], {"x": -4.50e1}], "k.y": "dot", "big": "' + "x" * 10_000 + '"}')
    conn.execute("INSERT INTO raw(value) VALUES (?)", (doc,))
    row = conn.execute("SELECT s, o, a, n, q, z FROM j").fetchone()
    want = conn.execute("SELECT ?1 ->> '$.s', json_extract(?1, '$.o'), json_extract(?1, '$.a'), "
                        "CAST(?1 ->> '$.a[2].x' AS TEXT), ?1 ->> '$.\"k.y\"', NULL", (doc,)).fetchone()
    assert row == want, (row, want)
    assert row[0] == 'aé😀\n"' and row[1] == '{"p":[1,"x y"]}' and row[3] == "-45.0", row


def test_default_paths_of_names_with_brackets_name_the_member():
    """A column's default path is its name: one with a bracket is quoted
    ($."c[0]"), since a bare step cannot hold it."""
    conn = kit.connect()
    topic = kit.topic("names")
    rk.table(conn, "raw", topic, brokers="mock", partitions=1)
    conn.execute(f"""CREATE VIRTUAL TABLE j USING kafka(brokers='mock', topic='{topic}',
                     columns='"a]b" INT, c[0] INT, d INT')""")
    conn.execute("""INSERT INTO raw(value) VALUES ('{"a]b": 7, "c[0]": 8, "c": [9], "d": 10}')""")
    assert conn.execute('SELECT "a]b", "c[0]", d FROM j').fetchone() == (7, 8, 10)
