"""The confluent-kafka side of `make bench`'s Avro rows: what a Python
user of the Schema Registry would write instead of SQL. Run by the
venv's python (build/venv), timed as a whole process by bench.py.

    avro_client.py produce BROKERS REGISTRY TOPIC N
        N weather records through AvroSerializer, idempotent, acks=all
    avro_client.py group-by BROKERS REGISTRY TOPIC
        every record through AvroDeserializer; avg(temp_celsius) per
        location, printed as `location|avg` lines (what the SQL prints)
"""
import sys

# bench.py (stdlib python) imports this file for SCHEMA and the sample
# values: confluent-kafka is imported by the functions that use it.

SCHEMA = """{"type": "record", "name": "WeatherSample", "namespace": "kubertron.weather",
 "fields": [{"name": "location", "type": "string"}, {"name": "temp_celsius", "type": "int"},
            {"name": "wind_speed_mph", "type": "int"}, {"name": "wind_direction", "type": "string"},
            {"name": "humidity_percent", "type": "int"}, {"name": "pressure_mb", "type": "int"}]}"""
LOCATIONS = ["Amsterdam", "Berlin", "Dublin", "Lisbon", "London", "Madrid", "Oslo", "Paris",
             "Prague", "Vienna"]
DIRECTIONS = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"]


def sample(i):
    """Record i: the same values as bench.py's SQL (weather_sql)."""
    return {"location": LOCATIONS[i % 10], "temp_celsius": i % 46 - 10, "wind_speed_mph": i % 41,
            "wind_direction": DIRECTIONS[i % 8], "humidity_percent": i % 71 + 30,
            "pressure_mb": i % 81 + 970}


def produce(brokers, registry, topic, n):
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    ser = AvroSerializer(SchemaRegistryClient({"url": registry}), SCHEMA)
    ctx = SerializationContext(topic, MessageField.VALUE)
    p = Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "acks": "all",
                  "linger.ms": 5})
    for i in range(1, n + 1):
        value = ser(sample(i), ctx)
        while True:
            try:
                p.produce(topic, value=value)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10000 == 0:
            p.poll(0)
    if p.flush(120):
        sys.exit("avro_client: messages left undelivered")


def group_by(brokers, registry, topic):
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    de = AvroDeserializer(SchemaRegistryClient({"url": registry}))
    ctx = SerializationContext(topic, MessageField.VALUE)

    def location_temp(value):
        r = de(value, ctx)
        return r["location"], r["temp_celsius"]
    print_averages(brokers, topic, location_temp)


def print_averages(brokers, topic, location_temp):
    """Reads every message of topic, decodes its value into (location,
    temp_celsius) with location_temp and prints avg(temp_celsius) per
    location as `location|avg` lines (what the SQL prints)."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    c = Consumer({"bootstrap.servers": brokers, "group.id": "bench-client",
                  "enable.auto.commit": False, "enable.partition.eof": True})
    parts = c.list_topics(topic, timeout=30).topics[topic].partitions
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    open_parts, sums = set(parts), {}
    while open_parts:
        for m in c.consume(1000, 1.0):
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    open_parts.discard(m.partition())
                    continue
                raise KafkaException(m.error())
            location, temp = location_temp(m.value())
            s = sums.setdefault(location, [0, 0])
            s[0] += temp
            s[1] += 1
    c.close()
    for loc in sorted(sums):
        print(f"{loc}|{sums[loc][0] / sums[loc][1]}")


if __name__ == "__main__":
    cmd, brokers, registry, topic = sys.argv[1:5]
    if cmd == "produce":
        produce(brokers, registry, topic, int(sys.argv[5]))
    else:
        group_by(brokers, registry, topic)
