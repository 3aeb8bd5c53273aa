"""The paths the performance work of `make bench` changed, checked for
exact results on the REAL broker (their speed is measured by `make bench`,
never asserted here): a scan whose batches fill most of the consumer
queue's byte limit (10 KB values: 1,024 of them are ten times its 1 MB), and
statements back to back on the table's idle consumers (one for scans, one
for positioned reads)."""

import hashlib

import kit
import readkit as rk

VALUE_BYTES = 10_000
MESSAGES = 4_000  # 40 MB: the queue's 1 MB limit is reached and drained more than once


def _value(i):
    return (f"{i:08d}" * (VALUE_BYTES // 8 + 1))[:VALUE_BYTES]


def test_10kb_values_scan_returns_every_message_intact():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("big"), partitions=2)
    kit.kcat("-P", "-t", topic, "-K", "\t", input="".join(f"k{i}\t{_value(i)}\n" for i in range(MESSAGES)))
    conn = kit.connect()
    rk.table(conn, "t", topic)
    count, total = conn.execute("SELECT count(*), sum(length(value)) FROM t").fetchone()
    assert (count, total) == (MESSAGES, MESSAGES * VALUE_BYTES), (count, total)
    seen = hashlib.sha256()
    for key, value in conn.execute("SELECT key, value FROM t ORDER BY CAST(substr(key, 2) AS INTEGER)"):
        seen.update(key.encode() + b"\0" + value.encode())
    want = hashlib.sha256()
    for i in range(MESSAGES):
        want.update(f"k{i}".encode() + b"\0" + _value(i).encode())
    assert seen.hexdigest() == want.hexdigest()
    kit.delete_topic(topic)


def test_back_to_back_statements_on_scan_and_point_consumers():
    """Full scans and positioned reads alternate between the table's two
    kept consumers; results stay exact whichever consumer serves them, also
    with three cursors open at once (more than the two kept)."""
    kit.need_broker()
    topic = kit.create_topic(kit.topic("b2b"), partitions=3)
    kit.kcat("-P", "-t", topic, "-K", "\t", input="".join(f"k{i}\tv{i}\n" for i in range(3000)))
    conn = kit.connect()
    rk.table(conn, "t", topic)
    rows = dict(conn.execute("SELECT partition, count(*) FROM t GROUP BY 1").fetchall())
    assert sum(rows.values()) == 3000
    for _ in range(3):
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 3000
        got = conn.execute('SELECT "offset" FROM t WHERE partition = 0 AND "offset" BETWEEN 5 AND 14').fetchall()
        assert [o for (o,) in got] == list(range(5, 15))
    three = conn.execute("SELECT count(*) FROM t a, t b, t c WHERE a.partition = 1 AND b.partition = 2 "
                         'AND c.partition = 0 AND a."offset" < 3 AND b."offset" < 3 AND c."offset" < 3').fetchone()
    assert three == (27,)
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 3000
    kit.delete_topic(topic)
