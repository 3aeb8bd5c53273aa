"""What a newcomer hits first (issue 24): a positional argument names
itself and shows the named form, an unknown group is an error as in Kafka's
tools, Python's default isolation with a group table says isolation_level=None,
and an INSERT produces whether or not Python commits."""

import sqlite3
import time

import kit

NAMED_FORM = "options are named, as in kafka(brokers = 'localhost:29092', topic = 'orders')"


def test_a_positional_argument_is_named_by_its_position_with_the_named_form():
    conn = kit.connect()
    cases = [
        ("'localhost:29092', 'orders'",
         f"kafka: argument 1 of kafka(...) is a quoted value, not of the form name = 'value' ({NAMED_FORM})"),
        ("localhost, orders",
         f"kafka: argument 'localhost' is not of the form name = 'value' (argument 1 of kafka(...); "
         f"{NAMED_FORM})"),
        ("brokers = 'mock', orders",
         f"kafka: argument 'orders' is not of the form name = 'value' (argument 2 of kafka(...); "
         f"{NAMED_FORM})"),
        # A quoted value may be a secret: never shown.
        ("brokers = 'mock', topic = 't', 'hunter2-secret'",
         "kafka: argument 3 of kafka(...) is a quoted value"),
    ]
    for args, error in cases:
        e = kit.expect_error(lambda: conn.execute(f"CREATE VIRTUAL TABLE t USING kafka({args})"), error)
        assert "hunter2" not in str(e), e


def test_an_unknown_group_is_an_error_as_in_kafkas_tools():
    kit.need_broker()
    from kafka import KafkaConsumer
    conn = kit.connect()
    unknown = kit.topic("no-such-group")
    kit.expect_error(
        lambda: conn.execute("SELECT * FROM kafka_group_offsets(?, ?)", (kit.BROKER, unknown)).fetchall(),
        f"kafka_group_offsets: group '{unknown}' does not exist on brokers '{kit.BROKER}'")
    # A group that exists (a member joined) but committed nothing has no rows.
    topic = kit.create_topic(kit.topic("newcomer"))
    group = kit.topic("newcomer-g")
    consumer = KafkaConsumer(topic, bootstrap_servers=kit.BROKER, group_id=group,
                             enable_auto_commit=False)
    try:
        deadline = time.monotonic() + 60
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(timeout_ms=500)
        assert consumer.assignment(), "the consumer never joined its group"
        rows = conn.execute("SELECT * FROM kafka_group_offsets(?, ?)", (kit.BROKER, group)).fetchall()
        assert rows == [], rows
    finally:
        consumer.close()
        kit.delete_topic(topic)


def python_default_connection():
    """A connection as Python opens one by default (isolation_level ''):
    it sends BEGIN before an INSERT."""
    conn = sqlite3.connect(":memory:")
    conn.enable_load_extension(True)
    conn.load_extension(kit.EXT)
    return conn


def test_pythons_default_isolation_with_a_group_table_says_isolation_level_none():
    conn = python_default_connection()
    conn.execute("CREATE VIRTUAL TABLE t USING kafka(brokers = 'mock', topic = 'iso', partitions = 1)")
    conn.execute("CREATE VIRTUAL TABLE g USING kafka(brokers = 'mock', topic = 'iso', group = 'iso-g')")
    conn.execute("CREATE TABLE archive(value)")
    e = kit.expect_error(lambda: conn.execute("INSERT INTO archive SELECT value FROM g"),
                         "kafka: group 'iso-g' (topic 'iso') cannot be read inside an explicit "
                         "transaction (BEGIN ... COMMIT)")
    assert "isolation_level=None" in str(e) and len(str(e)) < 330, (len(str(e)), e)
    conn.close()


def test_an_insert_python_never_committed_was_produced():
    """A table without transactional_id produces when the INSERT runs: the
    connection's rollback (no commit(), then close()) cannot take it back."""
    conn = python_default_connection()
    conn.execute("CREATE VIRTUAL TABLE t USING kafka(brokers = 'mock', topic = 'nocommit', partitions = 1)")
    conn.execute("INSERT INTO t(key, value) VALUES ('k', 'sent')")
    assert conn.in_transaction, "Python opened a transaction before the INSERT"
    conn.close()  # without commit(): the transaction rolls back
    reader = kit.connect()
    reader.execute("CREATE VIRTUAL TABLE t USING kafka(brokers = 'mock', topic = 'nocommit')")
    assert reader.execute("SELECT key, value FROM t").fetchall() == [("k", "sent")]
