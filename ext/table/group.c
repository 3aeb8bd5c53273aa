/*
** Consumer-group mode, the primitives: where a group's scan starts (the
** group's committed offsets, or `start` where it has none, or where the
** committed offset lies outside the partition, as Kafka's consumer does),
** how far a cursor's scans delivered, and the commit of a position. When a
** position commits is the transaction coordinator's decision (txn.c): this
** file never calls it.
**
** A cursor's position counts when its last scan delivered every row it
** read (it reached its snapshot end, or its pushed-down LIMIT) and the
** statement was not interrupted (sqlite3_interrupt, Ctrl-C). A statement
** that fails while its scan is running (an error on row k, on_error = fail,
** a broker error) or that its caller stops stepping is closed before the
** scan's end: it reports nothing, and its rows are read again by the next
** scan. At least once, nothing lost.
**
** Several cursors of one statement over the table (a self-join, two
** subqueries, the branches of a MULTI-INDEX OR: SQLite 3.40's OP_VOpen opens
** the next branch's cursor, then closes the one before) share one position:
** a cursor that closes while another of the table is open hands it its
** starts (when that one has not scanned yet) and its position; the last to
** close reports the furthest any of them delivered.
**
** The position, per partition the statement's scans covered, is the offset
** after the last message they delivered (messages a WHERE clause then
** rejected count as delivered: a filter chooses which rows a run returns,
** not which stay for the next), or the group's start where nothing was
** read, so that a group with `start = latest` keeps its place.
*/
#include "base.h"
#include "table.h"

#include <stddef.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Where a partition starts when the group has no usable committed offset:
** the watermark `start` names. A committed offset outside [low, high] (the
** topic was recreated or truncated) is reset the same way, as Kafka's
** consumer does with auto.offset.reset, and said in sqlite3_log. */
static int64_t start_of(const kafka_options *opts, int32_t partition, int64_t committed, int64_t low,
                        int64_t high) {
  int64_t from = opts->start_latest ? high : low;
  if (committed < 0) return from;
  if (committed >= low && committed <= high) return committed;
  sqlite3_log(SQLITE_WARNING,
              "kafka: group '%s' topic '%s' partition %d: the committed offset %lld is outside the "
              "partition (offsets %lld to %lld): reset to %s, offset %lld, per start",
              opts->group, opts->topic, (int)partition, (long long)committed, (long long)low,
              (long long)high, opts->start_latest ? "latest" : "earliest", (long long)from);
  return from;
}

static rd_kafka_resp_err_t committed_attempt(kafka_client *consumer, void *ask, int timeout_ms) {
  return rd_kafka_committed(consumer->rk, ask, timeout_ms);
}

/* The group's committed offsets of the partitions in `ask` (bounded). */
static int committed(kafka_client *consumer, const kafka_options *opts,
                     rd_kafka_topic_partition_list_t *ask, char **err) {
  rd_kafka_resp_err_t e = client_retry(consumer, opts, committed_attempt, ask);
  int rc = client_wait_failed(consumer, opts, e, "committed offsets of the group", err);
  char *denied = rc == SQLITE_ERROR ? client_group_denied(consumer, opts, opts->group) : NULL;
  if (denied) {
    sqlite3_free(*err);
    *err = denied;
  }
  if (!rc && e) {
    *err = sqlite3_mprintf("kafka: group '%s': committed offsets: %s", opts->group, rd_kafka_err2str(e));
    rc = SQLITE_ERROR;
  }
  return rc;
}

int group_starts(kafka_client *consumer, const kafka_options *opts, group_state *gs,
                 partition_scan *parts, int n, const int64_t *low, const int64_t *high,
                 char **err) {
  int rc;
  if (!gs->starts) gs->starts = rd_kafka_topic_partition_list_new(n);
  rd_kafka_topic_partition_list_t *ask = rd_kafka_topic_partition_list_new(n);
  for (int i = 0; i < n; i++)
    if (!rd_kafka_topic_partition_list_find(gs->starts, opts->topic, parts[i].partition))
      rd_kafka_topic_partition_list_add(ask, opts->topic, parts[i].partition);
  rc = ask->cnt ? committed(consumer, opts, ask, err) : SQLITE_OK;
  for (int i = 0; !rc && i < n; i++) {
    rd_kafka_topic_partition_t *asked = rd_kafka_topic_partition_list_find(ask, opts->topic, parts[i].partition);
    if (!asked) continue;
    rd_kafka_topic_partition_list_add(gs->starts, opts->topic, parts[i].partition)->offset =
        start_of(opts, parts[i].partition, asked->offset, low[i], high[i]);
  }
  for (int i = 0; !rc && i < n; i++) {
    int64_t from = rd_kafka_topic_partition_list_find(gs->starts, opts->topic, parts[i].partition)->offset;
    parts[i].start = max64(parts[i].start, from);
  }
  rd_kafka_topic_partition_list_destroy(ask);
  return rc;
}

/* Raises partition's offset in *list to at least offset (adding it). */
static void raise_position(rd_kafka_topic_partition_list_t **list, const char *topic, int32_t partition,
                           int64_t offset) {
  if (!*list) *list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_t *at = rd_kafka_topic_partition_list_find(*list, topic, partition);
  if (!at) (at = rd_kafka_topic_partition_list_add(*list, topic, partition))->offset = offset;
  at->offset = max64(at->offset, offset);
}

void group_position_merge(rd_kafka_topic_partition_list_t **into, const rd_kafka_topic_partition_list_t *from) {
  for (int i = 0; from && i < from->cnt; i++)
    raise_position(into, from->elems[i].topic, from->elems[i].partition, from->elems[i].offset);
}

void group_position_floor(rd_kafka_topic_partition_list_t *list, const rd_kafka_topic_partition_list_t *floor) {
  for (int i = 0; i < list->cnt; i++) {
    const rd_kafka_topic_partition_t *at =
        rd_kafka_topic_partition_list_find(floor, list->elems[i].topic, list->elems[i].partition);
    if (at) list->elems[i].offset = max64(list->elems[i].offset, at->offset);
  }
}

void group_scan_end(group_state *gs, const kafka_options *opts, const partition_scan *parts, int n,
                    int complete) {
  gs->complete = complete;
  for (int i = 0; gs->starts && i < n; i++) {
    rd_kafka_topic_partition_t *start =
        rd_kafka_topic_partition_list_find(gs->starts, opts->topic, parts[i].partition);
    if (start) raise_position(&gs->reached, opts->topic, parts[i].partition, max64(start->offset, parts[i].next));
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

int group_commit(kafka_vtab *vtab, const rd_kafka_topic_partition_list_t *list, char **err) {
  /* A read-only connection (a Datasette page) reads from the group's
  ** position and moves nothing: looking must not consume. */
  if (connection_read_only(vtab->db)) return SQLITE_OK;
  kafka_client *own = NULL, *via = member_client(vtab) ? member_client(vtab) : vtab->idle;
  rd_kafka_topic_partition_list_t *owned = member_owned(vtab, list); /* join = 1: a revoked one is not ours */
  int rc = via ? SQLITE_OK : client_new_consumer(&vtab->opts, &own, err);
  if (!rc && owned->cnt) rc = commit(own ? own : via, &vtab->opts, owned, err);
  rd_kafka_topic_partition_list_destroy(owned);
  client_free(own);
  return rc;
}

void group_open(kafka_vtab *vtab, group_state *gs) {
  gs->next_open = vtab->open_groups;
  vtab->open_groups = gs;
}

/* Takes gs out of the table's open cursors; returns the newest other one
** (NULL: none). */
static group_state *unlink_open(kafka_vtab *vtab, group_state *gs) {
  group_state **at = &vtab->open_groups;
  while (*at != gs) at = &(*at)->next_open;
  *at = gs->next_open;
  return vtab->open_groups;
}

/* Gives a closing cursor's starts to another open cursor of the table
** that has not scanned yet. */
static void hand_over_starts(group_state *gs, group_state *heir) {
  if (heir->starts) return;
  heir->starts = gs->starts;
  gs->starts = NULL;
}

rd_kafka_topic_partition_list_t *group_close(group_state *gs, kafka_vtab *vtab, int interrupted,
                                             int complete_anyway, int hand_over,
                                             rd_kafka_topic_partition_list_t **starts) {
  group_state *heir = unlink_open(vtab, gs);
  if (!hand_over) heir = NULL;
  rd_kafka_topic_partition_list_t *position = NULL;
  *starts = NULL;
  if (heir) hand_over_starts(gs, heir);
  if ((gs->complete || complete_anyway) && !interrupted && gs->reached && gs->reached->cnt) {
    if (heir) {
      group_position_merge(&heir->reached, gs->reached);
    } else {
      position = gs->reached;
      *starts = gs->starts;
      gs->reached = gs->starts = NULL;
    }
  }
  if (gs->starts) rd_kafka_topic_partition_list_destroy(gs->starts);
  if (gs->reached) rd_kafka_topic_partition_list_destroy(gs->reached);
  memset(gs, 0, sizeof *gs);
  return position;
}
