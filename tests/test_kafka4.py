"""Kafka 4.x: the extension end to end against a real Apache Kafka 4.1 broker
(4.0 dropped protocol versions librdkafka 2.0.2 still uses; 4.1 works), started
here on a port of its own beside the suite's 3.9 broker, and checked with kcat."""

import os
import subprocess

import kit

VERSION = os.environ.get("KAFKA4_VERSION", "4.1.1")
PORT = kit.PORT + 7
BROKER = f"127.0.0.1:{PORT}"


def kafka4(*args):
    env = dict(os.environ, KAFKA_VERSION=VERSION, KAFKA_PORT=str(PORT), KAFKA_NODES="1", KAFKA_SASL="0")
    done = subprocess.run(["bash", str(kit.KAFKA_SH), *args], env=env, timeout=300,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert done.returncode == 0, f"kafka.sh {' '.join(args)} ({VERSION}) failed:\n{done.stdout.decode()}"


def kcat_rows(topic):
    out = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%p %o %k %s %h\n", broker=BROKER)
    return sorted(tuple(line.split(" ")) for line in out.decode().splitlines())


@kit.timeout(240)
def test_kafka_4_end_to_end():
    kit.need_broker()
    kafka4("up")
    try:
        conn = kit.connect()
        topic = kit.topic("k4")
        conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers='{BROKER}', topic='{topic}', partitions=3)")
        conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
                     "INSERT INTO t(key, value, headers) SELECT 'k' || i, 'v' || i, "
                     "json_object('n', printf('%d', i)) FROM n")
        assert conn.execute("SELECT count(*), count(DISTINCT partition) FROM t").fetchone() == (1000, 3)
        ours = conn.execute("SELECT partition, offset, key, value, headers FROM t").fetchall()
        assert kcat_rows(topic) == sorted(
            (str(p), str(o), k, v, "n=" + v[1:]) for p, o, k, v, h in ours)
        p1 = conn.execute("SELECT max(offset) FROM t WHERE partition = 1").fetchone()[0]
        assert conn.execute("SELECT offset FROM t WHERE partition = 1 AND offset >= ?",
                            (p1 - 1,)).fetchall() == [(p1 - 1,), (p1,)]
        newest = conn.execute("SELECT partition, offset FROM t ORDER BY offset DESC LIMIT 3").fetchall()
        assert newest == sorted(((p, o) for p, o, *_ in ours), key=lambda r: (-r[1], r[0]))[:3]
        since = sorted(r[0] for r in conn.execute("SELECT timestamp FROM t"))[-10]
        assert conn.execute("SELECT count(*) FROM t WHERE timestamp >= ?", (since,)).fetchone()[0] >= 10

        group = kit.topic("k4-g")
        conn.execute(f"CREATE VIRTUAL TABLE g USING kafka(brokers='{BROKER}', topic='{topic}', group='{group}')")
        assert conn.execute("SELECT count(*) FROM g").fetchone() == (1000,)
        assert conn.execute("SELECT count(*) FROM g").fetchone() == (0,)
        assert conn.execute("SELECT sum(lag) FROM kafka_group_offsets(?, ?)", (BROKER, group)).fetchone() == (0,)

        conn.execute(f"CREATE VIRTUAL TABLE tx USING kafka(brokers='{BROKER}', topic='{topic}', "
                     f"transactional_id='{kit.topic('k4-tx')}')")
        for value, end in (("rolled back", "ROLLBACK"), ("committed", "COMMIT")):
            conn.execute("BEGIN")
            conn.execute("INSERT INTO tx(key, value) VALUES ('tx', ?)", (value,))
            conn.execute(end)
        # COMMIT returns once read_committed readers see the transaction.
        assert conn.execute("SELECT value FROM t WHERE key = 'tx'").fetchall() == [("committed",)]
        assert [t for (t,) in conn.execute("SELECT topic FROM kafka_topics(?)", (BROKER,))].count(topic) == 1
        conn.execute("SELECT kafka_delete_topic(?, ?)", (BROKER, topic))
    finally:
        kafka4("down", "--clean")
