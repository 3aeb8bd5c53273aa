/*
** Scanning: the cursor of the `kafka` module.
**
** A scan is a snapshot: each partition the plan wants is read from its start
** (low watermark, a pushed-down offset or timestamp, or a group's committed
** offset) to its end as of the scan's start (high watermark, or last stable
** offset under read_committed). A partition is done at its end offset or on
** the end-of-partition signal, whichever comes first, so a compacted tail or
** a transaction marker never makes a scan wait. Messages arrive in batches
** from the consumer queue; every wait is bounded by timeout_ms and checks
** for sqlite3_interrupt().
*/
#include "base.h"
#include "client.h"
#include "codec.h"
#include "table.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

SQLITE_EXTENSION_INIT3

#define BATCH_SIZE 1024
#define WAIT_SLICE_MS 100
/* A scan reading at most this many offsets of each partition is a
** positioned read (offset =, a short range, one row of a join). */
#define POINT_ROWS 100
/* offset IN: listed offsets closer than this are read in one run; a
** farther one starts a new run (a new assignment) rather than read to. */
#define RUN_GAP 1000
/* Messages the scan is done with are destroyed this many at a time, not
** each as the next row comes: see retire(). */
#define RETIRE_BATCH 256

typedef struct kafka_cursor {
  sqlite3_vtab_cursor base;        /* must come first */
  kafka_client *consumer;
  int consumer_is_point;           /* consumer is the table's point consumer */
  rd_kafka_queue_t *queue;
  sqlite3_stmt *interrupt_probe;   /* SELECT 1, stepped to notice sqlite3_interrupt() */
  scan_plan plan;
  partition_scan *parts;
  int n_parts;
  int n_open;                      /* partitions not done */
  int *part_index;                 /* partition id -> index in parts, or -1 */
  int n_topic_partitions;          /* asked once per cursor (statement) */
  int64_t *known_low, *known_high; /* watermarks by partition id, asked at the
                                   ** cursor's first scan of it (-3: not yet) */
  rd_kafka_message_t *batch[BATCH_SIZE];
  int batch_len, batch_pos;
  rd_kafka_message_t *row;         /* the current row */
  rd_kafka_message_t *retired[RETIRE_BATCH]; /* done with, not yet destroyed */
  int n_retired;
  sqlite3_int64 delivered;         /* rows positioned on so far */
  int eof;
  rd_kafka_message_t **sorted;     /* head or tail mode: the rows, in order */
  int n_sorted, sorted_pos, sorted_cap;
  group_state group;               /* group mode: starts and position to commit */
  int64_t queue_msgs, queue_bytes; /* the consumer queue's limits */
  int64_t taken_msgs, taken_bytes; /* for the average message size */
  int queue_was_high;              /* the queue was near its limits */
  const char *json_error;          /* why the current row's value is not JSON */
  json_index json_index;           /* where its members are, for the typed columns */
  int json_done;
  char *decoded[2];                /* registry formats: the row's value [0] and key [1] */
  char *decode_why[2];             /* as JSON text, or why they could not be decoded */
  int key_done;
  /* A value codec with decode_columns: the row's typed columns, decoded
  ** straight from the message, only those the statement has asked for
  ** (cell_wanted: from the row a column is first asked on). */
  sql_value *cells;
  unsigned char *cell_wanted;
  int cells_done;                  /* cells hold the current row */
  int cells_off;                   /* typed columns come from the JSON: the codec
                                   ** cannot read them, or the statement reads
                                   ** the value's JSON anyway */
  scan_progress progress;          /* the shell's progress line */
} kafka_cursor;

static kafka_vtab *cursor_vtab(kafka_cursor *c) { return (kafka_vtab *)c->base.pVtab; }

int scan_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **out) {
  kafka_cursor *c = sqlite3_malloc64(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  int rc = sqlite3_prepare_v2(((kafka_vtab *)vtab)->db, "SELECT 1", -1, &c->interrupt_probe, NULL);
  if (rc) {
    sqlite3_free(c);
    return rc;
  }
  if (((kafka_vtab *)vtab)->opts.group) group_open((kafka_vtab *)vtab, &c->group);
  *out = &c->base;
  return SQLITE_OK;
}

static void cells_clear(kafka_cursor *c) {
  for (int i = 0; c->cells && i < cursor_vtab(c)->opts.n_columns; i++) sql_value_clear(&c->cells[i]);
  c->cells_done = 0;
}

/* Forgets the current row's decoding. */
static void row_clear(kafka_cursor *c) {
  c->json_error = NULL;
  c->json_done = 0;
  for (int i = 0; i < 2; i++) {
    sqlite3_free(c->decoded[i]);
    sqlite3_free(c->decode_why[i]);
    c->decoded[i] = c->decode_why[i] = NULL;
  }
  c->key_done = 0;
  cells_clear(c);
}

static void retired_destroy(kafka_cursor *c) {
  for (int i = 0; i < c->n_retired; i++) rd_kafka_message_destroy(c->retired[i]);
  c->n_retired = 0;
}

/* Destroys m with the next RETIRE_BATCH - 1 the scan is done with. A
** message destroyed between two taken from the queue, as each row gave way
** to the next, made the broker thread's allocations of the next messages
** slower, and the scan's frees: SELECT key, value of 1M x 100 B took
** 1.42-1.74 s, now 1.16-1.38 s, with 24% less CPU on the scan's thread and
** 35% less on the broker thread (perf: calloc and _int_malloc there,
** _int_free here). Batches of 4,096 and 65,536 were no faster. */
static void retire(kafka_cursor *c, rd_kafka_message_t *m) {
  if (c->n_retired == RETIRE_BATCH) retired_destroy(c);
  c->retired[c->n_retired++] = m;
}

static void set_row(kafka_cursor *c, rd_kafka_message_t *m) {
  row_clear(c);
  if (c->row && !c->sorted) retire(c, c->row);
  c->row = m;
}

/* An integer property of a librdkafka handle's configuration. */
static int64_t conf_int(rd_kafka_t *rk, const char *name) {
  char value[32];
  size_t size = sizeof value;
  return rd_kafka_conf_get(rd_kafka_conf(rk), name, value, &size) == RD_KAFKA_CONF_OK ? atoll(value) : 0;
}

/* Gives the cursor's consumer back to its table's slot (a positioned read's
** to idle_point), unassigned, for the next statement; frees it when the
** slot is taken. */
static void release_consumer(kafka_cursor *c) {
  kafka_vtab *vtab = cursor_vtab(c);
  if (c->queue) rd_kafka_queue_destroy(c->queue);
  c->queue = NULL;
  if (!c->consumer) return;
  rd_kafka_assign(c->consumer->rk, NULL);
  c->consumer->interrupt_probe = NULL;
  kafka_client **slot = c->consumer_is_point ? &vtab->idle_point : &vtab->idle;
  if (!*slot) *slot = c->consumer;
  else client_free(c->consumer);
  c->consumer = NULL;
}

/* Ends the scan and frees what it holds (also before a new xFilter). */
static void scan_reset(kafka_cursor *c) {
  set_row(c, NULL);
  retired_destroy(c); /* before the consumer goes */
  for (; c->batch_pos < c->batch_len; c->batch_pos++) rd_kafka_message_destroy(c->batch[c->batch_pos]);
  c->batch_pos = c->batch_len = 0;
  for (int i = 0; i < c->n_sorted; i++) rd_kafka_message_destroy(c->sorted[i]);
  sqlite3_free(c->sorted);
  c->sorted = NULL;
  c->n_sorted = c->sorted_pos = c->sorted_cap = 0;
  /* A scan that read to its end or to its LIMIT delivered every row it
  ** read; the group's position is committed at close (see group.c). */
  int finished = c->eof || c->delivered >= c->plan.limit;
  if (cursor_vtab(c)->opts.group) group_scan_end(&c->group, &cursor_vtab(c)->opts, c->parts, c->n_parts, finished);
  release_consumer(c);
  sqlite3_free(c->parts);
  c->parts = NULL;
  c->n_parts = c->n_open = 0;
  plan_free(&c->plan);
  c->eof = 0;
  c->delivered = 0;
  progress_end(&c->progress);
}

static int check_interrupt(kafka_cursor *c) {
  return client_interrupted(c->interrupt_probe) ? SQLITE_INTERRUPT : SQLITE_OK;
}

/* Reports the cursor's group position to the coordinator (txn.c). */
static void group_report(kafka_cursor *c, int interrupted) {
  kafka_vtab *vtab = cursor_vtab(c);
  int kind = c->group.read_kind;
  rd_kafka_topic_partition_list_t *starts;
  rd_kafka_topic_partition_list_t *position =
      group_close(&c->group, vtab, interrupted, kind == TXN_READ_WRITES && txn_group_sink(vtab->txn, vtab),
                  !txn_open(vtab->txn), &starts);
  if (position) txn_group_read(vtab->txn, vtab, position, starts, kind);
}

int scan_close(sqlite3_vtab_cursor *cursor) {
  kafka_cursor *c = (kafka_cursor *)cursor;
  int interrupted = cursor_vtab(c)->opts.group && check_interrupt(c);
  scan_reset(c);
  if (cursor_vtab(c)->opts.group) group_report(c, interrupted);
  sqlite3_free(c->part_index);
  sqlite3_free(c->known_low);
  sqlite3_free(c->known_high);
  sqlite3_free(c->cells);
  sqlite3_free(c->cell_wanted);
  sqlite3_finalize(c->interrupt_probe);
  sqlite3_free(c);
  return SQLITE_OK;
}

void scan_release_idle(kafka_vtab *vtab) {
  client_free(vtab->idle);
  client_free(vtab->idle_point);
  vtab->idle = vtab->idle_point = NULL;
}

/* A reused consumer's queue may still hold what the previous statement's
** assignment left (an error event, messages past its LIMIT): no statement
** may see another's. */
static void drain_stale(kafka_cursor *c) {
  ssize_t n;
  while ((n = rd_kafka_consume_batch_queue(c->queue, 0, c->batch, BATCH_SIZE)) > 0)
    for (ssize_t i = 0; i < n; i++) rd_kafka_message_destroy(c->batch[i]);
}

/* Non-zero when the plan reads at most POINT_ROWS offsets per partition
** (not in group or follow mode: those keep the table's own consumer). */
static int plan_is_point(const kafka_vtab *vtab, const scan_plan *plan) {
  return !vtab->opts.group && plan->follow_ms < 0 && !plan->order &&
         (plan->offset_list || sat_sub64(plan->offset_hi, plan->offset_lo) < POINT_ROWS);
}

/* A consumer for positioned reads: librdkafka prefetches up to 1 MB per
** partition and queued.min.messages, which a positioned read then waits
** for (and purges) before the next one can fetch: 50-100 ms a read on a
** large topic. Small fetches make one a few ms (a full scan would be
** slowed down by them: it keeps the table's other consumer). The queue
** limit stays well above one fetch's messages: at 100, librdkafka 2.0.2
** stopped fetching and a read now and then waited for its 1 s wake-up. */
static int new_point_consumer(const kafka_options *opts, kafka_client **out, char **err) {
  static const char *const small_fetch[][2] = {{"max.partition.fetch.bytes", "65536"},
                                               {"queued.min.messages", "10000"}};
  int n = opts->n_rdkafka + (int)(sizeof small_fetch / sizeof *small_fetch);
  kafka_options point = *opts;
  point.rdkafka = sqlite3_malloc64(sizeof *point.rdkafka * n);
  if (!point.rdkafka) return SQLITE_NOMEM;
  if (opts->n_rdkafka) memcpy(point.rdkafka, opts->rdkafka, sizeof *point.rdkafka * opts->n_rdkafka);
  for (int i = opts->n_rdkafka; i < n; i++)
    point.rdkafka[i] = (rdkafka_property){(char *)small_fetch[i - opts->n_rdkafka][0],
                                          (char *)small_fetch[i - opts->n_rdkafka][1]};
  point.n_rdkafka = n;
  int rc = client_new_consumer(&point, out, err);
  sqlite3_free(point.rdkafka);
  return rc;
}

/* The table's idle consumer (its point consumer for a positioned read),
** or a new one. */
static int acquire_consumer(kafka_cursor *c, char **err) {
  kafka_vtab *vtab = cursor_vtab(c);
  c->consumer_is_point = plan_is_point(vtab, &c->plan);
  kafka_client **slot = c->consumer_is_point ? &vtab->idle_point : &vtab->idle;
  if (*slot) {
    c->consumer = *slot;
    *slot = NULL;
  } else {
    int rc = c->consumer_is_point ? new_point_consumer(&vtab->opts, &c->consumer, err)
                                  : client_new_scan_consumer(&vtab->opts, vtab->prefetch_partitions,
                                                             &c->consumer, err);
    if (rc) return rc;
  }
  c->consumer->interrupt_probe = c->interrupt_probe;
  c->queue = rd_kafka_queue_get_consumer(c->consumer->rk);
  drain_stale(c);
  c->queue_msgs = conf_int(c->consumer->rk, "queued.min.messages");
  c->queue_bytes = conf_int(c->consumer->rk, "queued.max.messages.kbytes") * 1024;
  c->taken_msgs = c->taken_bytes = 0;
  c->queue_was_high = 0;
  return SQLITE_OK;
}

/* Offsets of every partition in parts for one ListOffsets time (-2:
** earliest, -1: latest, else a timestamp). out[i] is -1 where a timestamp
** has no message at or after it. */
static int list_offsets(kafka_cursor *c, int64_t when, int64_t *out, char **err) {
  kafka_vtab *vtab = cursor_vtab(c);
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(c->n_parts);
  for (int i = 0; i < c->n_parts; i++)
    rd_kafka_topic_partition_list_add(list, vtab->opts.topic, c->parts[i].partition);
  rd_kafka_resp_err_t e = client_offsets_for_times(c->consumer, &vtab->opts, list, when);
  for (int i = 0; !e && i < list->cnt; i++) {
    e = list->elems[i].err;
    out[i] = list->elems[i].offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  int rc = client_wait_failed(c->consumer, &vtab->opts, e, "listing offsets", err);
  const char *which = when == -2 ? "earliest" : when == -1 ? "latest" : "timestamp";
  /* A topic deleted after the scan learned its partitions: the leader says
  ** so before every broker's metadata does. */
  if (!rc && e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    *err = sqlite3_mprintf("kafka: topic '%s' does not exist on brokers '%s' (deleted while it was "
                           "read: listing %s offsets: %s)", vtab->opts.topic, vtab->opts.brokers, which,
                           rd_kafka_err2str(e));
    rc = SQLITE_ERROR;
  } else if (!rc && e) {
    *err = sqlite3_mprintf("kafka: topic '%s': listing %s offsets: %s", vtab->opts.topic, which,
                           rd_kafka_err2str(e));
    rc = SQLITE_ERROR;
  }
  return rc;
}

#define WATERMARK_UNKNOWN (-3)

/* The topic's partition count, asked at the cursor's first scan: the
** positioned reads of an IN list or a join (one xFilter each) ask again
** neither for it nor for the watermarks (statement_watermarks). */
static int topic_partitions(kafka_cursor *c, char **err) {
  kafka_vtab *vtab = cursor_vtab(c);
  if (c->n_topic_partitions) return SQLITE_OK;
  int n;
  int rc = client_topic_partitions(c->consumer, &vtab->opts, vtab->opts.topic, &n, err);
  if (rc) return rc;
  c->part_index = sqlite3_malloc64(sizeof *c->part_index * n);
  c->known_low = sqlite3_malloc64(sizeof *c->known_low * n);
  c->known_high = sqlite3_malloc64(sizeof *c->known_high * n);
  if (!c->part_index || !c->known_low || !c->known_high) return SQLITE_NOMEM;
  for (int p = 0; p < n; p++) c->known_low[p] = c->known_high[p] = WATERMARK_UNKNOWN;
  c->n_topic_partitions = n;
  return SQLITE_OK;
}

/* The partitions the plan wants, before their ranges are known. */
static int choose_partitions(kafka_cursor *c, char **err) {
  kafka_vtab *vtab = cursor_vtab(c);
  /* join = 1: the member's assignment, waited for at the cursor's first scan. */
  int rc = vtab->opts.join && !c->n_topic_partitions ? member_wait(vtab, -1, c->interrupt_probe, err) : SQLITE_OK;
  if (!rc) rc = topic_partitions(c, err);
  int n = c->n_topic_partitions;
  if (rc) return rc;
  c->parts = sqlite3_malloc64(sizeof *c->parts * (n ? n : 1));
  if (!c->parts) return SQLITE_NOMEM;
  rc = plan_narrow_by_keys(&c->plan, vtab->opts.partitioner, n);
  if (rc) return rc;
  rd_kafka_topic_partition_list_t *owned = vtab->opts.join ? member_assignment(vtab) : NULL;
  for (int p = 0; p < n; p++) {
    c->part_index[p] = -1;
    if (!plan_wants_partition(&c->plan, p)) continue;
    if (vtab->opts.join && !(owned && rd_kafka_topic_partition_list_find(owned, vtab->opts.topic, p))) continue;
    if (p >= ROWID_PARTITIONS) {
      *err = sqlite3_mprintf("kafka: topic '%s' has %d partitions: only partitions below %d can be "
                             "read (their rowid is offset * %d + partition); add a `partition < %d` "
                             "condition", vtab->opts.topic, n, ROWID_PARTITIONS, ROWID_PARTITIONS,
                             ROWID_PARTITIONS);
      if (owned) rd_kafka_topic_partition_list_destroy(owned);
      return SQLITE_ERROR;
    }
    partition_scan *ps = &c->parts[c->n_parts];
    memset(ps, 0, sizeof *ps);
    ps->partition = p;
    ps->next = -1;
    c->part_index[p] = c->n_parts++;
  }
  if (owned) rd_kafka_topic_partition_list_destroy(owned);
  return SQLITE_OK;
}

/* The low and high watermarks of the scan's partitions: asked once per
** cursor, so that every scan of one statement reads the same snapshot. */
static int statement_watermarks(kafka_cursor *c, int64_t *low, int64_t *high, char **err) {
  int asked = 1, rc = SQLITE_OK;
  for (int i = 0; i < c->n_parts; i++) asked &= c->known_high[c->parts[i].partition] != WATERMARK_UNKNOWN;
  if (!asked) {
    rc = list_offsets(c, -2, low, err);
    if (!rc) rc = list_offsets(c, -1, high, err);
    for (int i = 0; !rc && i < c->n_parts; i++) {
      c->known_low[c->parts[i].partition] = low[i];
      c->known_high[c->parts[i].partition] = high[i];
    }
  }
  for (int i = 0; !rc && i < c->n_parts; i++) {
    low[i] = c->known_low[c->parts[i].partition];
    high[i] = c->known_high[c->parts[i].partition];
  }
  return rc;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Where a timestamp lower bound starts each partition. The mock cluster
** has no timestamp look-ups (it answers with the end offset): there the
** scan starts at the low watermark and the bound only filters (still
** exact, just not faster). */
static int timestamp_starts(kafka_cursor *c, int64_t *high, char **err) {
  if (brokers_are_mock(cursor_vtab(c)->opts.brokers)) return SQLITE_OK;
  int64_t *at = sqlite3_malloc64(sizeof *at * (c->n_parts ? c->n_parts : 1));
  if (!at) return SQLITE_NOMEM;
  int rc = list_offsets(c, c->plan.timestamp_lo, at, err);
  for (int i = 0; !rc && i < c->n_parts; i++)
    c->parts[i].start = max64(c->parts[i].start, at[i] < 0 ? high[i] : at[i]);
  sqlite3_free(at);
  return rc;
}

/* Sets each partition's [start, end) from the watermarks and the plan. */
static int plan_ranges(kafka_cursor *c, char **err) {
  kafka_vtab *vtab = cursor_vtab(c);
  int n = c->n_parts ? c->n_parts : 1;
  int64_t *low = sqlite3_malloc64(sizeof *low * n), *high = sqlite3_malloc64(sizeof *high * n);
  int rc = low && high ? SQLITE_OK : SQLITE_NOMEM;
  if (!rc && c->n_parts) rc = statement_watermarks(c, low, high, err);
  int follow = c->plan.follow_ms >= 0;
  for (int i = 0; !rc && i < c->n_parts; i++) {
    partition_scan *ps = &c->parts[i];
    int64_t hi_bound = sat_add64(c->plan.offset_hi, 1);
    ps->start = max64(low[i], c->plan.offset_lo);
    ps->end = follow ? hi_bound : min64(high[i], hi_bound);
  }
  if (!rc && c->plan.timestamp_lo > 0 && c->n_parts) rc = timestamp_starts(c, high, err);
  if (!rc && vtab->opts.group && !c->group.starts)
    rc = txn_group_scan(vtab->txn, vtab, c->consumer, &c->group.read_kind, err);
  /* An exactly-once pipeline's group is fenced before its starts are read. */
  if (!rc && vtab->opts.group && !vtab->opts.join && !c->group.starts && txn_group_sink(vtab->txn, vtab))
    rc = member_wait(vtab, c->n_topic_partitions, c->interrupt_probe, err);
  if (!rc && vtab->opts.group) rc = group_starts(c->consumer, &vtab->opts, &c->group, c->parts, c->n_parts, low, high, err);
  sqlite3_free(low);
  sqlite3_free(high);
  return rc;
}

/* Assigns every partition with something to read at its start offset
** (assign() is given the offsets: no seek after it). */
static int assign_ranges(kafka_cursor *c, char **err) {
  kafka_vtab *vtab = cursor_vtab(c);
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(c->n_parts);
  c->n_open = 0;
  for (int i = 0; i < c->n_parts; i++) {
    partition_scan *ps = &c->parts[i];
    ps->done = ps->start >= ps->end;
    if (ps->done) continue;
    rd_kafka_topic_partition_list_add(list, vtab->opts.topic, ps->partition)->offset = ps->start;
    c->n_open++;
  }
  rd_kafka_resp_err_t e = rd_kafka_assign(c->consumer->rk, c->n_open ? list : NULL);
  rd_kafka_topic_partition_list_destroy(list);
  if (e) *err = sqlite3_mprintf("kafka: topic '%s': assign: %s", vtab->opts.topic, rd_kafka_err2str(e));
  return e ? SQLITE_ERROR : SQLITE_OK;
}

static void partition_done(kafka_cursor *c, partition_scan *ps) {
  if (ps->done) return;
  ps->done = 1;
  c->n_open--;
}

/* Handles one message from the queue: returns 1 when it is a row to show
** (kept), 0 when it was consumed here (destroyed), -1 on a scan error. */
static int take_message(kafka_cursor *c, rd_kafka_message_t *m, char **err) {
  int idx = m->partition >= 0 && m->partition < c->n_topic_partitions ? c->part_index[m->partition] : -1;
  partition_scan *ps = idx >= 0 ? &c->parts[idx] : NULL;
  int keep = 0;
  if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (ps && c->plan.follow_ms < 0) partition_done(c, ps);
  } else if (m->err && (ps || m->err == RD_KAFKA_RESP_ERR__FATAL)) {
    /* auto.offset.reset=error: the offset to read is gone (retention or
    ** DeleteRecords moved the low watermark): an error, never a skip. */
    int gone = m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE;
    *err = sqlite3_mprintf("kafka: topic '%s' partition %d: %s%s", cursor_vtab(c)->opts.topic,
                           (int)m->partition, gone ? "messages were deleted while the scan read them (the "
                                                     "low watermark moved past its position): " : "",
                           rd_kafka_message_errstr(m));
    keep = -1;
  } else if (!m->err && ps && !ps->done && m->offset >= ps->start && m->offset >= ps->next) {
    if (m->offset >= ps->end) {
      partition_done(c, ps);
    } else {
      ps->next = m->offset + 1;
      if (m->offset + 1 >= ps->end) partition_done(c, ps);
      keep = plan_wants_row(&c->plan, m->partition, m->offset, rd_kafka_message_timestamp(m, NULL));
    }
  }
  if (keep != 1) retire(c, m);
  return keep;
}

/* Wakes the broker threads of the open partitions' leaders: a ListOffsets
** request each, sent and not waited for (a timeout of 0: librdkafka
** drops the answer). Waiting for it cost the scan a round trip per
** wake-up, behind any fetch waiting fetch.wait.max.ms on that connection:
** with a small queue limit, many times per scan. */
static void wake_fetchers(kafka_cursor *c) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(c->n_parts);
  for (int i = 0; i < c->n_parts; i++)
    if (!c->parts[i].done)
      rd_kafka_topic_partition_list_add(list, cursor_vtab(c)->opts.topic, c->parts[i].partition)->offset =
          RD_KAFKA_OFFSET_END;
  if (list->cnt) rd_kafka_offsets_for_times(c->consumer->rk, list, 0);
  rd_kafka_topic_partition_list_destroy(list);
}

/* librdkafka 2.0.2 stops fetching while the consumer queue holds
** queued.min.messages or queued.max.messages.kbytes, and looks again when
** its broker thread wakes: after a second, or at the next request to that
** broker. A scan that reads slower than the broker sends would spend most
** of that second with an empty queue; so when the queue, having been near
** its limits, drains below half of them, a request wakes the leaders to
** fetch again (wake_fetchers). A scan the network keeps waiting never asks.
** "Near its limits" is judged on the queue as it was before the batch was
** taken: a batch of large messages takes most of the queue (1,024 x 10 KB
** is ten times its 1 MB byte limit), so the queue measured after it
** never looked near its limits, no wake-up was sent, and every refill
** idled. */
static void keep_fetching(kafka_cursor *c, ssize_t n) {
  for (ssize_t i = 0; i < n; i++) c->taken_bytes += (int64_t)(c->batch[i]->len + c->batch[i]->key_len);
  c->taken_msgs += n;
  int64_t message_bytes = c->taken_bytes / c->taken_msgs + 1;
  int64_t after = rd_kafka_queue_length(c->queue), before = after + n;
  if (4 * before >= 3 * c->queue_msgs || 4 * before * message_bytes >= 3 * c->queue_bytes)
    c->queue_was_high = 1;
  if (c->queue_was_high && 2 * after < c->queue_msgs && 2 * after * message_bytes < c->queue_bytes) {
    c->queue_was_high = 0;
    wake_fetchers(c);
  }
}

/* The next batch: what the queue holds now, else a wait of up to
** WAIT_SLICE_MS for one message (a batch call waits until the batch is
** full or its time is up, so it is never asked to wait for a full one).
** sqlite3_interrupt() is noticed at every batch. An empty wait longer than
** timeout_ms is an error while a snapshot is unfinished; in follow mode,
** follow_ms of quiet ends the scan. *idle_since is when the queue was
** found empty, 0 while messages come. */
static int refill(kafka_cursor *c, long long *idle_since, char **err) {
  kafka_vtab *vtab = cursor_vtab(c);
  ssize_t n = rd_kafka_consume_batch_queue(c->queue, 0, c->batch, BATCH_SIZE);
  if (n == 0) {
    if (!*idle_since) *idle_since = client_now_ms();
    n = rd_kafka_consume_batch_queue(c->queue, WAIT_SLICE_MS, c->batch, 1);
  }
  if (n < 0) {
    *err = sqlite3_mprintf("kafka: topic '%s': consume: %s", vtab->opts.topic, rd_kafka_err2str(rd_kafka_last_error()));
    return SQLITE_ERROR;
  }
  c->batch_pos = 0;
  c->batch_len = (int)n;
  if (check_interrupt(c)) {
    *err = sqlite3_mprintf("interrupted");
    return SQLITE_INTERRUPT;
  }
  if (n > 0) {
    keep_fetching(c, n);
    progress_add(&c->progress, n);
    *idle_since = 0;
    return SQLITE_OK;
  }
  long long idle = client_now_ms() - *idle_since;
  if (c->plan.follow_ms >= 0) {
    if (idle >= c->plan.follow_ms) c->n_open = 0;
  } else if (idle >= vtab->opts.timeout_ms) {
    char *what = sqlite3_mprintf("reading topic '%s' (%d partitions not at their end)", vtab->opts.topic, c->n_open);
    *err = client_timeout_error(c->consumer, &vtab->opts, what ? what : "reading");
    sqlite3_free(what);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* The next message of the scan in *out, or NULL at its end. */
static int pull(kafka_cursor *c, rd_kafka_message_t **out, char **err) {
  long long idle_since = 0; /* when the queue was found empty */
  *out = NULL;
  while (c->n_open > 0 || c->batch_pos < c->batch_len) {
    if (c->batch_pos == c->batch_len) {
      int rc = refill(c, &idle_since, err);
      if (rc) return rc;
      continue;
    }
    rd_kafka_message_t *m = c->batch[c->batch_pos++];
    int took = take_message(c, m, err);
    if (took < 0) return SQLITE_ERROR;
    if (took) {
      *out = m;
      return SQLITE_OK;
    }
  }
  return SQLITE_OK;
}

/* Rowid order (offset, then partition), ascending or descending. */
static int by_rowid(const void *a, const void *b) {
  const rd_kafka_message_t *x = *(rd_kafka_message_t *const *)a, *y = *(rd_kafka_message_t *const *)b;
  if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
  return x->partition < y->partition ? -1 : x->partition > y->partition;
}

static int by_rowid_desc(const void *a, const void *b) { return by_rowid(b, a); }

/* The most rows head and tail modes keep at once: twice what the
** statement can deliver (each partition gives up to LIMIT rows, and only
** LIMIT of them all are delivered). */
static int64_t sorted_bound(const kafka_cursor *c) {
  return min64(sat_mul64(c->plan.limit > 0 ? c->plan.limit : 1, 2), INT_MAX / 2);
}

/* Keeps the first `limit` rows in `order` and destroys the others. */
static void sorted_trim(kafka_cursor *c, int (*order)(const void *, const void *)) {
  qsort(c->sorted, (size_t)c->n_sorted, sizeof *c->sorted, order);
  while (c->n_sorted > c->plan.limit) rd_kafka_message_destroy(c->sorted[--c->n_sorted]);
}

/* Adds m to the rows kept; at the bound, the ones past LIMIT in `order`
** go first (no more than sorted_bound() rows are held). The array grows
** geometrically. */
static int keep_sorted(kafka_cursor *c, rd_kafka_message_t *m, int (*order)(const void *, const void *)) {
  if (c->n_sorted >= sorted_bound(c)) sorted_trim(c, order);
  if (c->n_sorted == c->sorted_cap) {
    int cap = (int)min64(max64(64, (int64_t)c->sorted_cap * 2), sorted_bound(c) + 1);
    /* (a LIMIT past INT_MAX / 4 rows: more than the array can hold) */
    rd_kafka_message_t **grown = cap > c->n_sorted ? sqlite3_realloc64(c->sorted, sizeof *grown * (size_t)cap) : NULL;
    if (!grown) {
      rd_kafka_message_destroy(m);
      return SQLITE_NOMEM;
    }
    c->sorted = grown;
    c->sorted_cap = cap;
  }
  c->sorted[c->n_sorted++] = m;
  return SQLITE_OK;
}

/* Head and tail modes: reads each partition from its start (head) or back
** from its end (tail), a window at a time that doubles each round, until
** the partition gave LIMIT rows passing the filters or has no more; then
** sorts the rows in rowid order (offset, then partition), which serves
** ORDER BY offset and ORDER BY rowid alike. */
static int window_fill(kafka_cursor *c, char **err) {
  int n = c->n_parts ? c->n_parts : 1, tail = c->plan.order == PLAN_TAIL;
  int64_t *lo = sqlite3_malloc64(sizeof *lo * n), *hi = sqlite3_malloc64(sizeof *hi * n);
  int64_t *count = sqlite3_malloc64(sizeof *count * n);
  int rc = lo && hi && count ? SQLITE_OK : SQLITE_NOMEM;
  for (int i = 0; !rc && i < c->n_parts; i++) {
    lo[i] = c->parts[i].start;
    hi[i] = max64(c->parts[i].start, c->parts[i].end);
    count[i] = 0;
  }
  for (int64_t window = c->plan.limit > 0 ? c->plan.limit : 1; !rc; window = sat_mul64(window, 2)) {
    int more = 0;
    for (int i = 0; i < c->n_parts; i++) {
      partition_scan *ps = &c->parts[i];
      int64_t take = count[i] < c->plan.limit ? min64(hi[i] - lo[i], window) : 0;
      ps->start = tail ? hi[i] - take : lo[i];
      ps->end = ps->start + take;
      ps->next = -1;
      if (tail) hi[i] -= take;
      else lo[i] += take;
      more |= take > 0;
    }
    if (!more || (rc = assign_ranges(c, err))) break;
    rd_kafka_message_t *m;
    while (!(rc = pull(c, &m, err)) && m) {
      count[c->part_index[m->partition]]++;
      if ((rc = keep_sorted(c, m, tail ? by_rowid_desc : by_rowid))) break;
    }
  }
  sqlite3_free(lo);
  sqlite3_free(hi);
  sqlite3_free(count);
  if (!rc && c->n_sorted) qsort(c->sorted, (size_t)c->n_sorted, sizeof *c->sorted, tail ? by_rowid_desc : by_rowid);
  return rc;
}

/* offset IN: the end of the run of listed offsets that begins at start
** (gaps of at most RUN_GAP), before stop. */
static int64_t run_end(const kafka_cursor *c, int64_t start, int64_t stop) {
  int64_t last = start, next;
  while ((next = plan_next_offset(&c->plan, last)) >= 0 && next - last <= RUN_GAP && next < stop) last = next;
  return min64(stop, last + 1);
}

/* offset IN: sets every partition to its next run of listed offsets after
** the one read (the first one when first); returns the number of
** partitions with one. A group reads the whole [first, last] range at
** once: its position moves in offset order. */
static int next_runs(kafka_cursor *c, int first) {
  int n = 0;
  for (int i = 0; c->plan.offset_list && i < c->n_parts; i++) {
    partition_scan *ps = &c->parts[i];
    if (first) ps->stop = ps->end;
    if (cursor_vtab(c)->opts.group) {
      n += first && ps->start < ps->end;
      continue;
    }
    int64_t from = first ? plan_next_offset(&c->plan, ps->start - 1) : plan_next_offset(&c->plan, ps->end - 1);
    ps->start = from >= 0 && from < ps->stop ? from : ps->stop;
    ps->end = ps->start < ps->stop ? run_end(c, ps->start, ps->stop) : ps->stop;
    ps->next = -1;
    n += ps->start < ps->end;
  }
  return n;
}

/* The next message of the scan; for offset IN, run after run. */
static int pull_runs(kafka_cursor *c, rd_kafka_message_t **m, char **err) {
  int rc = pull(c, m, err);
  while (!rc && !*m && c->plan.offset_list && !cursor_vtab(c)->opts.group && next_runs(c, 0)) {
    rd_kafka_assign(c->consumer->rk, NULL); /* else the new offsets wait for the old fetches */
    drain_stale(c);
    rc = assign_ranges(c, err);
    if (!rc) rc = pull(c, m, err);
  }
  return rc;
}

/* The scan has no more rows: its progress line goes before the shell
** prints what the statement found. */
static void at_end(kafka_cursor *c) {
  c->eof = 1;
  progress_end(&c->progress);
}

/* Positions on the next row. */
static int advance(kafka_cursor *c, char **err) {
  if (c->delivered >= c->plan.limit) {
    set_row(c, NULL);
    at_end(c);
    return SQLITE_OK;
  }
  rd_kafka_message_t *m = NULL;
  if (c->sorted) {
    m = c->sorted_pos < c->n_sorted ? c->sorted[c->sorted_pos++] : NULL;
  } else {
    int rc = pull_runs(c, &m, err);
    if (rc) return rc;
  }
  set_row(c, m);
  if (!m) {
    at_end(c);
    return SQLITE_OK;
  }
  c->delivered++;
  return SQLITE_OK;
}

/* What the progress line counts to: the messages of every partition's
** range (0 in follow mode and for head and tail windows: unknown). */
static int64_t messages_to_read(const kafka_cursor *c) {
  int64_t total = 0;
  for (int i = 0; !c->plan.order && c->plan.follow_ms < 0 && i < c->n_parts; i++)
    total += max64(0, c->parts[i].end - c->parts[i].start);
  return total;
}

int scan_filter(sqlite3_vtab_cursor *cursor, int idx_num, const char *idx_str, int argc,
                sqlite3_value **argv) {
  kafka_cursor *c = (kafka_cursor *)cursor;
  char *err = NULL;
  scan_reset(c);
  int rc = plan_from_filter(&c->plan, idx_num, idx_str, argc, argv, &err);
  if (!rc && c->plan.empty) {
    c->eof = 1;
    return SQLITE_OK;
  }
  if (!rc) rc = acquire_consumer(c, &err);
  if (!rc) rc = choose_partitions(c, &err);
  if (!rc) rc = plan_ranges(c, &err);
  if (!rc && !c->plan.order) next_runs(c, 1);
  if (!rc) progress_start(&c->progress, &cursor_vtab(c)->opts, messages_to_read(c));
  if (!rc) rc = c->plan.order ? window_fill(c, &err) : assign_ranges(c, &err);
  if (!rc) rc = advance(c, &err);
  if (rc) progress_end(&c->progress);
  if (err) vtab_error(cursor->pVtab, "%s", err);
  sqlite3_free(err);
  return rc;
}

int scan_next(sqlite3_vtab_cursor *cursor) {
  kafka_cursor *c = (kafka_cursor *)cursor;
  char *err = NULL;
  int rc = advance(c, &err);
  if (rc) progress_end(&c->progress); /* before the shell shows the error */
  if (err) vtab_error(cursor->pVtab, "%s", err);
  sqlite3_free(err);
  return rc;
}

int scan_eof(sqlite3_vtab_cursor *cursor) { return ((kafka_cursor *)cursor)->eof; }

int scan_rowid(sqlite3_vtab_cursor *cursor, sqlite3_int64 *rowid) {
  rd_kafka_message_t *m = ((kafka_cursor *)cursor)->row;
  *rowid = plan_rowid(m->partition, m->offset);
  return SQLITE_OK;
}

/* Decodes a key (key = 1) or value in a registry format into JSON text. */
static void decode_framed(kafka_cursor *c, int key) {
  kafka_vtab *vtab = cursor_vtab(c);
  const void *data = key ? c->row->key : c->row->payload;
  size_t len = key ? c->row->key_len : c->row->len;
  int32_t id;
  if (data && schemas_decode(vtab, key, data, len, &c->decoded[key], &id, &c->decode_why[key]) &&
      !c->decode_why[key])
    c->decode_why[key] = sqlite3_mprintf("%s: out of memory", key ? "key" : "value");
}

/* Decodes the row's value in a registry format straight into the typed
** columns asked for so far (codec decode_columns); 0 when that is not
** done (no typed column asked yet, cells_off): then its JSON is made. */
static int decode_cells(kafka_cursor *c) {
  kafka_vtab *vtab = cursor_vtab(c);
  if (!c->cells || c->cells_off || !c->row->payload) return 0;
  cells_clear(c);
  sqlite3_free(c->decode_why[0]);
  c->decode_why[0] = NULL;
  int rc = schemas_decode_columns(vtab, c->row->payload, c->row->len, c->cell_wanted, c->cells,
                                  &c->decode_why[0]);
  if (rc == SQLITE_NOTFOUND) {
    c->cells_off = 1;
    return 0;
  }
  if (rc && !c->decode_why[0]) c->decode_why[0] = sqlite3_mprintf("value: out of memory");
  c->cells_done = !rc;
  return 1;
}

/* Parses the row's value once, for the typed and error columns. */
static void decode_value(kafka_cursor *c) {
  if (c->json_done) return;
  c->json_done = 1;
  kafka_vtab *vtab = cursor_vtab(c);
  if (codec_for(vtab->opts.value_format)) {
    if (!decode_cells(c)) decode_framed(c, 0);
    c->json_error = c->decode_why[0];
    return;
  }
  if (!c->row->payload || (!vtab->opts.n_columns && vtab->opts.value_format != KAFKA_FORMAT_JSON)) return;
  c->json_error = format_check_value(c->row->payload, c->row->len, &c->json_index);
}

/* on_error = fail: the statement fails and says where. */
static int decode_failed(kafka_cursor *c, sqlite3_context *ctx) {
  kafka_vtab *vtab = cursor_vtab(c);
  if (!c->json_error || !vtab->opts.on_error_fail) return 0;
  char *msg = sqlite3_mprintf("kafka: topic '%s' partition %d offset %lld: %s", vtab->opts.topic,
                              (int)c->row->partition, (long long)c->row->offset, c->json_error);
  sqlite3_result_error(ctx, msg, -1);
  sqlite3_free(msg);
  return 1;
}

/* A key or value in a registry format: its JSON text, or its bytes as a
** BLOB when they could not be decoded (the error column says why). */
static void framed_result(kafka_cursor *c, sqlite3_context *ctx, int key) {
  if (key && !c->key_done) {
    c->key_done = 1;
    decode_framed(c, 1);
  }
  if (c->decoded[key]) sqlite3_result_text(ctx, c->decoded[key], -1, SQLITE_TRANSIENT);
  else if (key ? c->row->key != NULL : c->row->payload != NULL)
    sqlite3_result_blob64(ctx, key ? c->row->key : c->row->payload, key ? c->row->key_len : c->row->len, SQLITE_TRANSIENT);
}

/* The schema id of the row's value in a registry format (NULL when it
** is not framed). */
static void schema_id_result(kafka_cursor *c, sqlite3_context *ctx) {
  int32_t id;
  if (codec_for(cursor_vtab(c)->opts.value_format) &&
      !schemas_schema_id(cursor_vtab(c), c->row->payload, c->row->len, &id))
    sqlite3_result_int64(ctx, id);
}

/* Marks typed column k as one the statement reads (the cells are made at
** the first); 1 when it was not marked before. */
static int want_cell(kafka_cursor *c, int k) {
  int n = cursor_vtab(c)->opts.n_columns;
  if (c->cells_off) return 0;
  if (!c->cells) {
    c->cells = sqlite3_malloc64(sizeof *c->cells * (size_t)n);
    c->cell_wanted = sqlite3_malloc64((size_t)n);
    if (!c->cells || !c->cell_wanted) {
      sqlite3_free(c->cells);
      sqlite3_free(c->cell_wanted);
      c->cells = NULL;
      c->cell_wanted = NULL;
      return 0;
    }
    memset(c->cells, 0, sizeof *c->cells * (size_t)n);
    memset(c->cell_wanted, 0, (size_t)n);
  }
  if (c->cell_wanted[k]) return 0;
  c->cell_wanted[k] = 1;
  return 1;
}

/* Typed column k of a registry format: from the cells the codec decoded,
** else from the decoded record's JSON text (only the column's path is
** scanned). A row decoded before k was asked for is decoded again. */
static void codec_typed_result(kafka_cursor *c, sqlite3_context *ctx, int k) {
  if (want_cell(c, k) && c->cells_done && decode_cells(c)) c->json_error = c->decode_why[0];
  decode_value(c);
  if (decode_failed(c, ctx)) return;
  const typed_column *col = &cursor_vtab(c)->opts.columns[k];
  if (c->cells_done && c->cell_wanted[k]) { /* (not wanted: first asked after value) */
    format_value_result(ctx, col, &c->cells[k]);
    return;
  }
  if (!c->decoded[0] && !c->json_error) decode_framed(c, 0);
  const char *json = c->decoded[0];
  format_typed_result(ctx, col, json, json ? strlen(json) : 0, NULL);
}

int scan_column(sqlite3_vtab_cursor *cursor, sqlite3_context *ctx, int column) {
  kafka_cursor *c = (kafka_cursor *)cursor;
  kafka_vtab *vtab = cursor_vtab(c);
  rd_kafka_message_t *m = c->row;
  rd_kafka_headers_t *headers;
  int64_t ts;
  switch (column) {
  case KAFKA_COL_PARTITION: sqlite3_result_int(ctx, m->partition); break;
  case KAFKA_COL_OFFSET: sqlite3_result_int64(ctx, m->offset); break;
  case KAFKA_COL_TIMESTAMP:
    ts = rd_kafka_message_timestamp(m, NULL);
    if (ts >= 0) sqlite3_result_int64(ctx, ts);
    break;
  case KAFKA_COL_KEY:
    if (codec_for(vtab->opts.key_format)) framed_result(c, ctx, 1);
    else format_result(ctx, vtab->opts.key_format, m->key, m->key_len);
    break;
  case KAFKA_COL_VALUE:
    if (codec_for(vtab->opts.value_format)) {
      /* A statement that reads the JSON reads its typed columns from it
      ** too (from the next row on): one decode a row, not two. */
      c->cells_off = 1;
      decode_value(c);
      if (decode_failed(c, ctx)) break;
      if (!c->decoded[0] && !c->json_error) decode_framed(c, 0); /* the cells were decoded */
      framed_result(c, ctx, 0);
      break;
    }
    /* value = 'json' promises JSON: with on_error = fail it is checked. */
    if (vtab->opts.value_format == KAFKA_FORMAT_JSON && vtab->opts.on_error_fail) decode_value(c);
    if (!decode_failed(c, ctx)) format_result(ctx, vtab->opts.value_format, m->payload, m->len);
    break;
  case KAFKA_COL_HEADERS:
    if (!rd_kafka_message_headers(m, &headers)) sqlite3_result_text(ctx, format_headers_json(headers), -1, sqlite3_free);
    break;
  case KAFKA_COL_ERROR:
    decode_value(c);
    /* A copy: the text is the row's, freed when the cursor moves, and an
    ** aggregate (max(error)) keeps the value it is handed past that. */
    if (!decode_failed(c, ctx) && c->json_error) sqlite3_result_text(ctx, c->json_error, -1, SQLITE_TRANSIENT);
    break;
  case KAFKA_COL_SCHEMA_ID: schema_id_result(c, ctx); break;
  case KAFKA_COL_TIME: {
    char text[FORMAT_TIME_LEN + 1];
    if (format_iso_time(rd_kafka_message_timestamp(m, NULL), text))
      sqlite3_result_text(ctx, text, FORMAT_TIME_LEN, SQLITE_TRANSIENT);
    break;
  }
  case KAFKA_COL_FOLLOW:
    if (c->plan.follow_ms >= 0) sqlite3_result_int64(ctx, c->plan.follow_ms);
    break;
  default:
    if (codec_for(vtab->opts.value_format)) {
      codec_typed_result(c, ctx, column - KAFKA_COL_TYPED);
      break;
    }
    decode_value(c);
    if (decode_failed(c, ctx)) break;
    format_typed_result(ctx, &vtab->opts.columns[column - KAFKA_COL_TYPED],
                        c->json_error ? NULL : m->payload, m->len, &c->json_index);
  }
  return SQLITE_OK;
}
