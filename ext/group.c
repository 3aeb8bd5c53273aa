/*
** Consumer-group mode. A scan of a table with `group` starts at the group's
** committed offsets and, once it has delivered every row it read (it reached
** its end, or its LIMIT), commits the offset after the last message read in
** each partition. A statement that stops early (an error, an interrupt, a
** caller that stops stepping) commits nothing: at least once, nothing lost.
*/
#include "kafka_ext.h"
#include "group.h"

SQLITE_EXTENSION_INIT3

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

int group_starts(kafka_client *consumer, const kafka_options *opts, partition_scan *parts,
                 int n, const int64_t *low, const int64_t *high, char **err) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
  for (int i = 0; i < n; i++) rd_kafka_topic_partition_list_add(list, opts->topic, parts[i].partition);
  rd_kafka_resp_err_t e = rd_kafka_committed(consumer->rk, list, opts->timeout_ms);
  for (int i = 0; !e && i < n; i++) {
    int64_t committed = list->elems[i].offset;
    int64_t from = committed >= 0 ? committed : opts->start_latest ? high[i] : low[i];
    parts[i].start = max64(parts[i].start, from);
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (e == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    *err = client_timeout_error(consumer, opts, "committed offsets of the group");
  } else if (e) {
    *err = sqlite3_mprintf("kafka: group '%s': committed offsets: %s", opts->group, rd_kafka_err2str(e));
  }
  return e ? SQLITE_ERROR : SQLITE_OK;
}

/* The commit is asynchronous on a queue of its own so that its wait is
** bounded by timeout_ms (a synchronous commit waits without a bound). */
int group_commit(kafka_client *consumer, const kafka_options *opts, const partition_scan *parts,
                 int n, char **err) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
  for (int i = 0; i < n; i++)
    if (parts[i].next >= 0)
      rd_kafka_topic_partition_list_add(list, opts->topic, parts[i].partition)->offset = parts[i].next;
  rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (list->cnt) {
    rd_kafka_queue_t *queue = rd_kafka_queue_new(consumer->rk);
    e = rd_kafka_commit_queue(consumer->rk, list, queue, NULL, NULL);
    rd_kafka_event_t *ev = e ? NULL : rd_kafka_queue_poll(queue, opts->timeout_ms);
    if (!e && !ev) e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (ev) {
      e = rd_kafka_event_error(ev);
      const rd_kafka_topic_partition_list_t *done = rd_kafka_event_topic_partition_list(ev);
      for (int i = 0; !e && done && i < done->cnt; i++) e = done->elems[i].err;
      rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(queue);
  }
  rd_kafka_topic_partition_list_destroy(list);
  if (e) *err = sqlite3_mprintf("kafka: group '%s': commit: %s", opts->group, rd_kafka_err2str(e));
  return e ? SQLITE_ERROR : SQLITE_OK;
}
