"""kafka_create_topic / kafka_delete_topic and the partitions/replication
options of CREATE VIRTUAL TABLE, against the real broker (seen through
kcat's metadata listing) and the mock cluster."""

import json

import kit

B = kit.BROKER


def kcat_topic(name):
    """The topic in kcat's metadata listing, or None."""
    meta = json.loads(kit.kcat("-L", "-J"))
    found = [t for t in meta["topics"] if t["topic"] == name]
    return found[0] if found else None


def topic_config(name, key):
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=B)
    try:
        responses = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        # (error_code, error_message, resource_type, resource_name, entries);
        # an entry is (name, value, read_only, source, sensitive, synonyms)
        entries = [e for r in responses for res in r.resources for e in res[4]]
        return dict((e[0], e[1]) for e in entries)[key]
    finally:
        admin.close()


def test_create_and_delete_are_seen_by_kcat():
    kit.need_broker()
    conn = kit.connect()
    name = kit.topic("adm")
    got = conn.execute("SELECT kafka_create_topic(?, ?, 4, 1, ?)",
                       (B, name, '{"cleanup.policy": "compact", "retention.ms": 3600000}')).fetchone()
    assert got == (name,)
    t = kcat_topic(name)
    assert t and len(t["partitions"]) == 4 and all(len(p["replicas"]) == 1 for p in t["partitions"])
    assert topic_config(name, "cleanup.policy") == "compact"
    assert topic_config(name, "retention.ms") == "3600000"
    assert conn.execute("SELECT kafka_delete_topic(?, ?, 'timeout_ms=20000')", (B, name)).fetchone() == (name,)
    assert kcat_topic(name) is None
    # Deleted means gone: the same name can be created again at once.
    conn.execute("SELECT kafka_create_topic(?, ?, 1)", (B, name))
    assert len(kcat_topic(name)["partitions"]) == 1
    conn.execute("SELECT kafka_delete_topic(?, ?)", (B, name))


def test_cluster_errors_are_clear():
    kit.need_broker()
    conn = kit.connect()
    name = kit.create_topic(kit.topic("adm-exists"))
    missing = kit.topic("adm-missing")
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic(?, ?, 1)", (B, name)),
                     f"kafka: topic '{name}' already exists")
    kit.expect_error(lambda: conn.execute("SELECT kafka_delete_topic(?, ?)", (B, missing)),
                     f"kafka: cannot delete topic '{missing}': it does not exist on brokers '{B}'")
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic(?, ?, 1, 5)", (B, missing)),
                     f"kafka: cannot create topic '{missing}': INVALID_REPLICATION_FACTOR: ")
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic(?, ?, 1, 1, '{\"no.such.config\": 1}')",
                                          (B, missing)),
                     "INVALID_CONFIG: Unknown topic config name: no.such.config")
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic(?, ?, 1, 1, '{\"retention.ms\": \"soon\"}')",
                                          (B, missing)),
                     "INVALID_CONFIG: Invalid value soon for configuration retention.ms")
    for config in ("{bad", "[1]", "3"):
        kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic(?, ?, 1, 1, ?)", (B, missing, config)),
                         f"kafka: topic config must be a JSON object of strings, not '{config}'")
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic(?, ?, 1, 1, '{\"a\": [1]}')", (B, missing)),
                     "kafka: topic config 'a' must be a string, number or boolean")
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic(?, 'bad name!', 1)", (B,)),
                     "kafka: cannot create topic 'bad name!': Topic name is invalid")
    assert kcat_topic(missing) is None
    # The same code serves CREATE VIRTUAL TABLE's partitions/replication.
    kit.expect_error(lambda: conn.execute(
        f"CREATE VIRTUAL TABLE t USING kafka(brokers='{B}', topic='{missing}', partitions=2, replication=5)"),
        f"kafka: cannot create topic '{missing}': INVALID_REPLICATION_FACTOR: ")
    conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers='{B}', topic='{missing}', partitions=3)")
    assert len(kcat_topic(missing)["partitions"]) == 3
    # An existing topic is used as it is.
    conn.execute(f"CREATE VIRTUAL TABLE t2 USING kafka(brokers='{B}', topic='{name}', partitions=3)")
    assert len(kcat_topic(name)["partitions"]) == 1
    kit.delete_topic(name)
    kit.delete_topic(missing)


def test_bad_arguments_of_every_kind():
    conn = kit.connect()
    cases = [
        ("kafka_create_topic(NULL, 't', 1)", "kafka_create_topic: brokers must be a non-empty text"),
        ("kafka_create_topic('', 't', 1)", "kafka_create_topic: brokers must be a non-empty text"),
        ("kafka_create_topic(1, 't', 1)", "kafka_create_topic: brokers must be a non-empty text"),
        ("kafka_create_topic('mock', NULL, 1)", "kafka_create_topic: topic must be a non-empty text"),
        ("kafka_create_topic('mock', x'00', 1)", "kafka_create_topic: topic must be a non-empty text"),
        ("kafka_create_topic('mock', 't', NULL)",
         "kafka_create_topic: partitions must be an integer from 1 to 1000000"),
        ("kafka_create_topic('mock', 't', 0)",
         "kafka_create_topic: partitions must be an integer from 1 to 1000000"),
        ("kafka_create_topic('mock', 't', '3')",
         "kafka_create_topic: partitions must be an integer from 1 to 1000000"),
        ("kafka_create_topic('mock', 't', 1.5)",
         "kafka_create_topic: partitions must be an integer from 1 to 1000000"),
        ("kafka_create_topic('mock', 't', 1, 0)",
         "kafka_create_topic: replication must be an integer from 1 to 32767 or NULL"),
        ("kafka_create_topic('mock', 't', 1, 'all')",
         "kafka_create_topic: replication must be an integer from 1 to 32767 or NULL"),
        ("kafka_create_topic('mock', 't', 1, NULL, 42)", "kafka_create_topic: config_json must be a text or NULL"),
        ("kafka_create_topic('mock', 't', 1, NULL, NULL, 5)", "kafka_create_topic: options must be a text or NULL"),
        ("kafka_create_topic('mock', 't', 1, NULL, NULL, 'topic=x')",
         "kafka_create_topic: option 'topic' is not accepted here"),
        ("kafka_delete_topic(NULL, 't')", "kafka_delete_topic: brokers must be a non-empty text"),
        ("kafka_delete_topic('mock', NULL)", "kafka_delete_topic: topic must be a non-empty text"),
        ("kafka_delete_topic('mock', 't', 'timeout_ms=x')", "kafka: option timeout_ms must be an integer"),
        ("kafka_create_topic('mock:0', 't', 1)", "option brokers: 'mock:0' must be mock or mock:N"),
    ]
    for call, message in cases:
        kit.expect_error(lambda: conn.execute("SELECT " + call).fetchall(), message)
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic('mock', 't')"),
                     "wrong number of arguments to function kafka_create_topic()")
    kit.expect_error(lambda: conn.execute("SELECT kafka_delete_topic('mock')"),
                     "wrong number of arguments to function kafka_delete_topic()")


def test_mock_cluster_admin():
    conn = kit.connect()
    name = kit.topic("adm-mock")
    assert conn.execute("SELECT kafka_create_topic('mock', ?, 3)", (name,)).fetchone() == (name,)
    assert conn.execute("SELECT partitions FROM kafka_topics('mock') WHERE topic = ?", (name,)).fetchone() == (3,)
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic('mock', ?, 3)", (name,)),
                     f"kafka: topic '{name}' already exists")
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic('mock', ?, 1, 1, '{}')", (kit.topic("x"),)),
                     "kafka: the mock cluster does not support topic configs")
    kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic('mock', 'r3', 1, 3)"),
                     "kafka: cannot create topic 'r3': INVALID_REPLICATION_FACTOR: replication 3 "
                     "but the mock cluster 'mock' has 1 broker(s)")
    r3 = kit.topic("adm-r3")
    conn.execute("SELECT kafka_create_topic('mock:3', ?, 2, 3)", (r3,))
    assert [r[0] for r in conn.execute("SELECT replicas FROM kafka_partitions('mock:3', ?)", (r3,))] == [
        "[1,2,3]", "[1,2,3]"]
    kit.expect_error(lambda: conn.execute("SELECT kafka_delete_topic('mock', ?)", (name,)),
                     "kafka: the mock cluster cannot delete topics")


def test_admin_functions_are_direct_only():
    conn = kit.connect()
    conn.execute("CREATE VIEW v AS SELECT kafka_delete_topic('mock', 'x')")
    kit.expect_error(lambda: conn.execute("SELECT * FROM v").fetchall(),
                     "unsafe use of kafka_delete_topic()")
