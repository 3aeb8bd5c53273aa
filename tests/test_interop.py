"""Interop with independent clients, both ways, byte for byte, on the real
broker: kafka-python (the tutorial's client) and Kafka's Java console
producer and consumer (tests/broker/kafka.sh run-class).

Messages carry keys, repeated and binary headers, multibyte UTF-8, binary
values, empty values and tombstones. Keyed messages must land where the
other clients put the same keys (murmur2, like the Java client).
"""

import json
import subprocess

import kit

PARTITIONS = 6
KEYS = [f"station-{i}" for i in range(24)] + [
    "2024-05-01T12:00:00.123456", "Zürich", "東京", ""]


def keyed_table(conn, name, topic, fmt="blob"):
    conn.execute(f"CREATE VIRTUAL TABLE {name} USING kafka(brokers = '{kit.BROKER}',"
                 f" topic = '{topic}', key = '{fmt}', value = '{fmt}')")


def rows(conn, table):
    """(partition, offset) -> (timestamp, key, value, headers as parsed JSON)."""
    out = {}
    for p, o, ts, k, v, h in conn.execute(
            f"SELECT partition, offset, timestamp, key, value, headers FROM {table}"):
        out[(p, o)] = (ts, k, v, json.loads(h) if h is not None else None)
    return out


def java(tool, *args, input=None):
    """Runs a Kafka console tool (tests/broker/kafka.sh run-class); stdout
    bytes."""
    kit.state["broker_used"] = True
    p = subprocess.run(["bash", str(kit.KAFKA_SH), "run-class", tool,
                        "--bootstrap-server", kit.BROKER, *args],
                       input=input.encode() if input is not None else None,
                       capture_output=True, timeout=120,
                       stdin=None if input is not None else subprocess.DEVNULL)
    assert p.returncode == 0, f"{tool}: {p.stderr.decode(errors='replace')}"
    return p.stdout


# --------------------------------------------------------- kafka-python --

def python_producer():
    from kafka import KafkaProducer
    return KafkaProducer(bootstrap_servers=kit.BROKER, acks="all",
                         linger_ms=5, request_timeout_ms=30000)


def python_consume(topic, count):
    """Every message of topic as kafka-python reads it, from the start."""
    from kafka import KafkaConsumer, TopicPartition
    consumer = KafkaConsumer(bootstrap_servers=kit.BROKER, group_id=None,
                             enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        got = {}
        for _ in range(100):
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    got[(r.partition, r.offset)] = r
            if len(got) >= count:
                break
        assert len(got) == count, f"kafka-python read {len(got)} of {count}"
        return got
    finally:
        consumer.close()


def test_kafka_python_writes_extension_reads_exactly():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("interop-py2ext"), partitions=PARTITIONS)
    sent = []  # (partition, offset, timestamp, key, value, headers)
    cases = [(k.encode(), f"value of {k} ☀".encode(), [("h", k.encode())]) for k in KEYS]
    cases += [
        (b"bin", b"\x00\xff\xfe\x80 binary", [("trace", b"a"), ("trace", b"b"), ("raw", b"\x00\xff")]),
        (b"empty", b"", [("empty", b"")]),
        (b"tomb", None, []),
        (None, b"no key", []),
    ]
    producer = python_producer()
    try:
        futures = [(k, v, h, producer.send(topic, key=k, value=v, headers=h,
                                           timestamp_ms=1700000000000 + i))
                   for i, (k, v, h) in enumerate(cases)]
        producer.flush(30)
        for i, (k, v, h, f) in enumerate(futures):
            md = f.get(timeout=30)
            sent.append((md.partition, md.offset, 1700000000000 + i, k, v, h))
    finally:
        producer.close()

    conn = kit.connect()
    keyed_table(conn, "raw", topic)
    got = rows(conn, "raw")
    assert len(got) == len(sent)
    for p, o, ts, k, v, h in sent:
        want_headers = None
        if h:
            want_headers = {}
            for name, val in h:
                val = {"hex": val.hex()} if val == b"\x00\xff" else val.decode()
                prev = want_headers.get(name)
                want_headers[name] = val if prev is None else (
                    prev + [val] if isinstance(prev, list) else [prev, val])
        assert got[(p, o)] == (ts, k, v, want_headers), (p, o, got[(p, o)])

    # As text: UTF-8 reads as TEXT, exactly; other bytes as the same BLOB.
    keyed_table(conn, "txt", topic, fmt="text")
    for (p, o), (ts, k, v, h) in rows(conn, "txt").items():
        raw = got[(p, o)]
        assert (k.encode() if isinstance(k, str) else k) == raw[1]
        assert (v.encode() if isinstance(v, str) else v) == raw[2]
        if raw[2] == b"\x00\xff\xfe\x80 binary":
            assert isinstance(v, bytes)
        elif raw[2] is not None:
            assert isinstance(v, str)


def test_extension_writes_kafka_python_reads_exactly():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("interop-ext2py"), partitions=PARTITIONS)
    conn = kit.connect()
    keyed_table(conn, "t", topic)
    values = [(k.encode(), f"{k} → ☀".encode(),
               json.dumps({"h": k, "rep": ["1", "2"]}), 1700000000000 + i)
              for i, k in enumerate(KEYS)]
    values += [(b"bin", b"\x00\xff\x80", json.dumps({"raw": {"hex": "00ff"}}), 1700000001000),
               (b"empty", b"", None, 1700000002000),
               (b"tomb", None, None, 1700000003000),
               (None, b"no key", None, 1700000004000)]
    conn.executemany("INSERT INTO t(key, value, headers, timestamp) VALUES (?, ?, ?, ?)", values)
    mine = rows(conn, "t")
    got = python_consume(topic, len(values))
    assert set(got) == set(mine)
    by_value = {}
    for (p, o), r in got.items():
        assert mine[(p, o)][:3] == (r.timestamp, r.key, r.value)
        by_value[(r.key, r.value)] = r
    for k, v, h, ts in values:
        r = by_value[(k, v)]
        want = []
        for name, val in (json.loads(h) if h else {}).items():
            for one in (val if isinstance(val, list) else [val]):
                want.append((name, bytes.fromhex(one["hex"]) if isinstance(one, dict)
                             else one.encode()))
        assert list(r.headers) == want, (r.headers, want)


def test_keyed_partitioning_agrees_with_kafka_python_and_java():
    """The same keys, produced by the extension (partition NULL), by
    kafka-python and by the Java console producer, land on the same
    partitions."""
    kit.need_broker()
    from kafka.partitioner.default import murmur2
    keys = KEYS
    topic = kit.create_topic(kit.topic("interop-keys"), partitions=PARTITIONS)
    conn = kit.connect()
    keyed_table(conn, "t", topic, fmt="text")
    conn.executemany("INSERT INTO t(key, value) VALUES (?, 'ext')", [(k,) for k in keys])
    producer = python_producer()
    try:
        for k in keys:
            producer.send(topic, key=k.encode(), value=b"py")
        producer.flush(30)
    finally:
        producer.close()
    lines = "".join(f"{k}\tjava\n" for k in keys)
    java("console-producer", "--topic", topic, "--property", "parse.key=true",
         input=lines)
    placed = {}
    for p, k, v in conn.execute("SELECT partition, key, value FROM t"):
        placed.setdefault(v, {})[k] = p
    assert set(placed) == {"ext", "py", "java"}
    want = {k: (murmur2(k.encode()) & 0x7fffffff) % PARTITIONS for k in keys}
    assert placed["ext"] == placed["py"] == placed["java"] == want
    assert len(set(want.values())) > 3, "the keys spread over partitions"


# ----------------------------------------------------------------- Java --

JAVA_LINES = [
    # headers \t key \t value (parse.headers, parse.key)
    ("h1:v1,h1:v2,city:Zürich ☀", "2024-05-01T12:00:00Z", '{"location":"Zürich","temp_celsius":21}'),
    ("one:1", "Tōkyō", "値 ☀ value"),
    ("empty:", "k-empty", ""),
    ("n:<NULL>", "k-tomb", "<NULL>"),
]


def test_java_console_producer_writes_extension_reads_exactly():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("interop-java2ext"), partitions=PARTITIONS)
    text = "".join("\t".join(line) + "\n" for line in JAVA_LINES)
    java("console-producer", "--topic", topic, "--property", "parse.key=true",
         "--property", "parse.headers=true", "--property", "null.marker=<NULL>",
         input=text)
    conn = kit.connect()
    keyed_table(conn, "t", topic)
    got = {k: (v, h) for _, k, v, h in
           ((p, k, v, json.loads(h) if h else None) for p, _, _, k, v, h in
            conn.execute("SELECT partition, offset, timestamp, key, value, headers FROM t"))}
    assert got == {
        "2024-05-01T12:00:00Z".encode(): ('{"location":"Zürich","temp_celsius":21}'.encode(),
                                         {"h1": ["v1", "v2"], "city": "Zürich ☀"}),
        "Tōkyō".encode(): ("値 ☀ value".encode(), {"one": "1"}),
        b"k-empty": (b"", {"empty": ""}),
        b"k-tomb": (None, {"n": None}),
    }


def test_extension_writes_java_console_consumer_reads_exactly():
    kit.need_broker()
    topic = kit.create_topic(kit.topic("interop-ext2java"), partitions=1)
    conn = kit.connect()
    keyed_table(conn, "t", topic, fmt="text")
    conn.executemany("INSERT INTO t(key, value, headers, timestamp) VALUES (?, ?, ?, ?)", [
        ("2024-05-01T12:00:00Z", '{"location":"Zürich","temp_celsius":21}',
         json.dumps({"h1": ["v1", "v2"], "city": "Zürich ☀"}), 1700000000000),
        ("Tōkyō", "値 ☀ value", json.dumps({"one": "1"}), 1700000000001),
        (None, "no key", None, 1700000000002),
        ("k-tomb", None, None, 1700000000003),
    ])
    out = java(
        "console-consumer", "--topic", topic, "--from-beginning", "--max-messages", "4",
        "--timeout-ms", "30000",
        "--property", "print.timestamp=true", "--property", "print.offset=true",
        "--property", "print.headers=true", "--property", "print.key=true")
    assert out == (
        "CreateTime:1700000000000\tOffset:0\th1:v1,h1:v2,city:Zürich ☀\t"
        "2024-05-01T12:00:00Z\t{\"location\":\"Zürich\",\"temp_celsius\":21}\n"
        "CreateTime:1700000000001\tOffset:1\tone:1\tTōkyō\t値 ☀ value\n"
        "CreateTime:1700000000002\tOffset:2\tNO_HEADERS\tnull\tno key\n"
        "CreateTime:1700000000003\tOffset:3\tNO_HEADERS\tk-tomb\tnull\n").encode(), out
