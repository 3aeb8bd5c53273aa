"""Large values on the REAL broker: a scan whose batches fill most of the
consumer queue's byte limit (10 KB values: 1,024 of them are 10 of its
16 MB) returns every message intact. The speed of that path is measured by
`make bench` (10 KB row), not here."""

import hashlib

import kit
import readkit as rk

VALUE_BYTES = 10_000
MESSAGES = 4_000  # 40 MB: the queue's 16 MB limit is reached and drained more than once


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
