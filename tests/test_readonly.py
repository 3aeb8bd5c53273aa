"""Read-only connections change nothing (SPEC section 11): on a connection
whose main database is read-only (sqlite3 -readonly, ?mode=ro, immutable=1,
Datasette's query connections) topics and the cluster read as usual, but
every function that changes the cluster or the registry, and INSERT into a
kafka table, is refused with an error that says the connection is
read-only; a group table reads from the group's position and commits
nothing. Checked on a plain read-only connection and through a real
Datasette's SQL endpoint."""

import contextlib
import json
import sqlite3
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import kit
from test_datasette import datasette

READ_ONLY = "the connection is read-only"


def writes(topic, group):
    """(what, SQL) of every write a visitor could try: each must be refused."""
    b = kit.BROKER
    return [
        ("delete a topic", f"SELECT kafka_delete_topic('{b}', '{topic}')"),
        ("create a topic", f"SELECT kafka_create_topic('{b}', '{topic}-new', 1)"),
        ("delete records", f"SELECT kafka_delete_records('{b}', '{topic}', 0, 1)"),
        ("add partitions", f"SELECT kafka_add_partitions('{b}', '{topic}', 3)"),
        ("alter a topic", f"""SELECT kafka_alter_topic('{b}', '{topic}', '{{"retention.ms": "1000"}}')"""),
        ("move a group", f"SELECT kafka_reset_group('{b}', '{group}', '{topic}', 'earliest')"),
        ("delete a group", f"SELECT kafka_delete_group('{b}', '{group}')"),
        ("create an ACL", f"SELECT kafka_create_acl('{b}', 'TOPIC', '{topic}', 'User:eve', 'ALL')"),
        ("delete an ACL", f"SELECT kafka_delete_acl('{b}', 'TOPIC', '{topic}', 'User:eve', 'ALL')"),
        ("register a schema", f"""SELECT kafka_register_schema('{kit.REGISTRY}', '{topic}-value', '"string"')"""),
    ]


def make_database(path, topic, group):
    conn = kit.connect(path)
    conn.execute(f"CREATE VIRTUAL TABLE events USING kafka(brokers='{kit.BROKER}', topic='{topic}')")
    conn.execute(f"CREATE VIRTUAL TABLE grouped USING kafka(brokers='{kit.BROKER}', topic='{topic}', "
                 f"group='{group}')")
    conn.executemany("INSERT INTO events(key, value) VALUES (?, ?)",
                     [(f"k{i}", f"v{i}") for i in range(3)])
    conn.close()


def connect_read_only(uri):
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    conn.enable_load_extension(True)
    conn.load_extension(kit.EXT)
    return conn


def committed(group):
    """The group's committed offsets; [] for a group that never committed
    (which kafka_group_offsets says does not exist)."""
    conn = kit.connect()
    try:
        return conn.execute("SELECT partition, committed FROM kafka_group_offsets(?, ?)",
                            (kit.BROKER, group)).fetchall()
    except sqlite3.Error as e:
        if f"group '{group}' does not exist" not in str(e):
            raise
        return []


def topic_state(topic):
    """What the writes would change: partitions, messages, configs."""
    conn = kit.connect()
    parts = conn.execute("SELECT partitions FROM kafka_topics(?) WHERE topic = ?",
                         (kit.BROKER, topic)).fetchall()
    retention = conn.execute("SELECT value FROM kafka_topic_configs(?, ?) WHERE name = 'retention.ms'",
                             (kit.BROKER, topic)).fetchall()
    return parts, retention, kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%k=%s\n").decode()


@contextlib.contextmanager
def database_of_a_topic(prefix):
    """(database file, topic, group, the topic's state) for one test; the
    topic (and any made from its name) is deleted after."""
    kit.need_broker()
    kit.need_registry()
    topic, group = kit.topic(prefix), kit.topic(f"{prefix}-group")
    kit.create_topic(topic)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = f"{tmp}/ro.db"
            make_database(db, topic, group)
            yield db, topic, group, topic_state(topic)
    finally:
        kit.delete_topic(topic)
        kit.delete_topic(f"{topic}-made")


def test_read_only_connections_read_and_refuse_every_write():
    with database_of_a_topic("ro") as (db, topic, group, before):
        for uri in (f"file:{db}?mode=ro", f"file:{db}?immutable=1"):
            conn = connect_read_only(uri)
            assert conn.execute("SELECT key, value FROM events ORDER BY offset").fetchall() == [
                ("k0", "v0"), ("k1", "v1"), ("k2", "v2")]
            assert conn.execute("SELECT partitions FROM kafka_topics(?) WHERE topic = ?",
                                (kit.BROKER, topic)).fetchall() == [(1,)]
            for what, sql in writes(topic, group):
                e = kit.expect_error(lambda: conn.execute(sql).fetchall(), READ_ONLY)
                assert "refused" in str(e), (what, str(e))
            # SQLite refuses an INSERT into the main database's table;
            # a TEMP table may read, but neither produce nor create the
            # topic it names.
            kit.expect_error(lambda: conn.execute(
                "INSERT INTO events(key, value) VALUES ('k', 'visitor')"), "readonly database")
            conn.execute(f"CREATE VIRTUAL TABLE temp.out USING kafka(brokers='{kit.BROKER}', "
                         f"topic='{topic}')")
            assert conn.execute("SELECT count(*) FROM temp.out").fetchone() == (3,)
            kit.expect_error(lambda: conn.execute(
                "INSERT INTO temp.out(key, value) VALUES ('k', 'visitor')"), READ_ONLY)
            kit.expect_error(lambda: conn.execute(
                f"CREATE VIRTUAL TABLE temp.made USING kafka(brokers='{kit.BROKER}', "
                f"topic='{topic}-made', partitions=1)"), READ_ONLY)
            # Reading a group table twice: both read from the group's
            # position, which does not move.
            for _ in range(2):
                assert conn.execute("SELECT count(*) FROM grouped").fetchone() == (3,)
            assert committed(group) == [], committed(group)
            conn.close()
        after = topic_state(topic)
        assert after == before, (before, after)
        # The same file opened read-write still writes.
        conn = kit.connect(db)
        assert conn.execute("SELECT count(*) FROM grouped").fetchone() == (3,)
        assert committed(group) == [(0, 3)], committed(group)


def datasette_sql(base, sql):
    """(ok, rows or error) of Datasette's JSON SQL endpoint."""
    url = f"{base}/ro.json?sql={urllib.parse.quote(sql)}&_shape=objects"
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            answer = json.loads(r.read())
    except urllib.error.HTTPError as e:
        answer = json.loads(e.read())
    return answer.get("ok", True), answer.get("rows") if answer.get("ok", True) else answer.get("error")


@kit.timeout(300)
def test_datasette_visitors_read_topics_but_change_nothing():
    with database_of_a_topic("ro-ds") as (db, topic, group, before):
        with datasette(db) as base:
            ok, rows = datasette_sql(base, "SELECT key, value FROM events ORDER BY offset")
            assert ok and [(r["key"], r["value"]) for r in rows] == [
                ("k0", "v0"), ("k1", "v1"), ("k2", "v2")], rows
            for _ in range(2):  # a page load, then another: the group did not move
                ok, rows = datasette_sql(base, "SELECT count(*) AS n FROM grouped")
                assert ok and rows == [{"n": 3}], rows
            # Datasette runs SELECT only (no INSERT); the functions
            # are the extension's to refuse.
            for what, sql in writes(topic, group):
                ok, error = datasette_sql(base, sql)
                assert not ok and READ_ONLY in error, (what, error)
        assert committed(group) == [], committed(group)
        after = topic_state(topic)
        assert after == before, (before, after)
