"""confluent-kafka + json.loads, for `make bench`: what a Python program does
to average one field of a JSON topic. Assigns every partition from the
beginning and stops each at its high watermark as of the start (like the
extension's snapshot scans and tests/bench/consume.c).

Usage: build/venv/bin/python consume_json.py BROKERS TOPIC FIELD   (prints the average)
"""
import json
import sys

from confluent_kafka import Consumer, TopicPartition

BATCH = 1024


def main():
    brokers, topic, field = sys.argv[1:4]
    c = Consumer({"bootstrap.servers": brokers, "group.id": "sqlite-kafka.bench",
                  "enable.auto.commit": False, "enable.partition.eof": False,
                  "fetch.wait.max.ms": 100, "queued.min.messages": 500000,
                  "queued.max.messages.kbytes": 16384, "isolation.level": "read_committed"})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    end = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
    open_ = {p for p, high in end.items() if high > 0}
    c.assign([TopicPartition(topic, p, 0) for p in open_])
    total, n = 0.0, 0
    while open_:
        for m in c.consume(BATCH, timeout=1.0):
            if m.error():
                sys.exit(f"consume_json: {m.error()}")
            p = m.partition()
            if p not in open_ or m.offset() >= end[p]:
                continue
            v = json.loads(m.value())
            if v.get(field) is not None:
                total += v[field]
                n += 1
            if m.offset() + 1 >= end[p]:
                open_.discard(p)
    c.close()
    print(total / n if n else None)


if __name__ == "__main__":
    main()
