/*
** Consumer-group mode: a scan of a table with `group` starts at the group's
** committed offsets (or at `start` where it has none) and the group's
** position is committed once, when SQLite closes the cursor at the end of
** the statement, and only when
**
**   - the cursor's last scan delivered every row it read: it reached its
**     snapshot end, or its pushed-down LIMIT; and
**   - the statement was not interrupted (sqlite3_interrupt, Ctrl-C).
**
** A statement that fails while its scan is running (an error on row k,
** on_error = fail, a broker error) or that its caller stops stepping is
** closed before the scan's end: it commits nothing, and its rows are read
** again by the next scan. At least once, nothing lost.
**
** The position committed, per partition the statement's scans covered, is
** the offset after the last message they delivered (messages a WHERE
** clause then rejected count as delivered: a filter chooses which rows a
** run returns, not which stay for the next), or the group's start where
** nothing was read, so that a group with `start = latest` keeps its place.
**
** xClose cannot fail: a commit that fails is reported to sqlite3_log() and
** its rows are read again by the next scan.
*/
#include "kafka_ext.h"
#include "group.h"

#include <string.h>

SQLITE_EXTENSION_INIT3

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static rd_kafka_resp_err_t committed_attempt(kafka_client *consumer, void *ask, int timeout_ms) {
  return rd_kafka_committed(consumer->rk, ask, timeout_ms);
}

/* The group's committed offsets of the partitions in `ask` (bounded). */
static int committed(kafka_client *consumer, const kafka_options *opts,
                     rd_kafka_topic_partition_list_t *ask, char **err) {
  rd_kafka_resp_err_t e = client_retry(consumer, opts, committed_attempt, ask);
  int rc = client_wait_failed(consumer, opts, e, "committed offsets of the group", err);
  if (!rc && e) {
    *err = sqlite3_mprintf("kafka: group '%s': committed offsets: %s", opts->group, rd_kafka_err2str(e));
    rc = SQLITE_ERROR;
  }
  return rc;
}

int group_starts(kafka_client *consumer, const kafka_options *opts, group_state *gs,
                 partition_scan *parts, int n, const int64_t *low, const int64_t *high,
                 char **err) {
  if (!gs->starts) gs->starts = rd_kafka_topic_partition_list_new(n);
  rd_kafka_topic_partition_list_t *ask = rd_kafka_topic_partition_list_new(n);
  for (int i = 0; i < n; i++)
    if (!rd_kafka_topic_partition_list_find(gs->starts, opts->topic, parts[i].partition))
      rd_kafka_topic_partition_list_add(ask, opts->topic, parts[i].partition);
  int rc = ask->cnt ? committed(consumer, opts, ask, err) : SQLITE_OK;
  for (int i = 0; !rc && i < n; i++) {
    rd_kafka_topic_partition_t *asked = rd_kafka_topic_partition_list_find(ask, opts->topic, parts[i].partition);
    if (!asked) continue;
    int64_t from = asked->offset >= 0 ? asked->offset : opts->start_latest ? high[i] : low[i];
    rd_kafka_topic_partition_list_add(gs->starts, opts->topic, parts[i].partition)->offset = from;
  }
  for (int i = 0; !rc && i < n; i++) {
    int64_t from = rd_kafka_topic_partition_list_find(gs->starts, opts->topic, parts[i].partition)->offset;
    parts[i].start = max64(parts[i].start, from);
  }
  rd_kafka_topic_partition_list_destroy(ask);
  return rc;
}

void group_scan_end(group_state *gs, const kafka_options *opts, const partition_scan *parts, int n,
                    int complete) {
  gs->complete = complete;
  if (!gs->starts) return;
  if (!gs->reached) gs->reached = rd_kafka_topic_partition_list_new(n);
  for (int i = 0; i < n; i++) {
    rd_kafka_topic_partition_t *start =
        rd_kafka_topic_partition_list_find(gs->starts, opts->topic, parts[i].partition);
    if (!start) continue;
    rd_kafka_topic_partition_t *at =
        rd_kafka_topic_partition_list_find(gs->reached, opts->topic, parts[i].partition);
    if (!at) (at = rd_kafka_topic_partition_list_add(gs->reached, opts->topic, parts[i].partition))->offset = -1;
    at->offset = max64(at->offset, max64(start->offset, parts[i].next));
  }
}

/* Commits the list, waiting on a queue of its own so that the wait is
** bounded by timeout_ms (a synchronous commit waits without a bound). */
static int commit(kafka_client *consumer, const kafka_options *opts,
                  const rd_kafka_topic_partition_list_t *list, char **err) {
  rd_kafka_queue_t *queue = rd_kafka_queue_new(consumer->rk);
  rd_kafka_resp_err_t e = rd_kafka_commit_queue(consumer->rk, list, queue, NULL, NULL);
  rd_kafka_event_t *ev = e ? NULL : rd_kafka_queue_poll(queue, opts->timeout_ms);
  if (!e && !ev) e = RD_KAFKA_RESP_ERR__TIMED_OUT;
  if (ev) {
    e = rd_kafka_event_error(ev);
    const rd_kafka_topic_partition_list_t *done = rd_kafka_event_topic_partition_list(ev);
    for (int i = 0; !e && done && i < done->cnt; i++) e = done->elems[i].err;
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(queue);
  if (e) *err = sqlite3_mprintf("kafka: group '%s': commit on topic '%s': %s", opts->group, opts->topic,
                                rd_kafka_err2str(e));
  return e ? SQLITE_ERROR : SQLITE_OK;
}

void group_close(group_state *gs, kafka_client *consumer, const kafka_options *opts,
                 int interrupted) {
  if (gs->complete && !interrupted && gs->reached && gs->reached->cnt) {
    kafka_client *own = NULL;
    char *err = NULL;
    if (consumer || !client_new_consumer(opts, &own, &err)) commit(own ? own : consumer, opts, gs->reached, &err);
    if (err) sqlite3_log(SQLITE_WARNING, "%s (nothing lost: the next scan reads those rows again)", err);
    sqlite3_free(err);
    client_free(own);
  }
  if (gs->starts) rd_kafka_topic_partition_list_destroy(gs->starts);
  if (gs->reached) rd_kafka_topic_partition_list_destroy(gs->reached);
  memset(gs, 0, sizeof *gs);
}
