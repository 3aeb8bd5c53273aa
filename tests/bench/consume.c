/*
** The plain librdkafka consumer of `make bench`: what a careful C program
** does to read a whole topic, with the extension's consumer settings (keep
** conf[] in step with ext/client.c conf_defaults): assign() every
** partition from the beginning, take the queue in batches, stop when every
** partition reported its end. Each message goes to stdout as key TAB value
** NEWLINE, like `kcat -C -e -K '\t'` and the sqlite3 shell.
**
** Usage: consume BROKERS TOPIC       (prints the message count on stderr)
*/
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>

#define BATCH_SIZE 1024

static rd_kafka_t *consumer_new(const char *brokers) {
  static const char *const conf[][2] = {
      {"group.id", "sqlite-kafka.bench"}, {"enable.partition.eof", "true"},
      {"enable.auto.commit", "false"}, {"enable.auto.offset.store", "false"},
      {"fetch.wait.max.ms", "100"}, {"queued.min.messages", "500000"},
      {"queued.max.messages.kbytes", "16384"},
      {"isolation.level", "read_committed"}};
  char errstr[512];
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  int ok = rd_kafka_conf_set(c, "bootstrap.servers", brokers, errstr, sizeof errstr) == RD_KAFKA_CONF_OK;
  for (size_t i = 0; ok && i < sizeof conf / sizeof *conf; i++)
    ok = rd_kafka_conf_set(c, conf[i][0], conf[i][1], errstr, sizeof errstr) == RD_KAFKA_CONF_OK;
  rd_kafka_t *rk = ok ? rd_kafka_new(RD_KAFKA_CONSUMER, c, errstr, sizeof errstr) : NULL;
  if (!rk) {
    rd_kafka_conf_destroy(c);
    fprintf(stderr, "consume: %s\n", errstr);
  }
  return rk;
}

/* Assigns every partition of topic from the beginning; their count. */
static int assign_all(rd_kafka_t *rk, const char *topic) {
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  const struct rd_kafka_metadata *md;
  int n = 0;
  if (!rd_kafka_metadata(rk, 0, rkt, &md, 10000)) {
    n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(rkt);
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
  for (int p = 0; p < n; p++)
    rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  if (n) rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  return n;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: consume BROKERS TOPIC\n");
    return 2;
  }
  rd_kafka_t *rk = consumer_new(argv[1]);
  if (!rk) return 1;
  rd_kafka_poll_set_consumer(rk);
  int open = assign_all(rk, argv[2]), failed = !open;
  rd_kafka_queue_t *queue = rd_kafka_queue_get_consumer(rk);
  rd_kafka_message_t *batch[BATCH_SIZE];
  long long count = 0;
  while (open > 0 && !failed) {
    /* A batch call waits until the batch is full or the time is up: take
    ** what is there, and block only for the first message of the next. */
    ssize_t n = rd_kafka_consume_batch_queue(queue, 0, batch, BATCH_SIZE);
    if (n == 0 && (batch[0] = rd_kafka_consume_queue(queue, 1000))) n = 1;
    for (ssize_t i = 0; i < n; i++) {
      rd_kafka_message_t *m = batch[i];
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        open--;
      } else if (m->err) {
        fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
        failed = 1;
      } else {
        if (m->key) fwrite(m->key, 1, m->key_len, stdout);
        putchar('\t');
        if (m->payload) fwrite(m->payload, 1, m->len, stdout);
        putchar('\n');
        count++;
      }
      rd_kafka_message_destroy(m);
    }
    if (n < 0) failed = 1;
  }
  fflush(stdout);
  fprintf(stderr, "%lld\n", count);
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return failed;
}
