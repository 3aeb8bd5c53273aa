"""Errors that neither leak nor mislead (SPEC section 11): no secret in any
error whatever a URL looks like (tests/fuzz/fuzz_url.c is the property,
these are the forms users write), and a constraint the extension cannot
honour is an error, not zero rows."""

import socket

import kit

PASSWORD_PARTS = ("Top", "Secret", "S3cr")


def closed_port():
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def credential_urls(host):
    """Every credential form of a registry URL, malformed ones first."""
    return [
        f"http:/bob:Top/Secret@{host}/",          # one slash
        f"http//bob:Top@Secret@{host}",           # no colon
        f"htp://bob:S3cr@{host}",                 # unknown scheme
        f"http://bob:Top/Secret@{host}/apis/ccompat/v7",
        f"http://bob:Top@Secret@{host}/apis/ccompat/v7",
        f"http://bob:Top:Secret@{host}",
        f"http://bob:Top%40Secret@{host}",
        f"http://bob:Top?Secret@{host}",
        f"http://bob:Top#Secret@{host}",
        f"http://bob@Top:Secret@{host}",
        f"https://bob:Top/Secret@{host}/?token=S3cr",
        f"http://{host}/?access_token=S3cr",
    ]


def assert_no_secret(error, context):
    leaked = [p for p in PASSWORD_PARTS if p in error]
    assert not leaked, (context, error)


def test_no_registry_password_in_any_error():
    conn = kit.connect()
    host = f"127.0.0.1:{closed_port()}"
    for url in credential_urls(host):
        calls = [
            ("SELECT * FROM kafka_subjects(?)", (url,)),
            ("SELECT * FROM kafka_schemas(?, 'x-value')", (url,)),
            ("""SELECT kafka_register_schema(?, 'x-value', '"string"')""", (url,)),
            (f"CREATE VIRTUAL TABLE temp.r USING kafka(brokers='mock', topic='{kit.topic('url')}', "
             f"value='avro', schema_registry='{url}', timeout_ms=1000)", ()),
        ]
        for sql, args in calls:
            e = kit.expect_error(lambda: conn.execute(sql, args).fetchall(), "")
            assert_no_secret(str(e), (url, sql))
            if "://" in url and url.startswith("http"):
                assert "unreachable" in str(e) and host in str(e), (url, str(e))


def test_brokers_with_credentials_are_refused_without_showing_them():
    conn = kit.connect()
    for brokers in ("bob:Top/Secret@127.0.0.1:9092", "SASL_SSL://bob:Top@Secret@h:9092",
                    "h:9092,bob:S3cr@g:9092"):
        for sql, args in [
            (f"CREATE VIRTUAL TABLE temp.b USING kafka(brokers='{brokers}', topic='t')", ()),
            ("SELECT * FROM kafka_topics(?)", (brokers,)),
            ("SELECT kafka_create_topic(?, 't', 1)", (brokers,)),
        ]:
            e = kit.expect_error(lambda: conn.execute(sql, args).fetchall(),
                                 "option brokers must be host:port,... without user:password@")
            assert_no_secret(str(e), (brokers, sql))


def test_follow_constraints_the_extension_cannot_honour_are_errors():
    conn = kit.connect()
    conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers='mock', topic='{kit.topic('fl')}', partitions=1)")
    conn.execute("INSERT INTO t(value) VALUES ('a'), ('b')")
    for where in ("follow > 1000", "follow >= 10", "follow < 5", "follow IS NULL", "follow != 3",
                  "follow = 10 AND follow > 5"):
        kit.expect_error(lambda: conn.execute(f"SELECT * FROM t WHERE {where} LIMIT 1").fetchall(),
                         "follow takes only `follow = <milliseconds>`")
    conn.execute("CREATE TEMP TABLE p(ms)")
    conn.execute("INSERT INTO p VALUES (10)")
    # Bound through a join, SQLite reads p first and hands the value over.
    for sql in ("SELECT count(*) FROM p JOIN t ON t.follow = p.ms",
                "SELECT count(*) FROM t JOIN p ON t.follow = p.ms",
                "SELECT count(*) FROM t WHERE follow = (SELECT ms FROM p)"):
        assert conn.execute(sql).fetchone() == (2,), sql
    assert conn.execute("SELECT count(*) FROM t WHERE follow = 10").fetchone() == (2,)
