"""Test kit of sqlite-kafka: what a test module imports (stdlib only, plus
kafka-python from build/venv for topic admin).

Tests are module-level functions named ``test_*`` in ``tests/test_*.py``,
run in file order by ``build/venv/bin/python tests/run.py [-k SUBSTR] [FILES]``.
A test passes by returning, fails by raising, and is skipped by raising
``kit.Skip``.

Extension
    kit.EXT               path of the built extension without suffix
                          (``build/kafka``; SQLite loads ``build/kafka.so``)
    kit.connect(path=':memory:')
                          a sqlite3.Connection, autocommit
                          (isolation_level=None), extension loaded
    kit.expect_error(fn, substring)
                          call fn(); assert it raises sqlite3.Error whose text
                          contains substring; returns the exception. Errors
                          are asserted by their text.
    kit.eqp(conn, sql, params=())
                          EXPLAIN QUERY PLAN detail lines, joined by newlines

Broker (a real Apache Kafka from tests/broker/kafka.sh; ``make test`` starts it)
    kit.BROKER            '127.0.0.1:$KAFKA_PORT' (default 127.0.0.1:29092)
    kit.need_broker()     raise kit.Skip when no broker answers; when env CI
                          is set or KAFKA_REQUIRED=1, fail instead: real-broker
                          tests are never skipped in CI
    kit.topic(prefix='t') a new unique topic name per call
                          (prefix-PID-COUNTER-RANDOM)
    kit.kcat(*args, input=None, timeout=60, broker=None)
                          run ``kcat -b BROKER ARGS``; stdout as bytes; raises
                          kit.CommandError (with stderr) on non-zero exit
    kit.create_topic(name, partitions=1, replication=1, config=None)
                          create a topic (kafka-python admin client) and wait
                          until every partition has a leader; returns name
    kit.delete_topic(name, missing_ok=True)
    kit.kafka_sh(*args, timeout=300)
                          run tests/broker/kafka.sh ARGS (e.g. 'run-class',
                          'down-node', '2'); stdout as text
    kit.broker_log()      path of the broker's log file; the runner prints its
                          last 40 lines when a test that used the broker fails

Schema Registry (Apicurio from tests/registry/apicurio.sh; ``make test`` starts it)
    kit.REGISTRY          its Confluent API base URL, port $REGISTRY_PORT
                          (default 8081): http://127.0.0.1:PORT/apis/ccompat/v7
    kit.need_registry()   like need_broker(), for the registry
    kit.register_schema(subject, schema, schema_type='AVRO', references=None)
                          register a schema text (or a dict, as JSON); its id

Misc
    kit.Skip              raise kit.Skip('reason') to skip a test
    kit.timeout(seconds)  decorator: this test's time limit (default
                          $TEST_TIMEOUT or 300 s)
    kit.ROOT              repository root (the runner runs tests from there)
    kit.http_server(handler, tls=None)
                          context manager: a local HTTP server of handler (a
                          BaseHTTPRequestHandler class) on a free port, in
                          threads of its own; yields its URL
"""

import contextlib
import http.server
import itertools
import json
import os
import random
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXT = str(ROOT / "build" / "kafka")
PROTO_DIR = ROOT / "tests" / "protobuf"  # the Protobuf schemas of the tests and the bench
PORT = int(os.environ.get("KAFKA_PORT", "29092"))
BROKER = f"127.0.0.1:{PORT}"
KAFKA_SH = ROOT / "tests" / "broker" / "kafka.sh"
REGISTRY_PORT = int(os.environ.get("REGISTRY_PORT", "8081"))
REGISTRY = f"http://127.0.0.1:{REGISTRY_PORT}/apis/ccompat/v7"


class Skip(Exception):
    """Raised by a test (or kit.need_broker) to skip it."""


class CommandError(AssertionError):
    """A helper command (kcat, kafka.sh) exited non-zero."""


# Per-test state the runner reads: did this test talk to the broker?
state = {"broker_used": False}
_broker_down = False  # cached: no broker answered once, none will later
_counter = itertools.count(1)
_names_made = []  # the names topic() returned during the current test
_admin = None


def _patient_kafka_python():
    """kafka-python probes the broker's version within 2 s by default: on this
    2-core machine under a full test run that can fail (NoBrokersAvailable).
    Every kafka-python client of the tests gets 30 s for it instead."""
    try:
        import kafka
    except ImportError:  # outside build/venv
        return
    for cls in (kafka.KafkaConsumer, kafka.KafkaProducer, kafka.KafkaAdminClient):
        cls.DEFAULT_CONFIG["api_version_auto_timeout_ms"] = 30000


_patient_kafka_python()


def _confluent_kafka_first():
    """confluent-kafka's C module brings its own librdkafka (2.16); the
    extension brings Debian's (2.0.2), which SQLite loads with RTLD_GLOBAL.
    A confluent-kafka imported after that binds to Debian's and refuses to
    start, so every test module after the first extension load would fail:
    imported first, it is bound to its own."""
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:  # outside build/venv
        pass


_confluent_kafka_first()


def timeout(seconds):
    """Decorator giving one test its own time limit in seconds."""
    def set_timeout(fn):
        fn.timeout = seconds
        return fn
    return set_timeout


# ------------------------------------------------------------ extension --

@contextlib.contextmanager
def http_server(handler, tls=None):
    """Serves handler on 127.0.0.1 (https with tls, an ssl.SSLContext); its
    requests run in daemon threads, so that one left hanging never holds up
    the stop."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def connect(path=":memory:"):
    """An autocommit connection with the extension loaded."""
    if not Path(EXT + ".so").exists():
        raise AssertionError(f"{EXT}.so is missing: run make first")
    conn = sqlite3.connect(path, isolation_level=None)
    if not hasattr(conn, "enable_load_extension"):
        raise AssertionError(
            "this Python's sqlite3 cannot load extensions: "
            "run the tests with build/venv/bin/python (tests/deps.sh)")
    conn.enable_load_extension(True)
    conn.load_extension(EXT)
    return conn


def expect_error(fn, substring):
    """Assert that fn() raises sqlite3.Error containing substring."""
    try:
        fn()
    except sqlite3.Error as e:
        if substring not in str(e):
            raise AssertionError(
                f"error {str(e)!r} does not contain {substring!r}") from e
        return e
    raise AssertionError(f"no error raised (expected one with {substring!r})")


def eqp(conn, sql, params=()):
    """The EXPLAIN QUERY PLAN detail text of sql, one line per row."""
    rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return "\n".join(str(r[-1]) for r in rows)


# --------------------------------------------------------------- broker --

def _run(argv, input=None, timeout=60):
    if isinstance(input, str):
        input = input.encode()
    try:
        p = subprocess.run(argv, input=input, capture_output=True,
                           timeout=timeout,
                           stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise CommandError(f"{argv[0]} timed out after {timeout} s: "
                           f"{' '.join(map(str, argv))}") from e
    if p.returncode != 0:
        raise CommandError(
            f"{' '.join(map(str, argv))} exited {p.returncode}: "
            f"{p.stderr.decode(errors='replace').strip()}")
    return p.stdout


def _broker_answers(broker):
    try:
        p = subprocess.run(["kcat", "-b", broker, "-L", "-t", "__nonexistent",
                            "-m", "3"], capture_output=True, timeout=15,
                           stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


def need_broker():
    """Skip the test unless a broker answers at BROKER (fail in CI)."""
    global _broker_down
    state["broker_used"] = True
    if not _broker_down and _broker_answers(BROKER):
        return
    _broker_down = True
    msg = (f"no Kafka broker answers at {BROKER} "
           "(start one: tests/broker/kafka.sh up)")
    if os.environ.get("CI") or os.environ.get("KAFKA_REQUIRED") == "1":
        raise AssertionError(msg + "; CI/KAFKA_REQUIRED: not skipping")
    raise Skip(msg)


def _registry_request(path, body=None, timeout=10):
    import urllib.request
    req = urllib.request.Request(
        REGISTRY + path, data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def need_registry():
    """Skip the test unless the Schema Registry answers (fail in CI)."""
    try:
        _registry_request("/subjects", timeout=5)
        return
    except OSError:
        pass
    msg = (f"no Schema Registry answers at {REGISTRY} "
           "(start one: tests/registry/apicurio.sh up)")
    if os.environ.get("CI") or os.environ.get("KAFKA_REQUIRED") == "1":
        raise AssertionError(msg + "; CI/KAFKA_REQUIRED: not skipping")
    raise Skip(msg)


def register_schema(subject, schema, schema_type="AVRO", references=None):
    """Register a schema (text, or a dict sent as JSON) under subject; its id.
    references: [{"name", "subject", "version"}] of the schemas it imports."""
    body = {"schema": schema if isinstance(schema, str) else json.dumps(schema)}
    if schema_type != "AVRO":
        body["schemaType"] = schema_type
    if references:
        body["references"] = references
    return _registry_request(f"/subjects/{subject}/versions", body)["id"]


def topic(prefix="t"):
    """A topic name no other call (in any process) returns. The topic it
    names is deleted after the test, whatever its outcome (run.py calls
    remove_topics_made())."""
    name = f"{prefix}-{os.getpid()}-{next(_counter)}-{random.randrange(16**6):06x}"
    _names_made.append(name)
    return name


def remove_topics_made():
    """Deletes, on the broker at BROKER, the topics named by this test's
    calls of topic(), and forgets the names; returns those deleted. The
    runner's fixture after every test that used the broker, so that a
    failing test leaves no topic behind either. A failure to delete is
    printed, not raised: it must not turn the test's own outcome."""
    names = list(_names_made)
    _names_made.clear()
    if not names or not state["broker_used"] or _broker_down:
        return []
    try:
        existing = set(_with_admin(lambda admin: admin.list_topics()))
        doomed = [n for n in names if n in existing]
        if doomed:
            _with_admin(lambda admin: admin.delete_topics(doomed, timeout_ms=30000))
        return doomed
    except Exception as e:  # noqa: BLE001 - reported, never the test's failure
        print(f"cleanup: the test's topics were not all deleted: {type(e).__name__}: {e}")
        return []


def kcat(*args, input=None, timeout=60, broker=None):
    """Run kcat against the broker; return its stdout bytes."""
    state["broker_used"] = True
    return _run(["kcat", "-b", broker or BROKER, *map(str, args)],
                input=input, timeout=timeout)


def kafka_sh(*args, timeout=300):
    """Run tests/broker/kafka.sh with args; return its stdout as text."""
    return _run(["bash", str(KAFKA_SH), *map(str, args)],
                timeout=timeout).decode()


def _admin_client():
    global _admin
    if _admin is None:
        from kafka.admin import KafkaAdminClient  # only in build/venv
        _admin = KafkaAdminClient(bootstrap_servers=BROKER,
                                  client_id="sqlite-kafka-tests",
                                  request_timeout_ms=30000)
    return _admin


def _with_admin(request):
    """request(admin client); once more with a new client when the cached
    one lost its broker (a test restarted it): kafka-python does not recover."""
    global _admin
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError, NoBrokersAvailable
    try:
        return request(_admin_client())
    except (KafkaConnectionError, KafkaTimeoutError, NoBrokersAvailable):
        try:
            _admin.close()
        finally:
            _admin = None
        return request(_admin_client())


def _wait_for_leaders(name, partitions, timeout=30):
    """Until metadata shows every partition of name with a leader."""
    deadline = time.monotonic() + timeout
    while True:
        meta = json.loads(kcat("-L", "-J", "-t", name, "-m", "5"))
        parts = [p for t in meta.get("topics", []) if t.get("topic") == name
                 for p in t.get("partitions", []) if p.get("leader", -1) >= 0]
        if len(parts) >= partitions:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"topic {name}: no leaders after {timeout} s: {meta}")
        time.sleep(0.1)


def create_topic(name, partitions=1, replication=1, config=None):
    """Create topic name on the broker and wait until it is usable."""
    from kafka.admin import NewTopic
    state["broker_used"] = True
    configs = {k: str(v) for k, v in (config or {}).items()}
    _with_admin(lambda admin: admin.create_topics(
        [NewTopic(name, num_partitions=partitions,
                  replication_factor=replication, topic_configs=configs)],
        timeout_ms=30000))
    _wait_for_leaders(name, partitions)
    return name


def delete_topic(name, missing_ok=True):
    """Delete topic name; a topic that does not exist is fine by default."""
    from kafka.errors import UnknownTopicOrPartitionError
    state["broker_used"] = True
    try:
        _with_admin(lambda admin: admin.delete_topics([name], timeout_ms=30000))
    except UnknownTopicOrPartitionError:
        if not missing_ok:
            raise


def broker_log():
    """Path of the broker's log file (node 1), as kafka.sh reports it."""
    try:
        return kafka_sh("log", timeout=10).strip()
    except (CommandError, OSError):
        return str(ROOT / "build" / f"kafka-{PORT}" / "node1" / "kafka.log")
