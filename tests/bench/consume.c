/*
** The plain librdkafka consumer of `make bench`: what a careful C program
** does to read a whole topic, with the extension's consumer settings (keep
** conf[] in step with ext/client/client.c conf_defaults) but two: it prefetches
** up to 16 MB, not 1 MB (with no wake-up of the fetcher when the queue
** drains, as the extension sends, librdkafka 2.0.2 fetches again only at
** its broker thread's 1 s timer: at 1 MB this program took 13-17 s for
** 1M x 100 B instead of 1-1.5 s), and its fetches at a partition's end
** wait 100 ms, not 10 (it runs no statement after it). It does this:
** list each partition's end offset (as of the start, under
** read_committed), assign() every
** partition from the beginning, take the queue in batches, and stop each
** partition at that end offset, like the extension's snapshot scans (the
** end-of-partition signal, which waits for a fetch at the end, is only a
** fallback). Each message goes to stdout as key TAB value NEWLINE, like
** `kcat -C -e -K '\t'` and the sqlite3 shell. A batch's messages are
** destroyed together after it, as the extension does (see retire() in
** ext/table/scan.c): one by one, as each was written, this program took 0.98-1.05 s
** for 1M x 100 B, 0.76-0.88 s now.
**
** Usage: consume BROKERS TOPIC       (prints the message count on stderr)
*/
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>

#define BATCH_SIZE 1024
#define WAIT_MS 10000

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

static int partition_count(rd_kafka_t *rk, const char *topic) {
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
  const struct rd_kafka_metadata *md;
  int n = 0;
  if (!rd_kafka_metadata(rk, 0, rkt, &md, WAIT_MS)) {
    n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(rkt);
  return n;
}

/* Assigns every partition of topic that holds messages from the
** beginning and sets end[p], its end offset; the number assigned, or -1. */
static int assign_all(rd_kafka_t *rk, const char *topic, int n, int64_t *end) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
  for (int p = 0; p < n; p++) rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_END;
  int open = rd_kafka_offsets_for_times(rk, list, WAIT_MS) ? -1 : 0;
  rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(n);
  for (int i = 0; open >= 0 && i < list->cnt; i++) {
    rd_kafka_topic_partition_t *tp = &list->elems[i];
    end[tp->partition] = tp->err ? -1 : tp->offset;
    if (tp->err) open = -1;
    else if (tp->offset > 0) rd_kafka_topic_partition_list_add(assign, topic, tp->partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  if (open == 0 && assign->cnt) open = rd_kafka_assign(rk, assign) ? -1 : assign->cnt;
  rd_kafka_topic_partition_list_destroy(assign);
  rd_kafka_topic_partition_list_destroy(list);
  return open;
}

/* Marks partition p done; 1 when it was open. */
static int finish(int64_t *end, int n_parts, int32_t p) {
  if (p < 0 || p >= n_parts || end[p] < 0) return 0;
  end[p] = -1;
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: consume BROKERS TOPIC\n");
    return 2;
  }
  rd_kafka_t *rk = consumer_new(argv[1]);
  if (!rk) return 1;
  rd_kafka_poll_set_consumer(rk);
  int n_parts = partition_count(rk, argv[2]);
  int64_t *end = calloc((size_t)n_parts + 1, sizeof *end);
  int open = end && n_parts ? assign_all(rk, argv[2], n_parts, end) : -1, failed = open < 0;
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
      int32_t p = m->partition;
      int inside = p >= 0 && p < n_parts && end[p] >= 0 && m->offset < end[p];
      if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
        failed = 1;
      } else if (!m->err && inside) {
        if (m->key) fwrite(m->key, 1, m->key_len, stdout);
        putchar('\t');
        if (m->payload) fwrite(m->payload, 1, m->len, stdout);
        putchar('\n');
        count++;
        if (m->offset + 1 >= end[p]) open -= finish(end, n_parts, p);
      } else {
        open -= finish(end, n_parts, p); /* its end, or past the snapshot */
      }
    }
    for (ssize_t i = 0; i < n; i++) rd_kafka_message_destroy(batch[i]);
    if (n < 0) failed = 1;
  }
  fflush(stdout);
  fprintf(stderr, "%lld\n", count);
  free(end);
  rd_kafka_queue_destroy(queue);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return failed;
}
