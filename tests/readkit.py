"""Helpers of the read-side tests (test_read_*.py, test_formats.py):
tables over a topic, an oracle copy, pushdown comparisons, producers that
are not the extension (kcat, kafka-python)."""

import json
import time

import kit


def table(conn, name, topic, brokers=None, **options):
    """CREATE VIRTUAL TABLE name over topic with the given options."""
    opts = {"brokers": brokers or kit.BROKER, "topic": topic, **options}
    args = ", ".join(f"{k} = '{v}'" for k, v in opts.items())
    conn.execute(f"CREATE VIRTUAL TABLE {name} USING kafka({args})")


ROW = "partition, offset, timestamp, key, value, headers"


def oracle(conn, src, name="oracle"):
    """A plain SQLite table holding every row of src (one full scan): the
    same query on it is the answer pushdown must not change."""
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(f"CREATE TEMP TABLE {name} AS SELECT {ROW} FROM {src}")
    return conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]


def defeat(src):
    """src behind a subquery with a LIMIT: SQLite pushes no WHERE term and
    no LIMIT into it (the column affinities stay), so nothing is pushed."""
    return f"(SELECT * FROM {src} LIMIT -1)"


def compare(conn, where, tail="", src="t", copy="oracle", ordered=False):
    """Runs SELECT ROW FROM src WHERE ... three ways: pushed down, with
    pushdown defeated, on the oracle copy; asserts they agree and returns
    the pushed-down plan text and the rows."""
    pushed_sql = f"SELECT {ROW} FROM {src} {where} {tail}"
    sqls = [pushed_sql, f"SELECT {ROW} FROM {defeat(src)} {where} {tail}",
            f"SELECT {ROW} FROM {copy} {where} {tail}"]
    results = [conn.execute(s).fetchall() for s in sqls]
    if not ordered:
        results = [sorted(r, key=repr) for r in results]
    assert results[0] == results[2], (pushed_sql, len(results[0]), len(results[2]))
    assert results[1] == results[2], (sqls[1], len(results[1]), len(results[2]))
    defeated = kit.eqp(conn, sqls[1])
    assert f"SCAN {src} VIRTUAL TABLE INDEX 0:LIMIT" in defeated, defeated
    assert not any(c in defeated for c in ("partition", "offset", "timestamp")), defeated
    return kit.eqp(conn, pushed_sql), results[0]


def kafka_producer(**config):
    """A kafka-python producer on the test broker."""
    from kafka import KafkaProducer
    return KafkaProducer(bootstrap_servers=kit.BROKER, **config)


def kcat_rows(topic, extra=()):
    """(partition, offset, timestamp) of every message kcat reads."""
    out = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%p %o %T\\n", *extra)
    return sorted(tuple(int(x) for x in line.split()) for line in out.decode().splitlines())


def kcat_json(topic):
    """Every message as kcat's JSON envelope, by (partition, offset)."""
    out = kit.kcat("-C", "-t", topic, "-e", "-q", "-J", "-Z")
    msgs = [json.loads(line) for line in out.decode().splitlines()]
    return {(m["partition"], m["offset"]): m for m in msgs}


def timed(fn):
    t0 = time.monotonic()
    out = fn()
    return out, time.monotonic() - t0
