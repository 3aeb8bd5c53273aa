/*
** The plain librdkafka producer of `make bench`: what a careful C program
** does to produce N keyed messages, with the extension's producer settings
** (keep conf[] in step with ext/client/client.c conf_defaults): idempotence,
** acks=all, Java's partitioner. Messages are those of the benchmark's
** INSERT: key 'key-%08d' and a VALUE_BYTES-byte value (default 100), the
** row number zero-padded.
**
** Usage: produce BROKERS TOPIC N [VALUE_BYTES]   (exit 0 iff all N were acked)
*/
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>

#define DEFAULT_VALUE_BYTES 100
#define MAX_VALUE_BYTES (1 << 20)
#define POLL_EVERY 1000

static long long failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk; (void)opaque;
  if (m->err && !failed++) fprintf(stderr, "produce: %s\n", rd_kafka_err2str(m->err));
}

static rd_kafka_t *producer_new(const char *brokers) {
  static const char *const conf[][2] = {
      {"enable.idempotence", "true"}, {"acks", "all"}, {"partitioner", "murmur2_random"}};
  char errstr[512];
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  int ok = rd_kafka_conf_set(c, "bootstrap.servers", brokers, errstr, sizeof errstr) == RD_KAFKA_CONF_OK;
  for (size_t i = 0; ok && i < sizeof conf / sizeof *conf; i++)
    ok = rd_kafka_conf_set(c, conf[i][0], conf[i][1], errstr, sizeof errstr) == RD_KAFKA_CONF_OK;
  rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
  rd_kafka_t *rk = ok ? rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof errstr) : NULL;
  if (!rk) {
    rd_kafka_conf_destroy(c);
    fprintf(stderr, "produce: %s\n", errstr);
  }
  return rk;
}

int main(int argc, char **argv) {
  int value_bytes = argc == 5 ? atoi(argv[4]) : DEFAULT_VALUE_BYTES;
  if ((argc != 4 && argc != 5) || value_bytes < 1 || value_bytes > MAX_VALUE_BYTES) {
    fprintf(stderr, "usage: produce BROKERS TOPIC N [VALUE_BYTES (1 to %d)]\n", MAX_VALUE_BYTES);
    return 2;
  }
  long long n = atoll(argv[3]);
  char *value = malloc((size_t)value_bytes + 1);
  rd_kafka_t *rk = value ? producer_new(argv[1]) : NULL;
  if (!rk) {
    free(value);
    return 1;
  }
  rd_kafka_topic_t *topic = rd_kafka_topic_new(rk, argv[2], NULL);
  char key[32];
  for (long long i = 1; i <= n && !failed; i++) {
    int key_len = snprintf(key, sizeof key, "key-%08lld", i);
    snprintf(value, (size_t)value_bytes + 1, "%0*lld", value_bytes, i);
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(rk, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_KEY(key, (size_t)key_len),
                                  RD_KAFKA_V_VALUE(value, (size_t)value_bytes), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(rk, 100);
    if (e) {
      fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
      failed++;
    }
    if (i % POLL_EVERY == 0) rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 60000);
  int unsent = rd_kafka_outq_len(rk);
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(rk);
  free(value);
  return failed || unsent ? 1 : 0;
}
