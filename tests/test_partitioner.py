"""Option `partitioner`: `key =` and `key IN` read only the partitions the
keys map to, on the REAL broker. Every key written by kafka-python
(murmur2) and by kcat (librdkafka's default, consistent_random) is found
with the matching partitioner, in the partition its producer chose; the
results never differ from the unpushed query (SQLite re-checks every row);
a mismatched partitioner proves that the scan really reads fewer partitions."""

import kit
import readkit as rk

PARTITIONS = 7
KEYS = 400


def _kafka_python_topic(extra=()):
    """KEYS keyed messages (plus extra (key, value) pairs) from
    kafka-python's default partitioner (murmur2)."""
    topic = kit.create_topic(kit.topic("kp"), partitions=PARTITIONS)
    producer = rk.kafka_producer()
    for i in range(KEYS):
        producer.send(topic, key=f"order-{i}".encode(), value=f"v{i}".encode())
    for key, value in extra:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()
    return topic


def _kcat_topic():
    """KEYS keyed messages from kcat (librdkafka's default partitioner)."""
    topic = kit.create_topic(kit.topic("kc"), partitions=PARTITIONS)
    kit.kcat("-P", "-t", topic, "-K", "\t", input="".join(f"order-{i}\tv{i}\n" for i in range(KEYS)))
    return topic


def _where_written(conn, src):
    """{key: partition} of every message, read without any pushdown."""
    return dict(conn.execute(f"SELECT key, partition FROM {rk.defeat(src)}").fetchall())


def _every_key_found(conn, src, written):
    """Every key with one IN list; every 8th one also with `=`."""
    for key, partition in list(written.items())[::8]:
        got = conn.execute(f"SELECT partition, key FROM {src} WHERE key = ?", (key,)).fetchall()
        assert got == [(partition, key)], (key, partition, got)
    keys = list(written)
    marks = ", ".join("?" * len(keys))
    got = conn.execute(f"SELECT key, partition FROM {src} WHERE key IN ({marks})", keys).fetchall()
    assert dict(got) == written and len(got) == len(written), (len(got), len(written))


def test_every_kafka_python_key_found_with_murmur2():
    kit.need_broker()
    topic = _kafka_python_topic()
    conn = kit.connect()
    rk.table(conn, "t", topic, partitioner="murmur2")
    written = _where_written(conn, "t")
    assert len(written) == KEYS and len(set(written.values())) == PARTITIONS
    assert kit.eqp(conn, "SELECT * FROM t WHERE key = 'order-1'") == "SCAN t VIRTUAL TABLE INDEX 0:key ="
    _every_key_found(conn, "t", written)
    kit.delete_topic(topic)


def test_every_kcat_key_found_with_consistent_random_and_crc32():
    kit.need_broker()
    topic = _kcat_topic()
    conn = kit.connect()
    rk.table(conn, "t", topic, partitioner="consistent_random")
    rk.table(conn, "c", topic, partitioner="crc32")
    written = _where_written(conn, "t")
    assert len(written) == KEYS and len(set(written.values())) == PARTITIONS
    _every_key_found(conn, "t", written)
    _every_key_found(conn, "c", written)
    kit.delete_topic(topic)


def test_a_mismatched_partitioner_reads_only_the_partition_it_computes():
    """kafka-python wrote with murmur2; a table that claims crc32 reads
    the crc32 partition only, so keys murmur2 put elsewhere are not seen:
    the pushdown really skips partitions (and the option is a promise)."""
    kit.need_broker()
    topic = _kafka_python_topic()
    conn = kit.connect()
    rk.table(conn, "t", topic, partitioner="crc32")
    written = _where_written(conn, "t")
    sample = list(written)[:50]
    found = [k for k in sample if conn.execute("SELECT count(*) FROM t WHERE key = ?", (k,)).fetchone()[0]]
    assert 0 < len(found) < len(sample) / 2, len(found)
    kit.delete_topic(topic)


def test_pushed_key_terms_return_what_the_unpushed_query_returns():
    """Text and blob forms of a key, numbers against a TEXT key, NULL and
    empty keys, key with partition, IN lists and LIMIT: the same rows as
    the oracle copy, on a text-key and on a blob-key table."""
    kit.need_broker()
    topic = _kafka_python_topic(extra=[(b"42", b"num"), (b"", b"empty"), (None, b"null"),
                                       (b"\xff\xfe", b"binary")])
    conn = kit.connect()
    rk.table(conn, "t", topic, partitioner="murmur2")
    rk.table(conn, "b", topic, partitioner="murmur2", key="blob")
    wheres = [
        "WHERE key = 'order-7'", "WHERE key = x'6f726465722d37'", "WHERE key = 42",
        "WHERE key = '42'", "WHERE key = 42.0", "WHERE key = ''", "WHERE key = x''",
        "WHERE key = x'fffe'", "WHERE key IS NULL", "WHERE key = NULL",
        "WHERE key IN ('order-1', x'6f726465722d32', NULL, 'missing')",
        "WHERE key IN ('order-1', '')", "WHERE key IN (SELECT 'order-' || column1 FROM (VALUES (5), (6), (9)))",
        "WHERE key = 'order-3' AND key = 'order-4'", "WHERE key = 'order-3' OR key = 'order-4'",
        "WHERE key = 'order-3' AND partition IN (0, 1, 2, 3)", "WHERE key = 'ORDER-3' COLLATE NOCASE",
    ]
    for src in ("t", "b"):
        rk.oracle(conn, src, name=f"oracle_{src}")
        for where in wheres + ["WHERE key = 'order-8' OR value = 'v9'"]:
            rk.compare(conn, where, src=src, copy=f"oracle_{src}")
    values = lambda src, where, tail="": [r[4] for r in rk.compare(conn, where, tail, src=src, copy=f"oracle_{src}")[1]]
    assert values("t", "WHERE key = 42") == ["num"]
    assert values("b", "WHERE key = x'3432'") == ["num"]
    assert values("b", "WHERE key = '42'") == []  # a BLOB column never equals text
    assert values("t", "WHERE key = ''") == ["empty"]
    assert values("t", "WHERE key = 'order-11'", "LIMIT 1") == ["v11"]
    kit.delete_topic(topic)


def test_explain_shows_key_pushdown_only_with_a_partitioner():
    conn = kit.connect()
    rk.table(conn, "p", "keys", brokers="mock", partitions=3, partitioner="consistent_random")
    rk.table(conn, "n", "keys", brokers="mock")
    assert kit.eqp(conn, "SELECT * FROM p WHERE key = 'a'") == "SCAN p VIRTUAL TABLE INDEX 0:key ="
    assert kit.eqp(conn, "SELECT * FROM p WHERE key IN ('a', 'b')") == "SCAN p VIRTUAL TABLE INDEX 0:key IN"
    assert kit.eqp(conn, "SELECT * FROM p WHERE partition = 1 AND key = 'a'") == \
        "SCAN p VIRTUAL TABLE INDEX 0:partition =, key ="
    # The cursor does not compare keys: LIMIT stays with SQLite.
    assert kit.eqp(conn, "SELECT * FROM p WHERE key = 'a' LIMIT 3") == "SCAN p VIRTUAL TABLE INDEX 0:key ="
    assert kit.eqp(conn, "SELECT * FROM p WHERE key = 'a' COLLATE NOCASE") == "SCAN p VIRTUAL TABLE INDEX 0:"
    assert kit.eqp(conn, "SELECT * FROM n WHERE key = 'a'") == "SCAN n VIRTUAL TABLE INDEX 0:"
    conn.execute("INSERT INTO p(key, value) VALUES ('a', '1'), ('b', '2')")  # murmur2: not this table's promise
    assert conn.execute("SELECT count(*) FROM p WHERE key IN ('zz', NULL)").fetchone() == (0,)


def test_partitioner_option_errors():
    conn = kit.connect()
    kit.expect_error(lambda: rk.table(conn, "x", "keys", brokers="mock", partitions=1, partitioner="murmur3"),
                     "kafka: option partitioner must be murmur2, crc32 or consistent_random, not 'murmur3'")
    kit.expect_error(lambda: conn.execute("CREATE VIRTUAL TABLE y USING kafka(brokers='mock', topic='keys', "
                                          "partitions=1, partitioner='murmur2', partitioner='crc32')"),
                     "kafka: option partitioner is given twice")
