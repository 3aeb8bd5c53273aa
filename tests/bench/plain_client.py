"""The Python side of `make bench`'s formats-without-a-registry row (issue
27): what a Python user would write instead of SQL over topics of plain
Avro (fastavro with the schema file), plain Protobuf (the class protoc
generates) and MessagePack (msgpack). Run by the venv's python
(build/venv), timed as a whole process by bench.py.

    plain_client.py group-by FORMAT BROKERS TOPIC
        FORMAT avro, protobuf or msgpack: every record decoded; avg(temp_celsius)
        per location, printed as `location|avg` lines (what the SQL prints)
"""
import io
import json
import sys

import avro_client
import protobuf_client


def location_temp_of(fmt):
    """A function of a message value: (location, temp_celsius)."""
    if fmt == "avro":
        import fastavro
        schema = fastavro.parse_schema(json.loads(avro_client.SCHEMA))

        def avro(value):
            r = fastavro.schemaless_reader(io.BytesIO(value), schema)
            return r["location"], r["temp_celsius"]
        return avro
    if fmt == "protobuf":
        cls = protobuf_client.weather_class()

        def protobuf(value):
            m = cls.FromString(value)
            return m.location, m.temp_celsius
        return protobuf
    import msgpack

    def mp(value):
        r = msgpack.unpackb(value)
        return r["location"], r["temp_celsius"]
    return mp


if __name__ == "__main__":
    fmt, brokers, topic = sys.argv[2:5]
    avro_client.print_averages(brokers, topic, location_temp_of(fmt))
