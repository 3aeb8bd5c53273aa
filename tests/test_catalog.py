"""The cluster catalog: kafka_topics, kafka_partitions, kafka_groups and
kafka_group_offsets against the real broker (checked with kcat and a
kafka-python group consumer) and the mock cluster."""

import json
import socket
import sqlite3
import time

import kit

B = kit.BROKER


def metadata(topic):
    """kcat's metadata listing of topic (kcat -L -J)."""
    meta = json.loads(kit.kcat("-L", "-J", "-t", topic, "-m", "10"))
    return [t for t in meta["topics"] if t["topic"] == topic]


def kcat_offset(topic, partition, when):
    """kcat's answer to a ListOffsets query (-2 earliest, -1 latest)."""
    out = kit.kcat("-Q", "-t", f"{topic}:{partition}:{when}").decode()
    return int(out.split("offset")[1].split()[0])


def produce(topic, partition, n, prefix="m"):
    lines = "".join(f"{prefix}{i}\n" for i in range(n))
    kit.kcat("-P", "-t", topic, "-p", partition, input=lines)


def test_topics_match_kcat_metadata():
    kit.need_broker()
    conn = kit.connect()
    name = kit.topic("cat-topics")
    conn.execute("SELECT kafka_create_topic(?, ?, 3)", (B, name))
    (t,) = metadata(name)
    rows = conn.execute("SELECT topic, partitions, replication, internal FROM kafka_topics(?) "
                        "WHERE topic = ?", (B, name)).fetchall()
    replication = max(len(p["replicas"]) for p in t["partitions"])
    assert rows == [(name, len(t["partitions"]), replication, 0)], (rows, t)
    assert len(t["partitions"]) == 3
    # Every topic kcat lists is listed, and __consumer_offsets is internal.
    listed = {r[0]: r[1] for r in conn.execute("SELECT topic, internal FROM kafka_topics(?)", (B,))}
    kcat_all = {t["topic"] for t in json.loads(kit.kcat("-L", "-J"))["topics"]}
    assert kcat_all <= set(listed) | {name}, kcat_all - set(listed)
    assert all(v == (1 if k.startswith("__") else 0) for k, v in listed.items())
    kit.delete_topic(name)


def test_partitions_match_kcat():
    kit.need_broker()
    conn = kit.connect()
    name = kit.create_topic(kit.topic("cat-parts"), partitions=3)
    produce(name, 0, 5)
    produce(name, 2, 2)
    # Records deleted from partition 0's start move its low watermark.
    from kafka import TopicPartition
    from kafka.admin import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=B)
    admin.delete_records({TopicPartition(name, 0): 2})
    admin.close()
    rows = conn.execute("SELECT * FROM kafka_partitions(?, ?)", (B, name)).fetchall()
    (t,) = metadata(name)
    by_id = {p["partition"]: p for p in t["partitions"]}
    assert [r[1] for r in rows] == [0, 1, 2]
    for topic, part, leader, replicas, isr, low, high, messages in rows:
        assert topic == name
        assert leader == by_id[part]["leader"]
        assert json.loads(replicas) == [r["id"] for r in by_id[part]["replicas"]]
        assert json.loads(isr) == [r["id"] for r in by_id[part]["isrs"]]
        assert low == kcat_offset(name, part, -2) and high == kcat_offset(name, part, -1)
        assert messages == high - low
    assert [(r[5], r[6], r[7]) for r in rows] == [(2, 5, 3), (0, 0, 0), (0, 2, 2)]
    # Without a topic: every partition of every topic, in name order.
    every = conn.execute("SELECT * FROM kafka_partitions(?)", (B,)).fetchall()
    assert [r for r in every if r[0] == name] == rows
    listed = json.loads(kit.kcat("-L", "-J"))["topics"]
    assert sorted((r[0], r[1]) for r in every) == sorted(
        (t["topic"], p["partition"]) for t in listed for p in t["partitions"])
    assert [r[0] for r in every] == sorted(r[0] for r in every)
    assert conn.execute("SELECT count(*) FROM kafka_partitions(?, NULL, 'timeout_ms=5000')",
                        (B,)).fetchone() == (len(every),)
    kit.delete_topic(name)


def test_group_offsets_and_lag_match_a_kafka_python_group():
    kit.need_broker()
    from kafka import KafkaConsumer, TopicPartition
    conn = kit.connect()
    name = kit.create_topic(kit.topic("cat-lag"), partitions=2)
    group = kit.topic("cat-group")
    produce(name, 0, 6)
    produce(name, 1, 4)
    consumer = KafkaConsumer(bootstrap_servers=B, group_id=group, enable_auto_commit=False,
                             auto_offset_reset="earliest")
    parts = [TopicPartition(name, 0), TopicPartition(name, 1)]
    consumer.assign(parts)
    read = 0
    deadline = time.monotonic() + 30
    while read < 10 and time.monotonic() < deadline:
        read += sum(len(v) for v in consumer.poll(timeout_ms=500).values())
    assert read == 10
    consumer.commit({parts[0]: kafka_offset(4), parts[1]: kafka_offset(1)})
    committed = {tp.partition: consumer.committed(tp) for tp in parts}
    ends = consumer.end_offsets(parts)
    consumer.close()
    rows = conn.execute('SELECT "group", topic, partition, committed, high, lag FROM kafka_group_offsets(?, ?)',
                        (B, group)).fetchall()
    assert rows == [(group, name, p.partition, committed[p.partition], ends[p],
                     ends[p] - committed[p.partition]) for p in parts], rows
    assert rows[0][3:] == (4, 6, 2) and rows[1][3:] == (1, 4, 3)
    # The spec's join: the total lag of every group.
    total = dict(conn.execute(
        'SELECT g."group", sum(o.lag) FROM kafka_groups(?) g, '
        'kafka_group_offsets(?, g."group") o GROUP BY 1', (B, B)).fetchall())
    assert total[group] == 5, total
    plan = kit.eqp(conn, 'SELECT * FROM kafka_groups(?) g, kafka_group_offsets(?, g."group", NULL) o', (B, B))
    assert "SCAN g VIRTUAL TABLE INDEX 1:brokers" in plan, plan
    assert "SCAN o VIRTUAL TABLE INDEX 7:brokers, group, options" in plan, plan
    # A group that never committed is unknown to Kafka: an error, as
    # kafka-consumer-groups.sh says it (it used to be 0 rows).
    unknown = kit.topic("no-such-group")
    kit.expect_error(lambda: conn.execute("SELECT count(*) FROM kafka_group_offsets(?, ?)", (B, unknown)),
                     f"kafka_group_offsets: group '{unknown}' does not exist on brokers '{B}'")
    kit.delete_topic(name)


def kafka_offset(offset):
    from kafka.structs import OffsetAndMetadata
    try:
        return OffsetAndMetadata(offset, "", -1)
    except TypeError:  # older kafka-python: (offset, metadata)
        return OffsetAndMetadata(offset, "")


def test_groups_show_state_and_members():
    kit.need_broker()
    from kafka import KafkaConsumer
    conn = kit.connect()
    name = kit.create_topic(kit.topic("cat-members"))
    group = kit.topic("cat-live")
    consumer = KafkaConsumer(name, bootstrap_servers=B, group_id=group,
                             auto_offset_reset="earliest")
    deadline = time.monotonic() + 30
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.poll(timeout_ms=200)
    query = 'SELECT "group", state, protocol_type, members FROM kafka_groups(?) WHERE "group" = ?'
    assert conn.execute(query, (B, group)).fetchall() == [(group, "Stable", "consumer", 1)]
    consumer.close()
    assert conn.execute(query, (B, group)).fetchall() == [(group, "Empty", "consumer", 0)]
    kit.delete_topic(name)


def test_missing_and_bad_arguments_are_clear_errors():
    conn = kit.connect()
    for sql, error in [
        ("SELECT * FROM kafka_topics",
         "kafka_topics: argument brokers is required: kafka_topics(brokers [, options])"),
        ("SELECT * FROM kafka_partitions",
         "kafka_partitions: argument brokers is required: kafka_partitions(brokers [, topic [, options]])"),
        ("SELECT * FROM kafka_group_offsets('mock')", "kafka_group_offsets: argument group is required"),
        ("SELECT * FROM kafka_topics(NULL)", "kafka_topics: brokers must be a non-empty text"),
        ("SELECT * FROM kafka_topics('')", "kafka_topics: brokers must be a non-empty text"),
        ("SELECT * FROM kafka_partitions('mock', '')", "kafka_partitions: topic must be a non-empty text or NULL"),
        ("SELECT * FROM kafka_partitions('mock', 7)", "kafka_partitions: topic must be a text or NULL"),
        ("SELECT * FROM kafka_groups('mock', 7)", "kafka_groups: options must be a text or NULL"),
        ("SELECT * FROM kafka_topics('mock', 'group=x')",
         "kafka_topics: option 'group' is not accepted here (options: timeout_ms, config, rdkafka.<property>)"),
        ("SELECT * FROM kafka_topics('mock', 'timeout_ms=0')", "option timeout_ms must be an integer from 1"),
        ("SELECT * FROM kafka_topics('mock:99')", "option brokers: 'mock:99' must be mock or mock:N"),
        ("SELECT * FROM kafka_topics('mock', 'rdkafka.no.such=1')",
         'option rdkafka.no.such: No such configuration property: "no.such"'),
    ]:
        kit.expect_error(lambda: conn.execute(sql).fetchall(), error)
    # Named hidden columns work as well as positional arguments.
    assert conn.execute("SELECT count(*) FROM kafka_topics WHERE brokers = 'mock'").fetchone()[0] >= 0


@kit.timeout(60)
def test_every_wait_is_bounded():
    conn = kit.connect()
    port = free_port()
    start = time.monotonic()
    for table in ("kafka_topics(?, 'timeout_ms=1000')", "kafka_groups(?, 'timeout_ms=1000')",
                  "kafka_partitions(?, 't', 'timeout_ms=1000')",
                  "kafka_group_offsets(?, 'g', 'timeout_ms=1000')"):
        kit.expect_error(lambda: conn.execute(f"SELECT * FROM {table}", (f"127.0.0.1:{port}",)).fetchall(),
                         f"cannot connect to brokers '127.0.0.1:{port}'")
    assert time.monotonic() - start < 4 * 4, time.monotonic() - start


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_secrets_never_appear_in_rows_or_errors():
    kit.need_broker()
    conn = kit.connect()
    name = kit.create_topic(kit.topic("cat-secret"))
    group = kit.topic("cat-secret-group")
    secret = "s3cr3t-Pa55word"
    # PLAINTEXT ignores the SASL settings: the calls succeed with them given.
    opts = (f"rdkafka.security.protocol=plaintext, rdkafka.sasl.mechanism=PLAIN, "
            f"rdkafka.sasl.username=alice, rdkafka.sasl.password='{secret}', timeout_ms=5000")
    conn.execute(f"CREATE VIRTUAL TABLE g USING kafka(brokers='{B}', topic='{name}', group='{group}')")
    conn.execute("INSERT INTO g(value) VALUES ('x')")
    conn.execute("SELECT * FROM g").fetchall()
    dumps = []
    for sql, args in (("SELECT *, brokers, options FROM kafka_topics(?, ?)", (B, opts)),
                      ("SELECT *, brokers, topic_arg, options FROM kafka_partitions(?, ?, ?)", (B, name, opts)),
                      ("SELECT *, brokers, options FROM kafka_groups(?, ?)", (B, opts)),
                      ("SELECT *, brokers, group_arg, options FROM kafka_group_offsets(?, ?, ?)",
                       (B, group, opts))):
        rows = conn.execute(sql, args).fetchall()
        assert rows, sql
        assert all(r[-1] is None for r in rows), "the options column reads as NULL"
        dumps.append(repr(rows))
    assert not any(secret in d for d in dumps)
    assert any(name in d for d in dumps) and any(group in d for d in dumps)
    # A malformed item is not echoed (it might be a secret).
    e = kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_topics(?, ?)",
                                              (B, f"rdkafka.sasl.password:{secret}")).fetchall(),
                         "kafka_topics: options: item 1 is not of the form name=value")
    assert secret not in str(e)
    # An error after the options were taken does not show them either.
    e = kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_topics(?, ?)",
                                              (f"127.0.0.1:{free_port()}", opts.replace("5000", "1000"))).fetchall(),
                         "cannot connect to brokers")
    assert secret not in str(e)
    kit.delete_topic(name)


def sasl_listener():
    """The broker's SASL_PLAINTEXT listener (KAFKA_SASL=1), or None."""
    host, port = B.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port) + 50), timeout=1).close()
    except OSError:
        return None
    return f"{host}:{int(port) + 50}"


def test_sasl_options_reach_the_cluster_and_stay_secret():
    kit.need_broker()
    broker = sasl_listener()
    if not broker:
        raise kit.Skip("the broker has no SASL listener (tests/broker/kafka.sh with KAFKA_SASL=1)")
    conn = kit.connect()
    base = "rdkafka.security.protocol=SASL_PLAINTEXT, rdkafka.sasl.mechanism=PLAIN, rdkafka.sasl.username=alice"
    rows = conn.execute("SELECT topic FROM kafka_topics(?, ?)",
                        (broker, base + ", rdkafka.sasl.password=alice-secret")).fetchall()
    assert rows == conn.execute("SELECT topic FROM kafka_topics(?)", (B,)).fetchall()
    e = kit.expect_error(lambda: conn.execute(
        "SELECT * FROM kafka_topics(?, ?)", (broker, base + ", rdkafka.sasl.password=wrong-Secret-42, timeout_ms=3000")).fetchall(),
        "kafka: kafka_topics: cannot connect to brokers")
    assert "Authentication failed" in str(e), str(e)
    assert "wrong-Secret-42" not in str(e), str(e)


def test_mock_cluster_catalog_and_its_gaps():
    conn = kit.connect()
    name = kit.topic("cat-mock")
    conn.execute("SELECT kafka_create_topic('mock:2', ?, 2)", (name,))
    conn.execute(f"CREATE VIRTUAL TABLE m USING kafka(brokers='mock:2', topic='{name}', group='gm')")
    conn.execute("INSERT INTO m(partition, value) VALUES (0, 'a'), (0, 'b'), (1, 'c')")
    assert conn.execute("SELECT topic, partitions, internal FROM kafka_topics('mock:2')").fetchall() == [(name, 2, 0)]
    rows = conn.execute("SELECT partition, low, high, messages FROM kafka_partitions('mock:2', ?)",
                        (name,)).fetchall()
    assert rows == [(0, 0, 2, 2), (1, 0, 1, 1)]
    # Without a topic: the topics the extension created (the mock would
    # list the ones metadata requests made it create too).
    assert conn.execute("SELECT topic, partition, low, high, messages FROM kafka_partitions('mock:2')"
                        ).fetchall() == [(name,) + r for r in rows]
    assert conn.execute("SELECT count(*) FROM m").fetchone() == (3,)
    assert conn.execute("SELECT topic, partition, committed, high, lag FROM kafka_group_offsets('mock:2', 'gm')"
                        ).fetchall() == [(name, 0, 2, 2, 0), (name, 1, 1, 1, 0)]
    # Naming a topic that does not exist must not create it on the mock.
    kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_partitions('mock:2', 'nope')").fetchall(),
                     "kafka_partitions: topic 'nope' does not exist on brokers 'mock:2'")
    assert [r[0] for r in conn.execute("SELECT topic FROM kafka_topics('mock:2')")] == [name]
    kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_groups('mock:2')").fetchall(),
                     "kafka_groups: the mock cluster cannot list consumer groups")


def test_untrusted_schema_cannot_reach_a_broker():
    conn = kit.connect()
    conn.execute("CREATE VIEW v AS SELECT * FROM kafka_topics('mock')")
    conn.execute("CREATE TABLE t(x)")
    conn.execute("CREATE TRIGGER tr AFTER INSERT ON t BEGIN "
                 "SELECT * FROM kafka_partitions('mock', 'x'); END")
    kit.expect_error(lambda: conn.execute("SELECT * FROM v").fetchall(),
                     'unsafe use of virtual table "kafka_topics"')
    kit.expect_error(lambda: conn.execute("INSERT INTO t VALUES (1)"),
                     'unsafe use of virtual table "kafka_partitions"')
    kit.expect_error(lambda: conn.execute("CREATE VIRTUAL TABLE x USING kafka_topics"),
                     "no such module: kafka_topics")
