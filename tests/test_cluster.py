"""Multi-broker faults (issue 7): partition leaders moving and brokers going
down while the extension produces and scans; every row exactly once.

- A 3-broker librdkafka mock cluster driven by tests/mock_cluster.c, a C
  program that owns the cluster (no hook of it reaches SQL), loads the
  extension and names the mock's bootstrap list like any real cluster.
- A 3-node Apache Kafka (KRaft) cluster started here on ports of its own
  (KAFKA_PORT + 20..22, controllers + 120..122: clear of the suite's broker
  on KAFKA_PORT, +50, +100 and test_kafka4's +7, +107), a topic with
  replication factor 3 and min.insync.replicas=2, one node stopped in the
  middle of a produce and another in the middle of a scan.
"""

import json
import os
import subprocess
import threading
import time

import kit

PORT = kit.PORT + 20
BROKERS = ",".join(f"127.0.0.1:{PORT + i}" for i in range(3))
PROGRAM = kit.ROOT / "build" / "mock_cluster"


def build_program():
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "sqlite3", "rdkafka"],
                           capture_output=True, text=True, check=True).stdout.split()
    done = subprocess.run(["cc", "-O1", "-g", "-std=c11", "-Wall", "-Wextra", "-Werror", "-o", str(PROGRAM),
                           str(kit.ROOT / "tests" / "mock_cluster.c"), *flags, "-lpthread"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@kit.timeout(180)
def test_mock_cluster_leaders_moved_and_a_broker_down_mid_produce_and_mid_scan():
    build_program()
    done = subprocess.run([str(PROGRAM), str(kit.EXT)], capture_output=True, text=True, timeout=170)
    print("    " + done.stdout.strip().replace("\n", "\n    "))
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr[-2000:])
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["insert", "scan"], lines
    assert all(line.endswith(": exact") and "20000 rows, 20000 distinct" in line for line in lines), lines
    # The chaos really happened while each phase ran.
    assert all(" 0 leader moves" not in line and " 0 broker downs" not in line for line in lines), lines


def cluster(*args, timeout=240):
    env = dict(os.environ, KAFKA_PORT=str(PORT), KAFKA_NODES="3", KAFKA_SASL="0")
    done = subprocess.run(["bash", str(kit.KAFKA_SH), *map(str, args)], env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert done.returncode == 0, f"kafka.sh {' '.join(map(str, args))} (3 nodes) failed:\n{done.stdout.decode()}"


def wait_known_to_every_node(topic, partitions, timeout=30):
    """A new topic reaches each node's metadata in its own time; a client
    asking a node that has not heard of it yet is told it does not exist."""
    deadline = time.monotonic() + timeout
    for node in BROKERS.split(","):
        while True:
            meta = json.loads(kit.kcat("-L", "-J", "-t", topic, "-m", "5", broker=node))
            leaders = [p for t in meta.get("topics", []) if t.get("topic") == topic and not t.get("error")
                       for p in t.get("partitions", []) if p.get("leader", -1) >= 0]
            if len(leaders) == partitions:
                break
            assert time.monotonic() < deadline, f"{node} does not know topic {topic}: {meta}"
            time.sleep(0.2)


def keys_by_kcat(topic):
    out = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%k\n", broker=BROKERS, timeout=300)
    return out.decode().split()


def while_node_stops(node, work):
    """Runs work(stopping) while `down-node node` runs in another thread:
    work goes on at least until the node is down (stopping() turns false)."""
    stopper = threading.Thread(target=cluster, args=("down-node", node))
    stopper.start()
    try:
        return work(stopper.is_alive)
    finally:
        stopper.join()


@kit.timeout(420)
def test_three_node_cluster_node_stopped_mid_produce_and_mid_scan():
    kit.need_broker()
    t0 = time.monotonic()
    cluster("up")
    try:
        conn = kit.connect()
        topic = kit.topic("cluster3")
        conn.execute("SELECT kafka_create_topic(?, ?, 3, 3, '{\"min.insync.replicas\": 2}')", (BROKERS, topic))
        wait_known_to_every_node(topic, 3)
        conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers='{BROKERS}', topic='{topic}', timeout_ms=30000)")
        batch = 2000

        # Produce (acks=all, idempotent) in statements of 2000 rows while
        # node 2 stops: every statement succeeds, every row lands once.
        def produce(stopping):
            n = 0
            while n < 4 * batch or (stopping() and n < 60 * batch):
                conn.execute("INSERT INTO t(key, value) WITH RECURSIVE c(i) AS (SELECT ? UNION ALL "
                             "SELECT i + 1 FROM c WHERE i < ?) SELECT 'k' || i, 'v' || i FROM c",
                             (n, n + batch - 1))
                n += batch
                time.sleep(0.1)
            return n

        n = while_node_stops(2, produce)
        keys = keys_by_kcat(topic)
        assert len(keys) == n and len(set(keys)) == n, (n, len(keys), len(set(keys)))
        cluster("up-node", 2)

        # Scan, reading slowly, while node 3 stops: every row once, exact.
        def scan(stopping):
            cur = conn.execute("SELECT partition, offset, key FROM t")
            rows = []
            while batch_rows := cur.fetchmany(1000):
                rows += batch_rows
                if stopping():
                    time.sleep(0.05)
            return rows

        rows = while_node_stops(3, scan)
        assert len(rows) == n and len({k for _, _, k in rows}) == n, (n, len(rows))
        assert sorted(k for _, _, k in rows) == sorted(keys)
        ends = conn.execute("SELECT partition, count(*), min(offset), max(offset) FROM t GROUP BY partition").fetchall()
        assert all(lo == 0 and hi == count - 1 for _, count, lo, hi in ends), ends
        print(f"    {n} rows produced and scanned exactly, a node stopped in each; {time.monotonic() - t0:.1f} s "
              "with cluster start")
    finally:
        cluster("down", "--clean")
