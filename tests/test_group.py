"""Consumer-group mode (`group`, `start`) against the real broker: a scan
starts at the group's committed offsets, commits the position after what it
delivered when the statement completes, and commits nothing when it fails or
is interrupted. Checked with kcat, kafka-python group consumers and
kafka_group_offsets."""

import json
import sqlite3
import threading
import time

import kit

B = kit.BROKER


def produce(topic, partition, values):
    kit.kcat("-P", "-t", topic, "-p", partition, input="".join(v + "\n" for v in values))


def fresh_group(prefix, partitions=1):
    """A connection, a new topic and a new group name (the real broker)."""
    kit.need_broker()
    return kit.connect(), kit.create_topic(kit.topic(prefix), partitions=partitions), kit.topic(f"{prefix}-g")


def group_table(conn, name, topic, group, extra=""):
    conn.execute(f"CREATE VIRTUAL TABLE {name} USING kafka(brokers='{B}', topic='{topic}', "
                 f"group='{group}'{extra})")


def committed(conn, group):
    """The group's committed offsets; [] before it first committed (Kafka
    does not know the group then: kafka_group_offsets says so)."""
    try:
        return conn.execute("SELECT topic, partition, committed FROM kafka_group_offsets(?, ?)",
                            (B, group)).fetchall()
    except sqlite3.Error as e:
        if f"group '{group}' does not exist" not in str(e):
            raise
        return []


def test_twice_in_a_row_then_only_the_new_ones():
    conn, topic, group = fresh_group("grp", partitions=3)
    for p in range(3):
        produce(topic, p, [f"p{p}-{i}" for i in range(4)])
    group_table(conn, "g", topic, group)
    first = conn.execute("SELECT partition, offset, value FROM g").fetchall()
    assert sorted(first) == [(p, i, f"p{p}-{i}") for p in range(3) for i in range(4)]
    assert conn.execute("SELECT count(*) FROM g").fetchone() == (0,)
    assert committed(conn, group) == [(topic, p, 4) for p in range(3)]
    produce(topic, 1, ["new-a", "new-b"])
    produce(topic, 2, ["new-c"])
    assert sorted(conn.execute("SELECT partition, offset, value FROM g").fetchall()) == [
        (1, 4, "new-a"), (1, 5, "new-b"), (2, 4, "new-c")]
    assert conn.execute("SELECT count(*) FROM g").fetchone() == (0,)
    kit.delete_topic(topic)


def test_a_failed_statement_commits_nothing():
    conn, topic, group = fresh_group("grp-fail")
    produce(topic, 0, ['{"n": 1}', '{"n": 2}', 'not json', '{"n": 4}'])
    group_table(conn, "g", topic, group)
    # An SQL error raised on the third row.
    kit.expect_error(lambda: conn.execute(
        "SELECT CASE WHEN offset = 2 THEN json(value) ELSE value END FROM g").fetchall(), "malformed JSON")
    assert committed(conn, group) == []
    # on_error = fail: the decode error fails the statement.
    group_table(conn, "f", topic, group, ", value='json', columns='n INTEGER', on_error='fail'")
    kit.expect_error(lambda: conn.execute("SELECT n FROM f").fetchall(),
                     f"kafka: topic '{topic}' partition 0 offset 2")
    assert committed(conn, group) == []
    # A caller that stops fetching commits nothing either.
    cur = conn.execute("SELECT value FROM g")
    assert cur.fetchone() == ('{"n": 1}',)
    cur.close()
    assert committed(conn, group) == []
    # The same query completed commits everything.
    assert len(conn.execute("SELECT value FROM g").fetchall()) == 4
    assert committed(conn, group) == [(topic, 0, 4)]
    # A later failure leaves that commit as it was.
    produce(topic, 0, ["bad again"])
    kit.expect_error(lambda: conn.execute("SELECT json(value) FROM g").fetchall(), "malformed JSON")
    assert committed(conn, group) == [(topic, 0, 4)]
    kit.delete_topic(topic)


def test_an_interrupted_statement_commits_nothing():
    conn, topic, group = fresh_group("grp-int")
    produce(topic, 0, ["a", "b"])
    group_table(conn, "g", topic, group)
    timer = threading.Timer(1.0, conn.interrupt)
    timer.start()
    start = time.monotonic()
    # Follow mode keeps the scan open after the two messages until interrupted.
    kit.expect_error(lambda: conn.execute("SELECT value FROM g WHERE follow = 30000").fetchall(), "interrupted")
    assert time.monotonic() - start < 10
    timer.join()
    assert committed(conn, group) == []
    assert [r[0] for r in conn.execute("SELECT value FROM g")] == ["a", "b"]
    assert committed(conn, group) == [(topic, 0, 2)]
    kit.delete_topic(topic)


def test_limit_commits_exactly_the_rows_delivered():
    conn, topic, group = fresh_group("grp-limit")
    produce(topic, 0, [f"v{i}" for i in range(10)])
    group_table(conn, "g", topic, group)
    assert "LIMIT" in kit.eqp(conn, "SELECT offset FROM g LIMIT 3")
    assert [r[0] for r in conn.execute("SELECT offset FROM g LIMIT 3")] == [0, 1, 2]
    assert committed(conn, group) == [(topic, 0, 3)]
    assert [r[0] for r in conn.execute("SELECT offset FROM g LIMIT 2 OFFSET 1")] == [4, 5]
    assert committed(conn, group) == [(topic, 0, 6)]
    # A LIMIT SQLite applies itself (a WHERE it could not push down) may
    # stop the scan anywhere: nothing is committed, the rows come again.
    sql = "SELECT offset FROM g WHERE value LIKE 'v%' LIMIT 2"
    assert "LIMIT" not in kit.eqp(conn, sql)
    assert [r[0] for r in conn.execute(sql)] == [6, 7]
    assert committed(conn, group) == [(topic, 0, 6)]
    assert [r[0] for r in conn.execute("SELECT offset FROM g")] == [6, 7, 8, 9]
    assert committed(conn, group) == [(topic, 0, 10)]
    kit.delete_topic(topic)


def test_start_latest_keeps_its_place():
    conn, topic, group = fresh_group("grp-latest", partitions=2)
    produce(topic, 0, ["old"])
    group_table(conn, "g", topic, group, ", start='latest'")
    assert conn.execute("SELECT count(*) FROM g").fetchone() == (0,)
    assert committed(conn, group) == [(topic, 0, 1), (topic, 1, 0)]
    produce(topic, 1, ["new"])
    assert conn.execute("SELECT partition, value FROM g").fetchall() == [(1, "new")]
    kit.delete_topic(topic)


def test_a_join_rescans_the_same_rows():
    conn, topic, group = fresh_group("grp-join")
    produce(topic, 0, ["a", "b"])
    group_table(conn, "g", topic, group)
    sql = "SELECT v.column1, g.value FROM (VALUES (1), (2), (3)) v, g"
    assert kit.eqp(conn, sql).splitlines()[-1].strip("`|- ").startswith("SCAN g"), kit.eqp(conn, sql)
    assert sorted(conn.execute(sql).fetchall()) == [(i, v) for i in (1, 2, 3) for v in ("a", "b")]
    assert committed(conn, group) == [(topic, 0, 2)]
    assert conn.execute(sql).fetchall() == []
    kit.delete_topic(topic)


REFUSED_IN_TRANSACTION = "cannot be read inside an explicit transaction (BEGIN ... COMMIT)"


def test_explicit_transactions_refuse_a_group_and_leave_it_where_it_was():
    """Issue 11 item 2: a ROLLBACK of the enclosing transaction, or a failed
    statement inside it, must leave the group where it was. SQLite tells a
    table that is only read neither, so the read is refused, naming the
    exactly-once alternatives."""
    conn, topic, group = fresh_group("grp-tx")
    produce(topic, 0, ["a", "b"])
    group_table(conn, "g", topic, group)
    conn.execute("CREATE TABLE archive(value)")
    conn.execute("BEGIN")
    e = kit.expect_error(lambda: conn.execute("INSERT INTO archive SELECT value FROM g"),
                         f"kafka: group '{group}' (topic '{topic}') " + REFUSED_IN_TRANSACTION)
    assert "transactional_id" in str(e) and "sql/ingest-append.sql" in str(e)
    kit.expect_error(lambda: conn.execute("SELECT value FROM g").fetchall(), REFUSED_IN_TRANSACTION)
    conn.execute("ROLLBACK")
    assert committed(conn, group) == []
    # In autocommit the same INSERT commits rows and group together.
    conn.execute("INSERT INTO archive SELECT value FROM g")
    assert conn.execute("SELECT value FROM archive").fetchall() == [("a",), ("b",)]
    assert committed(conn, group) == [(topic, 0, 2)]
    conn.close()
    kit.delete_topic(topic)


def test_a_statement_that_fails_after_its_scan_leaves_the_group():
    """Issue 11 item 2: deferred and immediate foreign-key failures and a
    constraint failure after a sorted scan are raised after SQLite closed
    the group's cursor: the group must not move, the rows come again."""
    conn, topic, group = fresh_group("grp-fk")
    produce(topic, 0, ["a", "b", "c"])
    group_table(conn, "g", topic, group)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("CREATE TABLE parent(id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE deferred_sink(v, p REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    conn.execute("CREATE TABLE immediate_sink(v, p REFERENCES parent(id))")
    conn.execute("CREATE TABLE unique_sink(v UNIQUE)")
    for sink in ("deferred_sink", "immediate_sink"):
        kit.expect_error(lambda: conn.execute(f"INSERT INTO {sink} SELECT value, 42 FROM g"),
                         "FOREIGN KEY constraint failed")
        assert committed(conn, group) == []
    # Sorted first, so the scan is complete before the second row fails.
    kit.expect_error(lambda: conn.execute("INSERT INTO unique_sink SELECT 'same' FROM g ORDER BY value"),
                     "UNIQUE constraint failed")
    assert committed(conn, group) == []
    conn.execute("INSERT INTO parent VALUES (42)")
    conn.execute("INSERT INTO deferred_sink SELECT value, 42 FROM g")
    assert conn.execute("SELECT v FROM deferred_sink").fetchall() == [("a",), ("b",), ("c",)]
    assert committed(conn, group) == [(topic, 0, 3)]
    conn.close()
    kit.delete_topic(topic)


def test_a_kafka_sink_whose_delivery_fails_leaves_the_group():
    """Issue 11 item 2: the output's delivery fails at the statement's
    commit (xSync), after the group's cursor closed: the group stays."""
    kit.need_broker()
    conn = kit.connect()
    topic = kit.create_topic(kit.topic("grp-src"))
    out = kit.create_topic(kit.topic("grp-out"), config={"max.message.bytes": "10000"})
    group = kit.topic("grp-src-g")
    produce(topic, 0, ["small", "x" * 20000])
    group_table(conn, "g", topic, group)
    conn.execute(f"CREATE VIRTUAL TABLE o USING kafka(brokers='{B}', topic='{out}')")
    kit.expect_error(lambda: conn.execute("INSERT INTO o(value) SELECT value FROM g"),
                     "Message size too large")
    assert committed(conn, group) == []
    # Delivered: the group moves after the output's commit.
    conn.execute("INSERT INTO o(value) SELECT value FROM g WHERE length(value) < 100")
    assert committed(conn, group) == [(topic, 0, 2)]
    conn.close()
    kit.delete_topic(topic)
    kit.delete_topic(out)


def test_interoperates_with_a_kafka_python_group_consumer():
    kit.need_broker()
    from kafka import KafkaConsumer
    conn = kit.connect()
    topic = kit.create_topic(kit.topic("grp-py"))
    group = kit.topic("grp-py-g")
    produce(topic, 0, ["1", "2", "3"])
    group_table(conn, "g", topic, group)
    assert [r[0] for r in conn.execute("SELECT value FROM g")] == ["1", "2", "3"]
    produce(topic, 0, ["4", "5"])
    consumer = KafkaConsumer(topic, bootstrap_servers=B, group_id=group, enable_auto_commit=False,
                             auto_offset_reset="earliest")
    seen = []
    deadline = time.monotonic() + 30
    while len(seen) < 2 and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            seen += [r.value.decode() for r in records]
    assert seen == ["4", "5"]
    consumer.commit()
    consumer.close()
    assert conn.execute("SELECT count(*) FROM g").fetchone() == (0,)
    produce(topic, 0, ["6"])
    assert [r[0] for r in conn.execute("SELECT value FROM g")] == ["6"]
    kit.delete_topic(topic)


def commit_offset(topic, group, offset):
    """Commits offset for partition 0 of topic as group, from kafka-python."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata
    consumer = KafkaConsumer(bootstrap_servers=B, group_id=group, enable_auto_commit=False)
    consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(offset, "", -1)})
    consumer.close()


def test_a_committed_offset_beyond_the_end_is_reset_per_start():
    """Issue 11 item 8: a group whose committed offset lies beyond the
    partition's end (a re-created topic) was stuck for ever: it is reset
    per `start`, as Kafka's consumer does (and said in sqlite3_log)."""
    kit.need_broker()
    conn = kit.connect()
    topic = kit.create_topic(kit.topic("grp-beyond"))
    produce(topic, 0, ["a", "b", "c"])
    earliest, latest = kit.topic("grp-beyond-e"), kit.topic("grp-beyond-l")
    for group in (earliest, latest):
        commit_offset(topic, group, 100)
    group_table(conn, "e", topic, earliest)
    group_table(conn, "l", topic, latest, ", start='latest'")
    assert [r[0] for r in conn.execute("SELECT value FROM e")] == ["a", "b", "c"]
    assert committed(conn, earliest) == [(topic, 0, 3)]
    assert conn.execute("SELECT count(*) FROM l").fetchone() == (0,)
    assert committed(conn, latest) == [(topic, 0, 3)]
    produce(topic, 0, ["d"])
    assert [r[0] for r in conn.execute("SELECT value FROM l")] == ["d"]
    assert [r[0] for r in conn.execute("SELECT value FROM e")] == ["d"]
    conn.close()
    kit.delete_topic(topic)


def delete_group(group):
    from kafka.admin import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=B)
    try:
        admin.delete_consumer_groups([group])
    except Exception:  # noqa: BLE001 - a group that does not exist is fine
        pass
    finally:
        admin.close()


def weather(i):
    return json.dumps({"location": "Kubertron", "temp_celsius": 10 + i, "wind_speed_mph": 5 + i,
                       "wind_direction": "NW", "humidity_percent": 60, "pressure_mb": 1010})


def test_the_tutorial_in_sql():
    """Create kubertron.weather.inbound, produce samples, read them as group
    met-consumer-group-1 from earliest, see lag 0, produce more, see the lag,
    read only the new ones, delete the topic."""
    kit.need_broker()
    from kafka import KafkaProducer
    topic, group = "kubertron.weather.inbound", "met-consumer-group-1"
    conn = kit.connect()
    if conn.execute("SELECT count(*) FROM kafka_topics(?) WHERE topic = ?", (B, topic)).fetchone()[0]:
        conn.execute("SELECT kafka_delete_topic(?, ?)", (B, topic))
    delete_group(group)
    conn.execute("SELECT kafka_create_topic(?, ?, 3, 1)", (B, topic))
    conn.execute(f"CREATE VIRTUAL TABLE weather USING kafka(brokers='{B}', topic='{topic}', value='json', "
                 "columns='location TEXT, temp_celsius INTEGER, wind_speed_mph INTEGER')")
    conn.execute(f"CREATE VIRTUAL TABLE met USING kafka(brokers='{B}', topic='{topic}', value='json', "
                 f"group='{group}', start='earliest', columns='location TEXT, temp_celsius INTEGER')")
    for i in range(6):
        conn.execute("INSERT INTO weather(key, value) VALUES (?, ?)", (f"2024-01-01T00:0{i}:00Z", weather(i)))
    rows = conn.execute("SELECT partition, offset, key, value, temp_celsius FROM met").fetchall()
    assert sorted(r[4] for r in rows) == [10 + i for i in range(6)]
    lag = conn.execute("SELECT sum(lag), count(*) FROM kafka_group_offsets(?, ?)", (B, group)).fetchone()
    assert lag == (0, 3), lag
    # More samples, from the tutorial's own producer (kafka-python).
    producer = KafkaProducer(bootstrap_servers=B)
    for i in range(6, 10):
        producer.send(topic, key=f"2024-01-01T00:0{i}:00Z".encode(), value=weather(i).encode())
    producer.flush()
    producer.close()
    assert conn.execute("SELECT sum(lag) FROM kafka_group_offsets(?, ?)", (B, group)).fetchone() == (4,)
    assert conn.execute('SELECT "group", state FROM kafka_groups(?) WHERE "group" = ?',
                        (B, group)).fetchall() == [(group, "Empty")]
    new = conn.execute("SELECT key, temp_celsius FROM met ORDER BY key").fetchall()
    assert new == [(f"2024-01-01T00:0{i}:00Z", 10 + i) for i in range(6, 10)]
    assert conn.execute("SELECT sum(lag) FROM kafka_group_offsets(?, ?)", (B, group)).fetchone() == (0,)
    assert conn.execute("SELECT kafka_delete_topic(?, ?)", (B, topic)).fetchone() == (topic,)
    assert conn.execute("SELECT count(*) FROM kafka_topics(?) WHERE topic = ?", (B, topic)).fetchone() == (0,)
    listed = [t["topic"] for t in json.loads(kit.kcat("-L", "-J"))["topics"]]
    assert topic not in listed
