"""Fail fast, stop on request (SPEC section 11): when every bootstrap broker
refuses the connection or does not resolve, CREATE, the catalog and the
operations functions fail within about a second naming the brokers and the
reason, not after timeout_ms; a broker that accepts and never answers is
still waited for up to timeout_ms; and sqlite3_interrupt() (Python's
Connection.interrupt) ends those waits, registry requests' and an INSERT's
wait for its deliveries too. Time bounds are generous (a shared 2-core
machine): a tenth or less of the timeout_ms the calls are given.

test_interrupt_ends_an_inserts_wait_for_its_deliveries stops the test
broker (KAFKA_PORT) for about a second with SIGSTOP, and continues it."""

import contextlib
import os
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path

import kit

LONG_MS = 60000   # what the calls are given
FAST_S = 6        # what they may take when they should not wait at all


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def silent_broker():
    """A listener that accepts connections (the kernel does) and never
    answers: a broker that is up but does not respond."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    try:
        yield f"127.0.0.1:{s.getsockname()[1]}"
    finally:
        s.close()


def calls(brokers, timeout_ms):
    topic = kit.topic("ff")
    return [
        f"CREATE VIRTUAL TABLE temp.z USING kafka(brokers='{brokers}', topic='{topic}', timeout_ms={timeout_ms})",
        f"CREATE VIRTUAL TABLE temp.z USING kafka(brokers='{brokers}', topic='{topic}', partitions=1, "
        f"timeout_ms={timeout_ms})",
        f"SELECT kafka_create_topic('{brokers}', '{topic}', 1, NULL, NULL, 'timeout_ms={timeout_ms}')",
        f"SELECT kafka_delete_topic('{brokers}', '{topic}', 'timeout_ms={timeout_ms}')",
        f"SELECT kafka_add_partitions('{brokers}', '{topic}', 2, 'timeout_ms={timeout_ms}')",
        f"SELECT * FROM kafka_topics('{brokers}', 'timeout_ms={timeout_ms}')",
        f"SELECT * FROM kafka_groups('{brokers}', 'timeout_ms={timeout_ms}')",
        f"SELECT * FROM kafka_group_offsets('{brokers}', 'g', 'timeout_ms={timeout_ms}')",
    ]


def timed_error(conn, sql):
    t0 = time.monotonic()
    try:
        conn.execute(sql).fetchall()
    except Exception as e:  # noqa: BLE001 - the error is what is checked
        return str(e), time.monotonic() - t0
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.z")
    raise AssertionError(f"no error: {sql}")


def test_unreachable_brokers_fail_within_about_a_second_naming_them_and_why():
    conn = kit.connect()
    port = closed_port()
    for brokers, why in [(f"127.0.0.1:{port}", "Connection refused"),
                         ("no-such-host.invalid:9092", "Failed to resolve"),
                         (f"127.0.0.1:{port},no-such-host.invalid:9092", "")]:
        for sql in calls(brokers, LONG_MS):
            error, elapsed = timed_error(conn, sql)
            assert f"cannot connect to brokers '{brokers}'" in error and why in error, (sql, error)
            assert elapsed < FAST_S, (sql, elapsed, error)


def test_an_insert_and_a_scan_whose_brokers_are_unreachable_fail_fast():
    dead = f"127.0.0.1:{closed_port()}"
    with tempfile.TemporaryDirectory() as tmp:
        # A table whose cluster went away: declared on the mock, then
        # pointed at a closed port (opening a file does not talk to brokers).
        db = kit.connect(f"{tmp}/gone.db")
        db.execute(f"CREATE VIRTUAL TABLE m USING kafka(brokers='mock', topic='{kit.topic('ffi')}', partitions=1)")
        db.execute("PRAGMA writable_schema = ON")
        db.execute("UPDATE sqlite_schema SET sql = replace(sql, 'brokers=''mock''', "
                   f"'brokers=''{dead}'', timeout_ms={LONG_MS}') WHERE name = 'm'")
        db.close()
        conn = kit.connect(f"{tmp}/gone.db")
        for sql in ("INSERT INTO m(value) VALUES ('x')", "SELECT * FROM m"):
            error, elapsed = timed_error(conn, sql)
            assert f"cannot connect to brokers '{dead}'" in error and "Connection refused" in error, (sql, error)
            assert elapsed < FAST_S, (sql, elapsed, error)
        conn.close()


def test_a_broker_that_accepts_and_never_answers_is_waited_for_timeout_ms():
    conn = kit.connect()
    with silent_broker() as brokers:
        for sql in calls(brokers, 1500)[:3] + calls(brokers, 1500)[5:6]:
            error, elapsed = timed_error(conn, sql)
            assert f"no answer from brokers '{brokers}' within timeout_ms=1500" in error, (sql, error)
            assert 1.0 < elapsed < 1.5 + FAST_S, (sql, elapsed)


def interrupted_error(conn, sql, after):
    """The error of sql, interrupted `after` seconds in, and its time."""
    timer = threading.Timer(after, conn.interrupt)
    timer.start()
    try:
        return timed_error(conn, sql)
    finally:
        timer.join()


def assert_interrupted(conn, statements):
    for sql in statements:
        error, elapsed = interrupted_error(conn, sql, 0.5)
        assert "interrupt" in error, (sql, error)
        assert elapsed < 0.5 + FAST_S, (sql, elapsed)


def test_interrupt_ends_create_catalog_and_operations_waits():
    conn = kit.connect()
    with silent_broker() as brokers:
        assert_interrupted(conn, calls(brokers, LONG_MS))


def test_interrupt_ends_registry_requests():
    conn = kit.connect()
    with silent_broker() as host:
        url = f"http://{host}"
        assert_interrupted(conn, [
            f"SELECT * FROM kafka_subjects('{url}')",
            f"""SELECT kafka_register_schema('{url}', 's-value', '"string"')""",
            f"CREATE VIRTUAL TABLE temp.z USING kafka(brokers='mock', topic='{kit.topic('ffr')}', "
            f"partitions=1, value='avro', schema_registry='{url}', timeout_ms={LONG_MS})"])


def broker_pid():
    """The pid of node 1 of the test broker (kafka.sh's own pid file)."""
    node = kit.ROOT / "build" / f"kafka-{kit.PORT}" / "node1"
    pid = int((node / "kafka.pid").read_text())
    assert str(node / "server.properties").encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    return pid


@kit.timeout(120)
def test_interrupt_ends_an_inserts_wait_for_its_deliveries():
    """The test broker stopped (SIGSTOP: connections stay open, nothing is
    answered) after the producer is up: the INSERT waits for its
    deliveries until timeout_ms, or an interrupt."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("ffd"))
    conn = kit.connect()
    conn.execute(f"CREATE VIRTUAL TABLE d USING kafka(brokers='{kit.BROKER}', topic='{topic}', "
                 f"timeout_ms={LONG_MS})")
    conn.execute("INSERT INTO d(value) VALUES ('delivered')")
    pid = broker_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        error, elapsed = interrupted_error(conn, "INSERT INTO d(value) VALUES ('never acknowledged')", 1.0)
    finally:
        os.kill(pid, signal.SIGCONT)
    try:
        assert "interrupted: 1 of 1 messages were not delivered" in error, error
        assert elapsed < 1.0 + FAST_S, elapsed
    finally:
        kit.delete_topic(topic)
