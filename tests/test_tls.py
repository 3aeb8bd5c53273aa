"""TLS (the tutorial's 102 step): a broker whose SSL listener requires client
certificates, with a CA and certificates made by openssl when the broker
starts (tests/broker/kafka.sh, KAFKA_TLS=1). The extension reads and writes
through it with rdkafka.ssl.*; a missing client certificate and a CA the
broker's certificate is not signed by are clear errors within timeout_ms.
The broker is started here on a port of its own (PORT+8; SSL on PORT+68)."""

import os
import subprocess

import kit

PORT = kit.PORT + 8
PLAIN = f"127.0.0.1:{PORT}"
TLS = f"127.0.0.1:{PORT + 60}"
CERTS = kit.ROOT / "build" / f"kafka-{PORT}" / "tls"
ENV = dict(os.environ, KAFKA_PORT=str(PORT), KAFKA_NODES="1", KAFKA_SASL="1", KAFKA_TLS="1",
           KAFKA_AUTHORIZER="1")


def kafka_sh(*args):
    done = subprocess.run(["bash", str(kit.KAFKA_SH), *args], env=ENV, timeout=300, capture_output=True,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"kafka.sh {' '.join(args)} failed:\n{done.stderr.decode()}"


def tls_options(ca="ca.pem", client=True, extra=""):
    items = ["rdkafka.security.protocol=ssl", f"rdkafka.ssl.ca.location={CERTS / ca}"]
    if client:
        items += [f"rdkafka.ssl.certificate.location={CERTS / 'client.pem'}",
                  f"rdkafka.ssl.key.location={CERTS / 'client.key'}"]
    return ", ".join(items + ([extra] if extra else []))


@kit.timeout(300)
def test_tls_with_client_certificates_reads_writes_and_fails_clearly():
    kit.need_broker()
    kafka_sh("up")
    try:
        conn = kit.connect()
        topic = kit.topic("tls")
        good = tls_options()
        # Written through TLS, read back through TLS and by kcat on PLAINTEXT.
        conn.execute(f"CREATE VIRTUAL TABLE t USING kafka(brokers='{TLS}', topic='{topic}', partitions=2, {good})")
        conn.execute("INSERT INTO t(partition, key, value) VALUES (0, 'k1', 'over tls'), (1, 'k2', 'and back')")
        assert conn.execute("SELECT partition, offset, key, value FROM t ORDER BY partition").fetchall() == [
            (0, 0, "k1", "over tls"), (1, 0, "k2", "and back")]
        out = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%p %k %s\n", broker=PLAIN).decode()
        assert sorted(out.splitlines()) == ["0 k1 over tls", "1 k2 and back"]
        # kcat through TLS with the same certificates sees the same.
        out = kit.kcat("-C", "-t", topic, "-e", "-q", "-f", "%s\n", "-X", "security.protocol=ssl",
                       "-X", f"ssl.ca.location={CERTS / 'ca.pem'}",
                       "-X", f"ssl.certificate.location={CERTS / 'client.pem'}",
                       "-X", f"ssl.key.location={CERTS / 'client.key'}", broker=TLS).decode()
        assert sorted(out.splitlines()) == ["and back", "over tls"]
        # The catalog and admin functions take the same options.
        assert conn.execute("SELECT partitions FROM kafka_topics(?, ?) WHERE topic = ?",
                            (TLS, good, topic)).fetchone() == (2,)
        assert conn.execute("SELECT kafka_add_partitions(?, ?, 3, ?)", (TLS, topic, good)).fetchone() == (3,)

        # No client certificate: the broker ends the handshake.
        no_cert = tls_options(client=False, extra="timeout_ms=3000")
        kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_topics(?, ?)", (TLS, no_cert)).fetchall(),
                         f"cannot connect to brokers '{TLS}'")
        e = kit.expect_error(lambda: conn.execute("SELECT * FROM kafka_topics(?, ?)", (TLS, no_cert)).fetchall(),
                             "alert")
        assert "bad certificate" in str(e) or "certificate required" in str(e), e
        kit.expect_error(lambda: conn.execute(f"CREATE VIRTUAL TABLE n USING kafka(brokers='{TLS}', topic='{topic}', "
                                              f"{no_cert})"), "certificate")
        # A CA that did not sign the broker's certificate.
        wrong_ca = tls_options(ca="other-ca.pem", extra="timeout_ms=3000")
        kit.expect_error(lambda: conn.execute("SELECT kafka_delete_topic(?, ?, ?)", (TLS, topic, wrong_ca)),
                         "certificate verify failed: broker certificate could not be verified")
        kit.expect_error(lambda: conn.execute(f"CREATE VIRTUAL TABLE w USING kafka(brokers='{TLS}', topic='{topic}', "
                                              f"{wrong_ca})"), f"cannot connect to brokers '{TLS}'")
        # The topic is still there: nothing went through the failed calls.
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
        conn.execute("SELECT kafka_delete_topic(?, ?, ?)", (TLS, topic, good))
    finally:
        kafka_sh("down", "--clean")
