"""Helpers of the Schema Registry format tests (test_avro.py,
test_protobuf.py): a fresh topic once the broker and the registry answer,
tables in a registry format, confluent-kafka's registry client and
serialization contexts, and messages produced byte for byte."""

import kit
import readkit as rk


def setup(prefix):
    """A new topic (one partition); the broker and the registry are needed."""
    kit.need_broker()
    kit.need_registry()
    return kit.create_topic(kit.topic(prefix))


def table(conn, name, topic, fmt, **options):
    """CREATE VIRTUAL TABLE name over topic with value = fmt and the registry."""
    rk.table(conn, name, topic, **{"value": fmt, "schema_registry": kit.REGISTRY, **options})


def sr_client():
    from confluent_kafka.schema_registry import SchemaRegistryClient
    return SchemaRegistryClient({"url": kit.REGISTRY})


def ctx(topic, key=False):
    from confluent_kafka.serialization import MessageField, SerializationContext
    return SerializationContext(topic, MessageField.KEY if key else MessageField.VALUE)


def produce_bytes(topic, values):
    """Each of values as one message of topic, byte for byte (kcat -P
    would split one at a newline byte)."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": kit.BROKER, "enable.idempotence": True})
    for value in values:
        p.produce(topic, value=value)
    assert p.flush(30) == 0


def delete_subjects(*subjects):
    """Deletes subjects a test registered (soft, then for good), those that
    refer to others first; a subject that is not there is no error. The
    registry is shared: what a test leaves there piles up."""
    client = sr_client()
    for subject in subjects:
        for permanent in (False, True):
            try:
                client.delete_subject(subject, permanent=permanent)
            except Exception:  # noqa: BLE001 - not there (or already soft-deleted)
                pass
