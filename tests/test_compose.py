"""docker-compose.yml cannot run here (no Docker engine), so it is checked by
reading it: same Kafka version as the test broker, host port 29092, a UI on
the internal listener."""

import base64
import re

import kit

COMPOSE = kit.ROOT / "docker-compose.yml"
KAFKA_SH = kit.ROOT / "tests" / "broker" / "kafka.sh"


def load():
    import yaml  # PyYAML, from tests/requirements.txt
    return yaml.safe_load(COMPOSE.read_text())


def kafka_service(doc):
    found = [s for s in doc["services"].values()
             if str(s.get("image", "")).startswith("apache/kafka:")]
    assert len(found) == 1, f"expected one apache/kafka service, got {len(found)}"
    return found[0]


def default_kafka_version():
    m = re.search(r"\$\{KAFKA_VERSION:-([^}]+)\}", KAFKA_SH.read_text())
    assert m, "no KAFKA_VERSION default in kafka.sh"
    return m.group(1)


def test_kafka_image_is_the_test_broker_version():
    tag = kafka_service(load())["image"].split(":", 1)[1]
    assert tag == default_kafka_version(), (tag, default_kafka_version())


def test_host_port_is_29092():
    kafka = kafka_service(load())
    hosts = [str(p).split(":")[-2] for p in kafka["ports"] if ":" in str(p)]
    assert "29092" in hosts, kafka["ports"]
    env = kafka["environment"]
    assert "://localhost:29092" in env["KAFKA_ADVERTISED_LISTENERS"], env


def test_ui_uses_the_internal_listener():
    doc = load()
    kafka = kafka_service(doc)
    ui = [s for s in doc["services"].values()
          if "kafka-ui" in str(s.get("image", ""))]
    assert len(ui) == 1, "expected one kafka-ui service"
    assert any(str(p).startswith("8080:") for p in ui[0]["ports"]), ui[0]["ports"]
    bootstrap = ui[0]["environment"]["KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS"]
    host, port = bootstrap.rsplit(":", 1)
    env = kafka["environment"]
    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert any(a.endswith(f"://{host}:{port}") for a in advertised), (bootstrap, advertised)


def test_cluster_id_is_a_kafka_uuid():
    cid = str(kafka_service(load())["environment"]["CLUSTER_ID"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cid), cid
    assert len(base64.urlsafe_b64decode(cid + "==")) == 16, cid
