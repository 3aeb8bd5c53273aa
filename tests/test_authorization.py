"""Authorization failures say so (SPEC section 11), naming the topic or the
group and the operation: an INSERT the broker refuses is not "Purged in
queue", a group the user may not read is not "no answer within timeout_ms".

Needs a broker with Kafka's StandardAuthorizer: the suite's own when it was
started with KAFKA_AUTHORIZER=1 (and KAFKA_SASL=1), else one of this test's
own at KAFKA_PORT+8, as test_ops.py's ACL test does. The PLAINTEXT listener
is a super user; user bob (SASL/PLAIN) gets only the ACLs given here."""

import os

import kit
from test_ops import SECURED, Cluster

BOB = ("rdkafka.security.protocol='SASL_PLAINTEXT', rdkafka.sasl.mechanism='PLAIN', "
       "rdkafka.sasl.username='bob', rdkafka.sasl.password='bob-secret'")


def check_denials(plain, sasl):
    conn = kit.connect()
    topic = kit.topic("authz")
    conn.execute("SELECT kafka_create_topic(?, ?, 1)", (plain, topic))
    try:
        conn.execute(f"CREATE VIRTUAL TABLE owner USING kafka(brokers='{plain}', topic='{topic}')")
        conn.execute("INSERT INTO owner(value) VALUES ('written by a super user')")
        # bob may see the topic and read it, nothing else (a table without a
        # group still names one to librdkafka, which the broker checks).
        for op in ("DESCRIBE", "READ"):
            conn.execute("SELECT kafka_create_acl(?, 'TOPIC', ?, 'User:bob', ?)", (plain, topic, op))
        conn.execute("SELECT kafka_create_acl(?, 'GROUP', 'sqlite-kafka.no-group', 'User:bob', 'READ')", (plain,))
        conn.execute(f"CREATE VIRTUAL TABLE bob USING kafka(brokers='{sasl}', topic='{topic}', "
                     f"timeout_ms=3000, {BOB})")
        assert conn.execute("SELECT value FROM bob").fetchall() == [("written by a super user",)]
        e = kit.expect_error(lambda: conn.execute("INSERT INTO bob(value) VALUES ('denied')"),
                             f"not authorized to write to topic '{topic}' (the user needs WRITE on the topic)")
        assert "Purged" not in str(e), str(e)
        conn.execute(f"CREATE VIRTUAL TABLE bobs_group USING kafka(brokers='{sasl}', topic='{topic}', "
                     f"group='{topic}-g', timeout_ms=3000, {BOB})")
        kit.expect_error(lambda: conn.execute("SELECT * FROM bobs_group").fetchall(),
                         f"group '{topic}-g': not authorized to read the group's offsets (the user needs "
                         f"READ on group '{topic}-g')")
        kit.expect_error(lambda: conn.execute("SELECT kafka_create_topic(?, ?, 1, NULL, NULL, ?)",
                                              (sasl, f"{topic}-new", BOB.replace("'", ""))).fetchall(),
                         f"cannot create topic '{topic}-new': TOPIC_AUTHORIZATION_FAILED")
    finally:
        conn.execute("SELECT kafka_delete_topic(?, ?)", (plain, topic))


@kit.timeout(300)
def test_authorization_failures_name_the_topic_or_group_and_the_operation():
    kit.need_broker()
    if os.environ.get("KAFKA_AUTHORIZER") == "1":
        check_denials(kit.BROKER, f"127.0.0.1:{kit.PORT + 50}")
        return
    cluster = Cluster(kit.PORT + 8, None, SECURED)
    cluster.sh("up")
    try:
        check_denials(cluster.brokers, f"127.0.0.1:{cluster.port + 50}")
    finally:
        cluster.sh("down", "--clean")
