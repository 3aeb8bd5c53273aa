/*
** Consumer-group mode: a scan of a table with `group` starts at the group's
** committed offsets (or at `start` where it has none, or where the committed
** offset lies outside the partition, as Kafka's consumer does) and the
** group's position moves only when the statement that read it succeeded:
**
**   - the cursor's last scan delivered every row it read: it reached its
**     snapshot end, or its pushed-down LIMIT; and the statement was not
**     interrupted (sqlite3_interrupt, Ctrl-C); and
**   - a statement that writes nothing, in autocommit mode: the position is
**     committed when SQLite closes the cursor;
**   - a statement that writes: the position waits for everything the
**     statement did to commit, and is dropped when it rolls back (txn.c);
**     with a transactional_id table on the group's cluster it goes into
**     that Kafka transaction (consume-transform-produce, exactly once);
**   - inside an explicit transaction (BEGIN ... COMMIT), only that last
**     case is allowed: SQLite gives no word of a failed statement there
**     (nor of a ROLLBACK of a transaction that wrote nothing), so reading a
**     group otherwise is refused with the exactly-once alternatives.
**
** Several cursors of one statement over the table (a self-join, two
** subqueries, the branches of a MULTI-INDEX OR: SQLite 3.40's OP_VOpen opens
** the next branch's cursor, then closes the one before) share one position:
** a cursor that closes while another of the table is open hands it its
** starts (when that one has not scanned yet), and the position commits
** once, the furthest any of them delivered: in a statement that writes
** nothing, the last cursor to close commits what the others handed it; in
** one that writes, the transaction merges them (txn.c).
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
** xClose cannot fail: a commit there that fails is reported to sqlite3_log()
** and its rows are read again by the next scan.
*/
#include "base.h"
#include "table.h"

#include <stddef.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* The table whose options these are: scan.c always passes the table's own
** (&vtab->opts), and the group's commit needs its connection. */
static kafka_vtab *options_table(const kafka_options *opts) {
  return (kafka_vtab *)((char *)opts - offsetof(kafka_vtab, opts));
}

/* Reading a group inside an explicit transaction is refused unless its
** offsets can go into a Kafka transaction that commits with the output. */
static int refuse_in_transaction(const kafka_options *opts, char **err) {
  kafka_vtab *vtab = options_table(opts);
  if (sqlite3_get_autocommit(vtab->db) || txn_offsets_sink(vtab->txn, vtab)) return SQLITE_OK;
  /* SQLite does not tell a table that is only read whether a statement or a
  ** transaction that wrote nothing commits: the group could move past rows
  ** that are then rolled back. Python's sqlite3 opens such a transaction
  ** before an INSERT unless isolation_level=None: the error says so. */
  *err = sqlite3_mprintf(
      "kafka: group '%s' (topic '%s') cannot be read inside an explicit transaction (BEGIN ... "
      "COMMIT): a rollback could not move it back. Use autocommit (Python: sqlite3.connect(..., "
      "isolation_level=None)), a transactional_id output table on the same cluster, or a "
      "position kept in SQLite (sql/ingest-append.sql)",
      opts->group, opts->topic);
  return SQLITE_ERROR;
}

/* When the offsets go into a Kafka transaction, its producer starts before
** the group's committed offsets are asked: a producer with the same
** transactional_id that died in a transaction (kill -9) left offsets
** pending, which the broker reports as unstable until a new producer
** fences it (or transaction.timeout.ms passes). */
static int prepare_offsets_sink(const kafka_options *opts, char **err) {
  kafka_vtab *vtab = options_table(opts);
  kafka_vtab *sink = txn_offsets_sink(vtab->txn, vtab);
  return sink ? produce_prepare(sink, err) : SQLITE_OK;
}

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
  int rc = refuse_in_transaction(opts, err);
  if (rc) return rc;
  rc = prepare_offsets_sink(opts, err);
  if (rc) return rc;
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
  kafka_client *own = NULL;
  int rc = vtab->idle ? SQLITE_OK : client_new_consumer(&vtab->opts, &own, err);
  if (!rc) rc = commit(own ? own : vtab->idle, &vtab->opts, list, err);
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

/* Hands a position to the connection's transaction (txn.c), which commits
** it once what the statement wrote has committed; or commits it now, or
** gives it to another open cursor of the table that will (a statement that
** writes nothing, in autocommit mode). A failure is logged (nothing lost:
** the next scan reads those rows again). */
static void commit_position(group_state *gs, group_state *heir, kafka_vtab *vtab) {
  char *err = NULL;
  if (!sqlite3_get_autocommit(vtab->db) || txn_statement_writes(vtab->db)) {
    if (!txn_group_defer(vtab->txn, vtab, gs->reached)) gs->reached = NULL;
    else err = sqlite3_mprintf("kafka: group '%s': out of memory", vtab->opts.group);
  } else if (heir) {
    group_position_merge(&heir->reached, gs->reached);
  } else {
    group_commit(vtab, gs->reached, &err);
  }
  if (err) sqlite3_log(SQLITE_WARNING, "%s (nothing lost: the next scan reads those rows again)", err);
  sqlite3_free(err);
}

void group_close(group_state *gs, const kafka_options *opts, int interrupted) {
  kafka_vtab *vtab = options_table(opts);
  group_state *heir = unlink_open(vtab, gs);
  /* With a Kafka transaction to take the offsets, a scan that SQLite
  ** stopped early (a LIMIT it applies itself) counts too: the statement's
  ** output of every row handed over commits with the offsets after them, or
  ** nothing does. */
  int complete = gs->complete || txn_offsets_sink(vtab->txn, vtab);
  if (heir) hand_over_starts(gs, heir);
  if (complete && !interrupted && gs->reached && gs->reached->cnt) commit_position(gs, heir, vtab);
  if (gs->starts) rd_kafka_topic_partition_list_destroy(gs->starts);
  if (gs->reached) rd_kafka_topic_partition_list_destroy(gs->reached);
  memset(gs, 0, sizeof *gs);
}
