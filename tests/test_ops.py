"""Operating a cluster from SQL (issue 15): group resets and deletes, topic and
broker configs, partitions, records, brokers and ACLs, each checked against
Kafka's own tools (ConsumerGroupCommand, ConfigCommand, TopicCommand,
GetOffsetShell, AclCommand) through tests/broker/kafka.sh run-class: on the
suite's 3.9 broker; ACLs on a 3.9 broker with Kafka's StandardAuthorizer and
SASL users started here on PORT+8; everything again on a Kafka 4.1 broker with
the authorizer started on PORT+12."""

import os
import re
import subprocess
import time

import kit

B = kit.BROKER
KAFKA4 = os.environ.get("KAFKA4_VERSION", "4.1.1")
KAFKA4_PORT = kit.PORT + 12


class Cluster:
    """A broker and the Kafka version whose tools talk to it."""

    def __init__(self, port, version=None, env=None):
        self.port = port
        self.brokers = f"127.0.0.1:{port}"
        self.env = dict(os.environ, KAFKA_PORT=str(port), **(env or {}))
        if version:
            self.env["KAFKA_VERSION"] = version

    def sh(self, *args, timeout=300):
        done = subprocess.run(["bash", str(kit.KAFKA_SH), *map(str, args)], env=self.env, timeout=timeout,
                              capture_output=True, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, (f"kafka.sh {' '.join(map(str, args))} failed:\n"
                                      f"{done.stdout.decode()}\n{done.stderr.decode()}")
        return done.stdout.decode()

    def tool(self, cls, *args):
        return self.sh("run-class", cls, "--bootstrap-server", self.brokers, *args)

    def kcat(self, *args, input=None):
        return kit.kcat(*args, input=input, broker=self.brokers)


SUITE = Cluster(kit.PORT)
# Brokers with Kafka's StandardAuthorizer: the PLAINTEXT listener the harness
# uses is a super user; SASL users (bob) need ACLs.
SECURED = {"KAFKA_NODES": "1", "KAFKA_SASL": "1", "KAFKA_TLS": "0", "KAFKA_AUTHORIZER": "1"}


def produce(cluster, topic, partition, n):
    cluster.kcat("-P", "-t", topic, "-p", partition, input="".join(f"m{i}\n" for i in range(n)))


def group_describe(cluster, group):
    """ConsumerGroupCommand --describe: {partition: (current offset, log end)}."""
    out = cluster.tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--describe",
                       "--group", group, "--timeout", "60000")
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0] == group and f[2].isdigit():
            rows[int(f[2])] = (None if f[3] == "-" else int(f[3]), int(f[4]))
    return rows


def dynamic_topic_configs(cluster, topic):
    """ConfigCommand --describe of a topic: its dynamic configs."""
    out = cluster.tool("kafka.admin.ConfigCommand", "--describe", "--entity-type", "topics",
                       "--entity-name", topic)
    return dict(re.findall(r"^  ([^=\s]+)=(.*?) sensitive=(?:true|false)", out, re.M))


def earliest_offsets(cluster, topic):
    out = cluster.tool("org.apache.kafka.tools.GetOffsetShell", "--topic", topic, "--time", "-2")
    return {int(p): int(o) for t, p, o in (line.rsplit(":", 2) for line in out.split()) if t == topic}


def sql_offsets(conn, cluster, group):
    return dict(conn.execute('SELECT partition, committed FROM kafka_group_offsets(?, ?)',
                             (cluster.brokers, group)).fetchall())


def reset(conn, cluster, group, topic, to, *more):
    marks = ", ?" * len(more)
    (out,) = conn.execute(f"SELECT kafka_reset_group(?, ?, ?, ?{marks})",
                          (cluster.brokers, group, topic, to, *more)).fetchone()
    import json
    return json.loads(out)


# ------------------------------------------------------------- scenarios --

def check_group_reset(cluster):
    """Every form of `to` commits what Kafka's tool then describes."""
    conn = kit.connect()
    topic = kit.topic("ops-reset")
    conn.execute("SELECT kafka_create_topic(?, ?, 3)", (cluster.brokers, topic))
    for p, n in ((0, 10), (1, 4), (2, 0)):
        produce(cluster, topic, p, n)
    group = kit.topic("ops-g")
    assert reset(conn, cluster, group, topic, "earliest") == [
        {"partition": 0, "offset": 0}, {"partition": 1, "offset": 0}, {"partition": 2, "offset": 0}]
    assert reset(conn, cluster, group, topic, 7, 0) == [{"partition": 0, "offset": 7}]
    assert reset(conn, cluster, group, topic, "+2", "[0, 1]") == [
        {"partition": 0, "offset": 9}, {"partition": 1, "offset": 2}]
    # A shift past either end is clamped as Kafka does, and said.
    assert reset(conn, cluster, group, topic, "+5") == [
        {"partition": 0, "offset": 10, "clamped": "latest"}, {"partition": 1, "offset": 4, "clamped": "latest"},
        {"partition": 2, "offset": 0, "clamped": "latest"}]
    assert reset(conn, cluster, group, topic, "-6", 0) == [{"partition": 0, "offset": 4}]
    assert reset(conn, cluster, group, topic, "-9223372036854775807", 1) == [
        {"partition": 1, "offset": 0, "clamped": "earliest"}]
    assert group_describe(cluster, group) == {0: (4, 10), 1: (0, 4), 2: (0, 0)}
    assert sql_offsets(conn, cluster, group) == {0: 4, 1: 0, 2: 0}
    # By time: a time before every message is the start, one after all of
    # them the end (as Kafka's --to-datetime).
    assert reset(conn, cluster, group, topic, "2001-01-01T00:00:00Z") == [
        {"partition": p, "offset": 0} for p in range(3)]
    assert reset(conn, cluster, group, topic, "@" + str(int(time.time() * 1000) + 3600_000)) == [
        {"partition": 0, "offset": 10}, {"partition": 1, "offset": 4}, {"partition": 2, "offset": 0}]
    stamp = conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers='{cluster.brokers}', topic='{topic}')")
    stamp = conn.execute("SELECT timestamp FROM t WHERE partition = 0 AND offset = 3").fetchone()[0]
    assert reset(conn, cluster, group, topic, "@" + str(stamp), 0)[0]["offset"] <= 3
    assert reset(conn, cluster, group, topic, "latest", 1) == [{"partition": 1, "offset": 4}]
    assert group_describe(cluster, group)[1] == (4, 4)
    # The group, then the scan: a reset group reads from where it was put.
    reset(conn, cluster, group, topic, 8, 0)
    conn.execute(f"CREATE VIRTUAL TABLE g USING kafka(brokers='{cluster.brokers}', topic='{topic}', group='{group}')")
    assert conn.execute("SELECT partition, offset FROM g ORDER BY 1, 2").fetchall() == [(0, 8), (0, 9)]
    assert conn.execute("SELECT kafka_delete_group(?, ?)", (cluster.brokers, group)).fetchone() == (group,)
    assert group_describe_missing(cluster, group)
    kit.expect_error(lambda: conn.execute("SELECT kafka_delete_group(?, ?)", (cluster.brokers, group)),
                     f"kafka_delete_group: group '{group}' does not exist on brokers '{cluster.brokers}'")
    conn.execute("SELECT kafka_delete_topic(?, ?)", (cluster.brokers, topic))


def group_describe_missing(cluster, group):
    """ConsumerGroupCommand --describe says the group is gone (3.9: "does not
    exist" on stdout; 4.x: "not found" on stderr)."""
    done = subprocess.run(["bash", str(kit.KAFKA_SH), "run-class",
                           "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--bootstrap-server",
                           cluster.brokers, "--describe", "--group", group, "--timeout", "60000"],
                          env=cluster.env, capture_output=True, timeout=300, stdin=subprocess.DEVNULL)
    said = done.stdout.decode() + done.stderr.decode()
    return f"Consumer group '{group}' does not exist." in said or f"Group {group} not found." in said


def check_topic_configs(cluster):
    """kafka_alter_topic merges, resets with null, and agrees with ConfigCommand."""
    conn = kit.connect()
    topic = kit.topic("ops-cfg")
    conn.execute("SELECT kafka_create_topic(?, ?, 1, 1, ?)",
                 (cluster.brokers, topic, '{"retention.ms": 3600000, "max.message.bytes": 200000}'))
    got = conn.execute("SELECT kafka_alter_topic(?, ?, ?)",
                       (cluster.brokers, topic, '{"retention.bytes": 1048576, "max.message.bytes": null}')).fetchone()
    assert got == ('{"retention.ms":"3600000","retention.bytes":"1048576"}',), got
    assert dynamic_topic_configs(cluster, topic) == {"retention.ms": "3600000", "retention.bytes": "1048576"}
    rows = {r[0]: r[1:] for r in conn.execute("SELECT * FROM kafka_topic_configs(?, ?)", (cluster.brokers, topic))}
    assert rows["retention.ms"] == ("3600000", "DYNAMIC_TOPIC_CONFIG", 0, 0, 0)
    assert rows["retention.bytes"] == ("1048576", "DYNAMIC_TOPIC_CONFIG", 0, 0, 0)
    assert rows["max.message.bytes"][1:3] == ("DEFAULT_CONFIG", 1)
    assert rows["cleanup.policy"] == ("delete", "DEFAULT_CONFIG", 1, 0, 0)
    assert list(rows) == sorted(rows)
    assert conn.execute("SELECT name FROM kafka_topic_configs(?, ?) WHERE source = 'DYNAMIC_TOPIC_CONFIG'",
                        (cluster.brokers, topic)).fetchall() == [("retention.bytes",), ("retention.ms",)]
    kit.expect_error(lambda: conn.execute("SELECT kafka_alter_topic(?, ?, '{\"retention.msx\": 1}')",
                                          (cluster.brokers, topic)),
                     f"kafka_alter_topic: topic '{topic}': Unknown topic config name: retention.msx")
    kit.expect_error(lambda: conn.execute("SELECT kafka_alter_topic(?, ?, '{\"retention.ms\": \"soon\"}')",
                                          (cluster.brokers, topic)),
                     f"kafka_alter_topic: topic '{topic}': Invalid value soon for configuration retention.ms")
    assert dynamic_topic_configs(cluster, topic) == {"retention.ms": "3600000", "retention.bytes": "1048576"}
    conn.execute("SELECT kafka_delete_topic(?, ?)", (cluster.brokers, topic))


def check_partitions_and_records(cluster):
    """kafka_add_partitions and kafka_delete_records against TopicCommand and GetOffsetShell."""
    conn = kit.connect()
    topic = kit.topic("ops-parts")
    conn.execute("SELECT kafka_create_topic(?, ?, 2)", (cluster.brokers, topic))
    assert conn.execute("SELECT kafka_add_partitions(?, ?, 5)", (cluster.brokers, topic)).fetchone() == (5,)
    out = cluster.tool("org.apache.kafka.tools.TopicCommand", "--describe", "--topic", topic)
    assert re.search(r"PartitionCount: 5\s", out), out
    kit.expect_error(lambda: conn.execute("SELECT kafka_add_partitions(?, ?, 3)", (cluster.brokers, topic)),
                     f"kafka_add_partitions: topic '{topic}': The topic {topic} currently has 5 partition(s); "
                     "3 would not be an increase.")
    produce(cluster, topic, 4, 10)
    assert conn.execute("SELECT kafka_delete_records(?, ?, 4, 6)", (cluster.brokers, topic)).fetchone() == (6,)
    assert earliest_offsets(cluster, topic) == {0: 0, 1: 0, 2: 0, 3: 0, 4: 6}
    assert conn.execute("SELECT low, high FROM kafka_partitions(?, ?) WHERE partition = 4",
                        (cluster.brokers, topic)).fetchone() == (6, 10)
    # Up to the end: the partition is empty, its offsets go on.
    assert conn.execute("SELECT kafka_delete_records(?, ?, 4, 10)", (cluster.brokers, topic)).fetchone() == (10,)
    kit.expect_error(lambda: conn.execute("SELECT kafka_delete_records(?, ?, 4, 11)", (cluster.brokers, topic)),
                     f"kafka_delete_records: before_offset 11 is past the end of topic '{topic}' partition 4 "
                     "(its high watermark is 10)")
    kit.expect_error(lambda: conn.execute("SELECT kafka_delete_records(?, ?, 5, 1)", (cluster.brokers, topic)),
                     f"kafka_delete_records: topic '{topic}' has no partition 5 (it has 5)")
    conn.execute("SELECT kafka_delete_topic(?, ?)", (cluster.brokers, topic))


def check_brokers(cluster):
    """kafka_brokers and kafka_broker_configs against ConfigCommand --all."""
    conn = kit.connect()
    assert conn.execute("SELECT * FROM kafka_brokers(?)", (cluster.brokers,)).fetchall() == [
        (1, "127.0.0.1", cluster.port, None, 1)]
    out = cluster.tool("kafka.admin.ConfigCommand", "--describe", "--entity-type", "brokers",
                       "--entity-name", "1", "--all")
    theirs = dict(re.findall(r"^  ([^=\s]+)=(.*?) sensitive=false", out, re.M))
    ours = dict(conn.execute("SELECT name, value FROM kafka_broker_configs(?, 1) WHERE NOT sensitive",
                             (cluster.brokers,)).fetchall())
    # The tool prints "null" for a config without a value.
    assert {k: "null" if v is None else v for k, v in ours.items()} == theirs
    assert ours["auto.create.topics.enable"] == "false"
    row = conn.execute("SELECT value, source, read_only FROM kafka_broker_configs(?, 1) WHERE name = 'node.id'",
                       (cluster.brokers,)).fetchone()
    assert row == ("1", "STATIC_BROKER_CONFIG", 1), row
    kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_broker_configs(?, 9)", (cluster.brokers,)).fetchall(),
                     f"kafka_broker_configs: broker 9 is not in the cluster at '{cluster.brokers}' (see kafka_brokers)")


def acl_command_list(cluster):
    """AclCommand --list: the set of (type, name, pattern, principal, host, operation, permission)."""
    out = cluster.tool("acl-command", "--list")
    acls, resource = set(), None
    for line in out.splitlines():
        m = re.search(r"ResourcePattern\(resourceType=(\w+), name=(.*?), patternType=(\w+)\)", line)
        if m:
            resource = m.groups()
        m = re.search(r"\(principal=(.*?), host=(.*?), operation=(\w+), permissionType=(\w+)\)", line)
        if m:
            acls.add(resource + m.groups())
    return acls


def bob(cluster):
    """Options of user bob on the cluster's SASL listener (PORT+50)."""
    return (f"127.0.0.1:{cluster.port + 50}",
            "rdkafka.security.protocol=sasl_plaintext, rdkafka.sasl.mechanisms=PLAIN, "
            "rdkafka.sasl.username=bob, rdkafka.sasl.password=bob-secret, timeout_ms=10000")


def check_acls(cluster):
    """ACLs made in SQL let a SASL user read, agree with AclCommand, and go."""
    conn = kit.connect()
    b = cluster.brokers
    topic = kit.topic("ops-acl")
    conn.execute("SELECT kafka_create_topic(?, ?, 1)", (b, topic))
    produce(cluster, topic, 0, 3)
    assert conn.execute("SELECT * FROM kafka_acls(?)", (b,)).fetchall() == []
    sasl, options = bob(cluster)
    create_t = f"CREATE VIRTUAL TABLE t USING kafka(brokers='{sasl}', topic='{topic}', {options})"
    kit.expect_error(lambda: conn.execute(create_t),
                     f"kafka: metadata of topic '{topic}': Broker: Topic authorization failed")
    prefix = topic[:10]
    for call in ((topic, "User:bob", "READ"), (topic, "User:bob", "DESCRIBE")):
        assert conn.execute("SELECT kafka_create_acl(?, 'topic', ?, ?, ?)", (b, *call)).fetchone() == (1,)
    assert conn.execute("SELECT kafka_create_acl(?, 'TOPIC', ?, 'User:bob', 'WRITE', 'DENY', '*', 'PREFIXED')",
                        (b, prefix)).fetchone() == (1,)
    assert conn.execute("SELECT kafka_create_acl(?, 'CLUSTER', 'kafka-cluster', 'User:bob', 'DESCRIBE_CONFIGS', "
                        "'ALLOW', '127.0.0.1')", (b,)).fetchone() == (1,)
    # librdkafka's consumer looks up the coordinator of its group.id even
    # for a table without a group: the extension's is sqlite-kafka.no-group.
    assert conn.execute("SELECT kafka_create_acl(?, 'GROUP', 'sqlite-kafka.no-group', 'User:bob', 'READ')",
                        (b,)).fetchone() == (1,)
    rows = set(conn.execute("SELECT * FROM kafka_acls(?)", (b,)).fetchall())
    assert rows == {
        ("TOPIC", topic, "LITERAL", "User:bob", "*", "READ", "ALLOW"),
        ("TOPIC", topic, "LITERAL", "User:bob", "*", "DESCRIBE", "ALLOW"),
        ("TOPIC", prefix, "PREFIXED", "User:bob", "*", "WRITE", "DENY"),
        ("CLUSTER", "kafka-cluster", "LITERAL", "User:bob", "127.0.0.1", "DESCRIBE_CONFIGS", "ALLOW"),
        ("GROUP", "sqlite-kafka.no-group", "LITERAL", "User:bob", "*", "READ", "ALLOW")}, rows
    assert acl_command_list(cluster) == rows
    # Bob reads now (no group: a plain scan needs READ and DESCRIBE only).
    conn.execute(create_t)
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (3,)
    # A filter: every NULL matches any.
    assert conn.execute("SELECT kafka_delete_acl(?, 'TOPIC', ?, NULL, NULL)", (b, topic)).fetchone() == (2,)
    assert conn.execute("SELECT kafka_delete_acl(?, NULL, NULL, 'User:bob', NULL)", (b,)).fetchone() == (3,)
    assert conn.execute("SELECT kafka_delete_acl(?, NULL, NULL, 'User:bob', NULL)", (b,)).fetchone() == (0,)
    assert conn.execute("SELECT * FROM kafka_acls(?)", (b,)).fetchall() == []
    assert acl_command_list(cluster) == set()
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_acl(?, 'TOPIC', 'x', 'User:bob', 'EAT')", (b,)),
                     "kafka_create_acl: operation must be one of ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, "
                     "CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE")
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_acl(?, 'TOPIC', 'x', 'bob', 'READ')", (b,)),
                     "kafka_create_acl: creating the ACL: ")
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_acl(?, 'TOPIC', 'x', 'User:bob', 'READ', 'MAYBE')",
                                          (b,)), "kafka_create_acl: permission must be one of DENY, ALLOW")
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_acl(?, NULL, 'x', 'User:bob', 'READ')", (b,)),
                     "kafka_create_acl: resource_type must be a text (TOPIC, GROUP, CLUSTER)")
    # Bob may not manage ACLs.
    kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_acls(?, ?)", (sasl, options)).fetchall(),
                     f"kafka_acls: the cluster at '{sasl}' listed no ACLs, and its authorizer config could not be "
                     "read: the user may lack DESCRIBE and DESCRIBE_CONFIGS on the cluster")
    conn.execute("SELECT kafka_delete_topic(?, ?)", (b, topic))


# ----------------------------------------------------------------- tests --

@kit.timeout(240)
def test_reset_group_agrees_with_consumer_group_command():
    kit.need_broker()
    check_group_reset(SUITE)


@kit.timeout(240)
def test_active_group_members_are_listed_and_a_reset_is_refused():
    kit.need_broker()
    from kafka import KafkaConsumer
    conn = kit.connect()
    topic = kit.create_topic(kit.topic("ops-live"), partitions=2)
    group = kit.topic("ops-live-g")
    consumer = KafkaConsumer(topic, bootstrap_servers=B, group_id=group, client_id="ops-client",
                             auto_offset_reset="earliest")
    try:
        deadline = time.monotonic() + 60
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)
        assert consumer.assignment()
        rows = conn.execute("SELECT * FROM kafka_group_members(?, ?)", (B, group)).fetchall()
        assert len(rows) == 1, rows
        g, member, client, host, instance, assignment = rows[0]
        assert (g, client, host, instance) == (group, "ops-client", "/127.0.0.1", None)
        import json
        assert sorted((a["topic"], a["partition"]) for a in json.loads(assignment)) == [(topic, 0), (topic, 1)]
        out = SUITE.tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand", "--describe",
                         "--group", group, "--members", "--timeout", "60000")
        assert re.search(rf"^{re.escape(group)}\s+{re.escape(member)}\s+/127\.0\.0\.1\s+ops-client\s+2\s*$",
                         out, re.M), out
        kit.expect_error(lambda: conn.execute("SELECT kafka_reset_group(?, ?, ?, 'earliest')", (B, group, topic)),
                         f"kafka_reset_group: group '{group}' has 1 active member(s) (state Stable): Kafka resets "
                         "the offsets of an inactive group only; stop its consumers first")
        kit.expect_error(lambda: conn.execute("SELECT kafka_delete_group(?, ?)", (B, group)),
                         f"kafka_delete_group: group '{group}' has active members: stop its consumers first")
    finally:
        consumer.close()
    assert reset(conn, SUITE, group, topic, "latest") == [{"partition": 0, "offset": 0}, {"partition": 1, "offset": 0}]
    assert conn.execute("SELECT count(*) FROM kafka_group_members(?, ?)", (B, group)).fetchone() == (0,)
    kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_group_members(?, 'no-such-group-x')", (B,)).fetchall(),
                     f"kafka_group_members: group 'no-such-group-x' does not exist on brokers '{B}'")
    kit.delete_topic(topic)


@kit.timeout(240)
def test_topic_configs_and_alter_agree_with_config_command():
    kit.need_broker()
    check_topic_configs(SUITE)


@kit.timeout(240)
def test_add_partitions_and_delete_records_agree_with_kafka_tools():
    kit.need_broker()
    check_partitions_and_records(SUITE)


@kit.timeout(240)
def test_brokers_and_broker_configs_agree_with_config_command():
    kit.need_broker()
    check_brokers(SUITE)


def test_bad_reset_input_is_a_clear_error():
    kit.need_broker()
    conn = kit.connect()
    topic = kit.create_topic(kit.topic("ops-bad"), partitions=2)
    produce(SUITE, topic, 0, 3)
    group = kit.topic("ops-bad-g")
    cases = [
        ((topic, -1), "kafka_reset_group: to must be an offset of 0 or more (a negative one is no offset; "
                      "shift with '-N')"),
        ((topic, "soon"), "kafka_reset_group: to must be 'earliest', 'latest', an offset, a time "
                          "('2026-01-01T00:00:00Z' or '@<ms since the epoch>') or a shift ('+100', '-100')"),
        ((topic, "2026-13-01T00:00:00Z"), "kafka_reset_group: to must be 'earliest'"),
        ((topic, "@"), "kafka_reset_group: to must be 'earliest'"),
        ((topic, 4, 0), f"kafka_reset_group: offset 4 is past the end of partition 0 of topic '{topic}' "
                        "(its offsets run from 0 to 3)"),
        ((topic, "earliest", 2), f"kafka_reset_group: topic '{topic}' has no partition 2 (it has 2)"),
        ((topic, "earliest", "[0, -1]"), "kafka_reset_group: partitions must be NULL (all), a partition number "
                                         "or a JSON array of them ('[0, 2]')"),
        ((topic, "earliest", "[]"), "kafka_reset_group: partitions must be NULL (all)"),
        ((topic, "+1"), f"kafka_reset_group: cannot shift partition 0 of topic '{topic}': group '{group}' has "
                        "no committed offset there"),
        (("no-such-topic-x", "earliest"), f"kafka_reset_group: topic 'no-such-topic-x' does not exist on "
                                           f"brokers '{B}'"),
    ]
    for args, error in cases:
        marks = ", ?" * (len(args) - 2)
        kit.expect_error(lambda: conn.execute(f"SELECT kafka_reset_group(?, ?, ?, ?{marks})", (B, group, *args)),
                         error)
    # Nothing was committed by the failed calls: the group does not exist.
    kit.expect_error(lambda: conn.execute("SELECT count(*) FROM kafka_group_offsets(?, ?)", (B, group)),
                     f"group '{group}' does not exist")
    no_topic = f"topic 'no-such-topic-x' does not exist on brokers '{B}'"
    for sql, args, error in [
        ("SELECT kafka_add_partitions(?, 'no-such-topic-x', 3)", (B,), f"kafka_add_partitions: {no_topic}"),
        ("SELECT kafka_add_partitions(?, ?, 2)", (B, topic),
         f"kafka_add_partitions: topic '{topic}': Topic already has 2 partition(s)."),
        ("SELECT kafka_add_partitions(?, ?, 0)", (B, topic),
         "kafka_add_partitions: total must be an integer from 1 to 1000000"),
        ("SELECT kafka_delete_records(?, ?, 0, -1)", (B, topic),
         "kafka_delete_records: before_offset must be an offset (an integer, 0 or more)"),
        ("SELECT * FROM kafka_topic_configs(?, 'no-such-topic-x')", (B,), f"kafka_topic_configs: {no_topic}"),
        ("SELECT kafka_alter_topic(?, 'no-such-topic-x', '{}')", (B,), f"kafka_alter_topic: {no_topic}"),
        ("SELECT kafka_alter_topic(?, ?, '[1]')", (B, topic),
         "kafka_alter_topic: config_json must be a JSON object, like {\"retention.ms\": 3600000}"),
        ("SELECT kafka_alter_topic(?, ?, '{\"a\": [1]}')", (B, topic),
         "kafka_alter_topic: config_json: the value of 'a' must be a string, number, boolean or null"),
        ("SELECT * FROM kafka_broker_configs(?, 'one')", (B,), "kafka_broker_configs: id must be an integer"),
        ("SELECT * FROM kafka_acls(?)", (B,),
         f"kafka_acls: the cluster at '{B}' has no authorizer (broker 1: authorizer.class.name is empty), "
         "so it has no ACLs"),
        ("SELECT kafka_create_acl(?, 'TOPIC', 't', 'User:bob', 'READ')", (B,),
         "kafka_create_acl: creating the ACL: No Authorizer is configured."),
    ]:
        kit.expect_error(lambda: conn.execute(sql, args).fetchall(), error)
    kit.delete_topic(topic)


def test_every_wait_is_bounded_by_timeout_ms():
    conn = kit.connect()
    # Nothing listens on port 9: each call gives up after timeout_ms.
    for sql in ("SELECT kafka_reset_group('127.0.0.1:9', 'g', 't', 'earliest', NULL, 'timeout_ms=1500')",
                "SELECT kafka_delete_group('127.0.0.1:9', 'g', 'timeout_ms=1500')",
                "SELECT kafka_alter_topic('127.0.0.1:9', 't', '{}', 'timeout_ms=1500')",
                "SELECT kafka_add_partitions('127.0.0.1:9', 't', 2, 'timeout_ms=1500')",
                "SELECT kafka_delete_records('127.0.0.1:9', 't', 0, 1, 'timeout_ms=1500')",
                "SELECT kafka_create_acl('127.0.0.1:9', 'TOPIC', 't', 'User:x', 'READ', NULL, NULL, NULL, "
                "'timeout_ms=1500')",
                "SELECT * FROM kafka_topic_configs('127.0.0.1:9', 't', 'timeout_ms=1500')",
                "SELECT * FROM kafka_group_members('127.0.0.1:9', 'g', 'timeout_ms=1500')",
                "SELECT * FROM kafka_acls('127.0.0.1:9', 'timeout_ms=1500')"):
        kit.expect_error(lambda: conn.execute(sql).fetchall(), "cannot connect to brokers '127.0.0.1:9' (no "
                                                               "connection to any of them succeeded")


def test_mock_cluster_says_which_request_it_lacks():
    conn = kit.connect()
    conn.execute("SELECT kafka_create_topic('mock', 'ops-m', 2)")
    cases = [
        ("SELECT kafka_reset_group('mock', 'g', 'ops-m', 'earliest')",
         "kafka_reset_group: the mock cluster has no DescribeGroups request (use a real broker)"),
        ("SELECT kafka_delete_group('mock', 'g')", "kafka_delete_group: the mock cluster has no DeleteGroups request"),
        ("SELECT kafka_alter_topic('mock', 'ops-m', '{}')", "kafka_alter_topic: the mock cluster has no AlterConfigs"),
        ("SELECT kafka_add_partitions('mock', 'ops-m', 3)", "kafka_add_partitions: the mock cluster has no "
                                                            "CreatePartitions request"),
        ("SELECT kafka_delete_records('mock', 'ops-m', 0, 1)", "kafka_delete_records: the mock cluster has no "
                                                               "DeleteRecords request"),
        ("SELECT kafka_create_acl('mock', 'TOPIC', 't', 'User:x', 'READ')", "kafka_create_acl: the mock cluster "
                                                                            "has no DescribeAcls, CreateAcls"),
        ("SELECT * FROM kafka_topic_configs('mock', 'ops-m')", "kafka_topic_configs: the mock cluster has no "
                                                               "DescribeConfigs request"),
        ("SELECT * FROM kafka_broker_configs('mock', 1)", "kafka_broker_configs: the mock cluster has no "
                                                          "DescribeConfigs request"),
        ("SELECT * FROM kafka_group_members('mock', 'g')", "kafka_group_members: the mock cluster has no "
                                                           "DescribeGroups request"),
        ("SELECT * FROM kafka_acls('mock')", "kafka_acls: the mock cluster has no DescribeAcls request"),
    ]
    for sql, error in cases:
        kit.expect_error(lambda: conn.execute(sql).fetchall(), error)
    # What the mock does have: its brokers, from metadata.
    assert conn.execute("SELECT id, host, rack, is_controller FROM kafka_brokers('mock:3')").fetchall()[0][0] == 1
    assert len(conn.execute("SELECT * FROM kafka_brokers('mock:3')").fetchall()) == 3


def test_operations_are_direct_only():
    conn = kit.connect()
    conn.execute("CREATE TABLE log(x)")
    for call in ("kafka_reset_group('mock', 'g', 't', 'earliest')", "kafka_delete_group('mock', 'g')",
                 "kafka_alter_topic('mock', 't', '{}')", "kafka_add_partitions('mock', 't', 2)",
                 "kafka_delete_records('mock', 't', 0, 1)",
                 "kafka_create_acl('mock', 'TOPIC', 't', 'User:x', 'READ')",
                 "kafka_delete_acl('mock', 'TOPIC', 't', 'User:x', 'READ')"):
        conn.execute(f"CREATE TRIGGER tr AFTER INSERT ON log BEGIN SELECT {call}; END")
        kit.expect_error(lambda: conn.execute("INSERT INTO log VALUES (1)"), "unsafe use of")
        conn.execute("DROP TRIGGER tr")
    for table in ("kafka_brokers('mock')", "kafka_topic_configs('mock', 't')", "kafka_acls('mock')",
                  "kafka_broker_configs('mock', 1)", "kafka_group_members('mock', 'g')"):
        conn.execute(f"CREATE VIEW v AS SELECT * FROM {table}")
        kit.expect_error(lambda: conn.execute("SELECT * FROM v").fetchall(), "unsafe use of")
        conn.execute("DROP VIEW v")


@kit.timeout(300)
def test_acls_on_a_broker_with_an_authorizer_agree_with_acl_command():
    kit.need_broker()
    cluster = Cluster(kit.PORT + 8, None, SECURED)
    cluster.sh("up")
    try:
        check_acls(cluster)
    finally:
        cluster.sh("down", "--clean")


@kit.timeout(600)
def test_kafka_4_tools_agree_too():
    kit.need_broker()
    cluster = Cluster(KAFKA4_PORT, KAFKA4, SECURED)
    cluster.sh("up")
    try:
        check_acls(cluster)
        check_group_reset(cluster)
        check_topic_configs(cluster)
        check_partitions_and_records(cluster)
        check_brokers(cluster)
    finally:
        cluster.sh("down", "--clean")
