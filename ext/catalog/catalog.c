/*
** The cluster catalog: eponymous-only virtual tables used as table-valued
** functions (like SQLite's series.c), to look at a cluster the way a Kafka
** UI does:
**
**   kafka_topics(brokers [, options])
**       topic, partitions, replication, internal
**   kafka_partitions(brokers [, topic [, options]])
**       topic, partition, leader, replicas, isr, low, high, messages
**   kafka_groups(brokers [, options])
**       group, state, protocol_type, members
**   kafka_group_offsets(brokers, group [, options])
**       group, topic, partition, committed, high, lag, lag_ms
**   kafka_offsets_for_times(brokers, topic, time [, options])
**       partition, offset, timestamp
**
** The arguments are hidden columns: brokers, then topic_arg or group_arg,
** then options (admin.c: timeout_ms and rdkafka.<property>). The options
** column reads as NULL: it may hold secrets. Each xFilter asks the cluster
** (every wait bounded by timeout_ms) and keeps the rows. A table keeps its
** client for the next call with the same brokers and options, so that a
** join calling kafka_group_offsets once per group connects once.
** ext/ops_catalog.c adds the tables of cluster operations the same way.
*/
#include "base.h"
#include "catalog.h"
#include "client.h"
#include "table.h"

#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

#define MAX_ARGS 4

typedef struct catalog_vtab {
  sqlite3_vtab base; /* must come first */
  const catalog_table *table;
  const catalog_source_table *source; /* NULL: over a cluster */
  const char *arg2;                   /* catalog_arg2_table's, or NULL */
  kafka_client *client; /* kept for the next call with the same key */
  char *client_key;     /* brokers and options of client */
  sqlite3 *db;          /* its connection: its sqlite3_interrupt() ends a call's
                        ** waits; its group positions settle before a call */
} catalog_vtab;

typedef struct catalog_cursor {
  sqlite3_vtab_cursor base; /* must come first */
  sqlite3_value *args[MAX_ARGS];
  catalog_rows rows;
  int row;
} catalog_cursor;

/* ---------------------------------------------------------------- rows -- */

static catalog_cell *new_cell(catalog_rows *rows) {
  if (rows->n_cells == rows->n_alloc) {
    int n = rows->n_alloc ? rows->n_alloc * 2 : 64;
    catalog_cell *grown = sqlite3_realloc64(rows->cells, sizeof *grown * n);
    if (!grown) {
      rows->nomem = 1;
      return NULL;
    }
    rows->cells = grown;
    rows->n_alloc = n;
  }
  catalog_cell *cell = &rows->cells[rows->n_cells++];
  memset(cell, 0, sizeof *cell);
  return cell;
}

void catalog_put_int(catalog_rows *rows, sqlite3_int64 v) {
  catalog_cell *cell = new_cell(rows);
  if (!cell) return;
  cell->type = SQLITE_INTEGER;
  cell->i = v;
}

/* Appends a cell; v < 0 (no such offset or broker) is NULL. */
void catalog_put_known(catalog_rows *rows, sqlite3_int64 v) {
  if (v >= 0) catalog_put_int(rows, v);
  else new_cell(rows);
}

/* Appends text made by sqlite3_mprintf(), taking it. */
void catalog_put_owned(catalog_rows *rows, char *text) {
  catalog_cell *cell = text ? new_cell(rows) : NULL;
  if (!cell) {
    sqlite3_free(text);
    rows->nomem = 1;
    return;
  }
  cell->type = SQLITE_TEXT;
  cell->text = text;
}

void catalog_put_text(catalog_rows *rows, const char *text) {
  catalog_put_owned(rows, sqlite3_mprintf("%s", text));
}

/* Broker ids as a JSON array: [1,2,3]. */
void catalog_put_ids(catalog_rows *rows, const int32_t *ids, int n) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  sqlite3_str_appendchar(s, 1, '[');
  for (int i = 0; i < n; i++) sqlite3_str_appendf(s, "%s%d", i ? "," : "", (int)ids[i]);
  sqlite3_str_appendchar(s, 1, ']');
  catalog_put_owned(rows, sqlite3_str_finish(s));
}

static void rows_clear(catalog_rows *rows) {
  for (int i = 0; i < rows->n_cells; i++) sqlite3_free(rows->cells[i].text);
  sqlite3_free(rows->cells);
  int n_columns = rows->n_columns;
  memset(rows, 0, sizeof *rows);
  rows->n_columns = n_columns;
}

/* ------------------------------------------------------ cluster requests -- */

static int timed_out(rd_kafka_resp_err_t e) {
  return e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__TRANSPORT;
}

/* Metadata of one topic, or of every topic when topic is NULL. */
int catalog_metadata(catalog_call *call, const char *topic, const struct rd_kafka_metadata **md,
                     char **err) {
  rd_kafka_topic_t *rkt = topic ? rd_kafka_topic_new(call->client->rk, topic, NULL) : NULL;
  rd_kafka_resp_err_t e = topic && !rkt ? rd_kafka_last_error()
                                        : rd_kafka_metadata(call->client->rk, !topic, rkt, md,
                                                            call->opts->timeout_ms);
  if (rkt) rd_kafka_topic_destroy(rkt);
  if (timed_out(e)) *err = client_timeout_error(call->client, call->opts, "metadata");
  else if (e) *err = sqlite3_mprintf("%s: metadata: %s", call->func, rd_kafka_err2str(e));
  return e ? SQLITE_ERROR : SQLITE_OK;
}

/* "func: topic 'x' does not exist on brokers '...'", with similar names. */
static char *unknown_topic(catalog_call *call, const char *topic) {
  char *similar = client_similar_topics(call->client, call->opts, topic);
  char *err = sqlite3_mprintf("%s: topic '%s' does not exist on brokers '%s'%s%s%s", call->func, topic,
                              call->opts->brokers, similar && *similar ? " (" : "", similar ? similar : "",
                              similar && *similar ? ")" : "");
  sqlite3_free(similar);
  return err;
}

int catalog_topic_partitions(catalog_call *call, const char *topic, int *n, char **err) {
  const struct rd_kafka_metadata *md;
  int rc = catalog_metadata(call, topic, &md, err);
  if (rc) return rc;
  rd_kafka_resp_err_t e = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  if (!e && md->topics[0].partition_cnt == 0) e = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    *err = unknown_topic(call, topic);
  else if (e)
    *err = sqlite3_mprintf("%s: topic '%s': %s", call->func, topic, rd_kafka_err2str(e));
  else
    *n = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  return e ? SQLITE_ERROR : SQLITE_OK;
}

/* The topics of md that exist: the mock cluster lists the topics that
** metadata requests made it create too, which the extension never did. */
static int topic_exists(catalog_call *call, const struct rd_kafka_metadata_topic *t) {
  return !brokers_are_mock(call->opts->brokers) || client_mock_has_topic(call->opts->brokers, t->topic);
}

static int by_topic_name(const void *a, const void *b) {
  return strcmp((*(const struct rd_kafka_metadata_topic *const *)a)->topic,
                (*(const struct rd_kafka_metadata_topic *const *)b)->topic);
}

/* The existing topics of md in name order (sqlite3_free the array). */
static const struct rd_kafka_metadata_topic **sorted_topics(catalog_call *call,
                                                            const struct rd_kafka_metadata *md,
                                                            int *n) {
  const struct rd_kafka_metadata_topic **topics = sqlite3_malloc64(sizeof *topics * (md->topic_cnt + 1));
  *n = 0;
  for (int i = 0; topics && i < md->topic_cnt; i++)
    if (topic_exists(call, &md->topics[i])) topics[(*n)++] = &md->topics[i];
  if (topics) qsort(topics, (size_t)*n, sizeof *topics, by_topic_name);
  return topics;
}

/* Every partition of every existing topic (the mock cluster cannot list a
** group's offsets without being told which partitions to look at). */
static int all_partitions(catalog_call *call, rd_kafka_topic_partition_list_t **out, char **err) {
  const struct rd_kafka_metadata *md;
  int rc = catalog_metadata(call, NULL, &md, err);
  if (rc) return rc;
  *out = rd_kafka_topic_partition_list_new(16);
  for (int i = 0; i < md->topic_cnt; i++)
    for (int p = 0; topic_exists(call, &md->topics[i]) && p < md->topics[i].partition_cnt; p++)
      rd_kafka_topic_partition_list_add(*out, md->topics[i].topic, md->topics[i].partitions[p].id);
  rd_kafka_metadata_destroy(md);
  return SQLITE_OK;
}

/* The group's committed offsets (ListConsumerGroupOffsets): of every
** partition it committed, or of those in `only`. */
int catalog_committed_offsets(catalog_call *call, const rd_kafka_topic_partition_list_t *only,
                              rd_kafka_topic_partition_list_t **out, char **err) {
  char errstr[256];
  rd_kafka_t *rk = call->client->rk;
  rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
  rd_kafka_AdminOptions_set_request_timeout(ao, call->opts->timeout_ms, errstr, sizeof errstr);
  rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
  rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(call->arg, only);
  rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, ao, queue);
  rd_kafka_event_t *ev = NULL;
  rd_kafka_resp_err_t e = client_await_event(call->client, queue, client_now_ms() + call->opts->timeout_ms + 1000, &ev);
  if (!e) e = rd_kafka_event_error(ev);
  const char *why = e && ev ? rd_kafka_event_error_string(ev) : rd_kafka_err2str(e);
  size_t n = 0;
  const rd_kafka_group_result_t **groups =
      e ? NULL : rd_kafka_ListConsumerGroupOffsets_result_groups(rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
  const rd_kafka_error_t *group_error = n == 1 ? rd_kafka_group_result_error(groups[0]) : NULL;
  if (group_error) {
    e = rd_kafka_error_code(group_error);
    why = rd_kafka_error_string(group_error);
  }
  if (e == RD_KAFKA_RESP_ERR__INTR) {
    *err = sqlite3_mprintf("interrupted");
  } else if (timed_out(e) || e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    *err = client_timeout_error(call->client, call->opts, "committed offsets of the group");
  } else if (e || n != 1) {
    *err = sqlite3_mprintf("%s: group '%s': %s", call->func, call->arg, e ? why : "no answer for the group");
  } else {
    *out = rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(groups[0]));
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_ListConsumerGroupOffsets_destroy(req);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(ao);
  return *err ? SQLITE_ERROR : SQLITE_OK;
}

/* -------------------------------------------------------------- tables -- */

static int topics_fill(catalog_call *call, char **err) {
  const struct rd_kafka_metadata *md;
  int rc = catalog_metadata(call, NULL, &md, err);
  if (rc) return rc;
  int n;
  const struct rd_kafka_metadata_topic **topics = sorted_topics(call, md, &n);
  for (int i = 0; topics && i < n; i++) {
    const struct rd_kafka_metadata_topic *t = topics[i];
    int replication = -1;
    for (int p = 0; p < t->partition_cnt; p++)
      if (t->partitions[p].replica_cnt > replication) replication = t->partitions[p].replica_cnt;
    catalog_put_text(call->rows, t->topic);
    catalog_put_int(call->rows, t->partition_cnt);
    catalog_put_known(call->rows, replication);
    /* librdkafka 2.0 does not pass on the broker's is_internal flag: Kafka
    ** names its internal topics with a leading "__". */
    catalog_put_int(call->rows, !strncmp(t->topic, "__", 2));
  }
  if (!topics) call->rows->nomem = 1;
  sqlite3_free(topics);
  rd_kafka_metadata_destroy(md);
  return SQLITE_OK;
}

static int by_partition_id(const void *a, const void *b) {
  int32_t x = (*(const rd_kafka_metadata_partition_t *const *)a)->id;
  int32_t y = (*(const rd_kafka_metadata_partition_t *const *)b)->id;
  return (x > y) - (x < y);
}

/* One row per partition of a topic whose metadata is t. */
static int partition_rows(catalog_call *call, const struct rd_kafka_metadata_topic *t, char **err) {
  int n = t->partition_cnt;
  const rd_kafka_metadata_partition_t **parts = sqlite3_malloc64(sizeof *parts * (n + 1));
  int64_t *low = sqlite3_malloc64(sizeof *low * (n + 1)), *high = sqlite3_malloc64(sizeof *high * (n + 1));
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
  int rc = parts && low && high ? SQLITE_OK : SQLITE_NOMEM;
  for (int i = 0; !rc && i < n; i++) parts[i] = &t->partitions[i];
  if (!rc) qsort(parts, (size_t)n, sizeof *parts, by_partition_id);
  for (int i = 0; !rc && i < n; i++) rd_kafka_topic_partition_list_add(list, t->topic, parts[i]->id);
  if (!rc) rc = client_list_offsets(call->client, call->opts, list, -2, low, err);
  if (!rc) rc = client_list_offsets(call->client, call->opts, list, -1, high, err);
  for (int i = 0; !rc && i < n; i++) {
    catalog_put_text(call->rows, t->topic);
    catalog_put_int(call->rows, parts[i]->id);
    catalog_put_known(call->rows, parts[i]->leader);
    catalog_put_ids(call->rows, parts[i]->replicas, parts[i]->replica_cnt);
    catalog_put_ids(call->rows, parts[i]->isrs, parts[i]->isr_cnt);
    catalog_put_known(call->rows, low[i]);
    catalog_put_known(call->rows, high[i]);
    catalog_put_known(call->rows, low[i] >= 0 && high[i] >= 0 ? high[i] - low[i] : -1);
  }
  rd_kafka_topic_partition_list_destroy(list);
  sqlite3_free(parts);
  sqlite3_free(low);
  sqlite3_free(high);
  return rc;
}

/* Every partition of every existing topic, in name order. */
static int all_partition_rows(catalog_call *call, char **err) {
  const struct rd_kafka_metadata *md;
  int rc = catalog_metadata(call, NULL, &md, err);
  if (rc) return rc;
  int n;
  const struct rd_kafka_metadata_topic **topics = sorted_topics(call, md, &n);
  if (!topics) rc = SQLITE_NOMEM;
  for (int i = 0; !rc && i < n; i++) rc = partition_rows(call, topics[i], err);
  sqlite3_free(topics);
  rd_kafka_metadata_destroy(md);
  return rc;
}

static int partitions_fill(catalog_call *call, char **err) {
  const struct rd_kafka_metadata *md = NULL;
  const char *topic = call->arg;
  if (!topic) return all_partition_rows(call, err);
  /* Asked for a topic by name, the mock cluster would create it. */
  if (!brokers_are_mock(call->opts->brokers) || client_mock_has_topic(call->opts->brokers, topic)) {
    int rc = catalog_metadata(call, topic, &md, err);
    if (rc) return rc;
  }
  rd_kafka_resp_err_t e = md && md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  int rc = SQLITE_ERROR;
  if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    *err = unknown_topic(call, topic);
  else if (e && !md->topics[0].partition_cnt)
    *err = sqlite3_mprintf("%s: topic '%s': %s", call->func, topic, rd_kafka_err2str(e));
  else
    rc = partition_rows(call, &md->topics[0], err);
  if (md) rd_kafka_metadata_destroy(md);
  return rc;
}

static int by_group_name(const void *a, const void *b) {
  return strcmp(((const struct rd_kafka_group_info *)a)->group, ((const struct rd_kafka_group_info *)b)->group);
}

/* The legacy group listing: one bounded call that gives protocol_type and
** the member count, which ListConsumerGroups in librdkafka 2.0 does not. */
static int groups_fill(catalog_call *call, char **err) {
  if (brokers_are_mock(call->opts->brokers)) {
    *err = sqlite3_mprintf("%s: the mock cluster cannot list consumer groups (it has no ListGroups "
                           "request); kafka_group_offsets(brokers, group) works there", call->func);
    return SQLITE_ERROR;
  }
  const struct rd_kafka_group_list *list = NULL;
  rd_kafka_resp_err_t e = rd_kafka_list_groups(call->client->rk, NULL, &list, call->opts->timeout_ms);
  if (e == RD_KAFKA_RESP_ERR__PARTIAL) {
    *err = sqlite3_mprintf("%s: not every broker listed its groups within timeout_ms=%d",
                           call->func, call->opts->timeout_ms);
  } else if (timed_out(e)) {
    *err = client_timeout_error(call->client, call->opts, "listing groups");
  } else if (e) {
    *err = sqlite3_mprintf("%s: listing groups: %s", call->func, rd_kafka_err2str(e));
  } else {
    struct rd_kafka_group_info *groups = list->groups;
    qsort(groups, (size_t)list->group_cnt, sizeof *groups, by_group_name);
    for (int i = 0; i < list->group_cnt; i++) {
      catalog_put_text(call->rows, groups[i].group);
      catalog_put_text(call->rows, groups[i].state ? groups[i].state : "");
      catalog_put_text(call->rows, groups[i].protocol_type ? groups[i].protocol_type : "");
      catalog_put_int(call->rows, groups[i].member_cnt);
    }
  }
  if (list) rd_kafka_group_list_destroy(list);
  return *err ? SQLITE_ERROR : SQLITE_OK;
}

/* lag_ms: the timestamps of the next messages the group will read, where
** its position (list) is behind the high watermark: the first message at
** or after the position, or after the low watermark when retention
** deleted the position's (where a consumer of the group would go on with
** auto.offset.reset=earliest). out[i] is -1 where there is none. */
static int next_timestamps(catalog_call *call, const rd_kafka_topic_partition_list_t *list,
                           const int64_t *high, int64_t *out, char **err) {
  int64_t *low = sqlite3_malloc64(sizeof *low * (list->cnt + 1));
  rd_kafka_topic_partition_list_t *behind = rd_kafka_topic_partition_list_new(list->cnt);
  int rc = low ? client_list_offsets(call->client, call->opts, list, -2, low, err) : SQLITE_NOMEM;
  for (int i = 0; !rc && i < list->cnt; i++)
    if (high[i] > list->elems[i].offset)
      rd_kafka_topic_partition_list_add(behind, list->elems[i].topic, list->elems[i].partition)->offset =
          low[i] > list->elems[i].offset ? low[i] : list->elems[i].offset;
  int64_t *found = sqlite3_malloc64(sizeof *found * (behind->cnt + 1));
  if (!rc) rc = found ? client_first_timestamps(call->client, call->opts, behind, found, err) : SQLITE_NOMEM;
  for (int i = 0, j = 0; !rc && i < list->cnt; i++)
    out[i] = high[i] > list->elems[i].offset ? found[j++] : -1;
  sqlite3_free(found);
  sqlite3_free(low);
  rd_kafka_topic_partition_list_destroy(behind);
  return rc;
}

static int group_offsets_fill(catalog_call *call, char **err) {
  rd_kafka_topic_partition_list_t *only = NULL, *committed = NULL;
  int rc = brokers_are_mock(call->opts->brokers) ? all_partitions(call, &only, err) : SQLITE_OK;
  if (!rc) rc = catalog_committed_offsets(call, only, &committed, err);
  if (only) rd_kafka_topic_partition_list_destroy(only);
  if (rc) return rc;
  /* Only the partitions the group committed an offset for. */
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(committed->cnt);
  for (int i = 0; i < committed->cnt; i++)
    if (!committed->elems[i].err && committed->elems[i].offset >= 0)
      rd_kafka_topic_partition_list_add(list, committed->elems[i].topic, committed->elems[i].partition)
          ->offset = committed->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(committed);
  rd_kafka_topic_partition_list_sort(list, NULL, NULL);
  /* Kafka answers no offsets for a group it does not know: an error, as in
  ** its tools, not 0 rows (a group that exists without offsets has 0). */
  if (!list->cnt && !brokers_are_mock(call->opts->brokers))
    rc = admin_require_group(call->client, call->opts, call->func, call->arg, err);
  int64_t *high = rc ? NULL : sqlite3_malloc64(sizeof *high * (list->cnt + 1));
  int64_t *next_ts = rc ? NULL : sqlite3_malloc64(sizeof *next_ts * (list->cnt + 1));
  if (!rc) rc = high && next_ts ? client_list_offsets(call->client, call->opts, list, -1, high, err) : SQLITE_NOMEM;
  if (!rc) rc = next_timestamps(call, list, high, next_ts, err);
  long long now = client_wall_ms();
  for (int i = 0; !rc && i < list->cnt; i++) {
    int64_t lag = high[i] >= 0 ? high[i] - list->elems[i].offset : -1;
    catalog_put_text(call->rows, call->arg);
    catalog_put_text(call->rows, list->elems[i].topic);
    catalog_put_int(call->rows, list->elems[i].partition);
    catalog_put_int(call->rows, list->elems[i].offset);
    catalog_put_known(call->rows, high[i]);
    catalog_put_known(call->rows, lag);
    /* A message from the future (clock skew) is no lag; a partition that
    ** holds nothing more to read past the position (transaction markers)
    ** neither. */
    catalog_put_known(call->rows, lag < 0 ? -1 : next_ts[i] < 0 ? 0 : now > next_ts[i] ? now - next_ts[i] : 0);
  }
  sqlite3_free(high);
  sqlite3_free(next_ts);
  rd_kafka_topic_partition_list_destroy(list);
  return rc;
}

/* The `time` argument of kafka_offsets_for_times: ms since the epoch,
** ISO-8601 text, or earliest / latest (ListOffsets' -2 and -1). */
static int parse_when(catalog_call *call, int64_t *when, char **err) {
  const char *t = call->arg2;
  sqlite3_int64 ms;
  char *end;
  long long v = strtoll(t, &end, 10);
  if (!sqlite3_stricmp(t, "earliest") || !sqlite3_stricmp(t, "latest")) *when = *t == 'e' || *t == 'E' ? -2 : -1;
  else if (end != t && !*end && v >= 0 && v <= FORMAT_TIME_MAX_MS) *when = v;
  else if (format_parse_time(t, &ms) && ms >= 0) *when = ms;
  else {
    *err = sqlite3_mprintf("%s: time must be ms since the epoch (0 or more), ISO-8601 text "
                           "('2026-12-07T07:00:00Z', '2026-12-07'), earliest or latest, not '%s'", call->func, t);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* kafka_offsets_for_times: for each partition, the first offset whose
** message has a timestamp at or after the time (ListOffsets, what `kcat
** -Q` and GetOffsetShell answer) and that message's timestamp; NULL for
** both where no message is that late (those tools show -1). */
static int offsets_for_times_fill(catalog_call *call, char **err) {
  int64_t when;
  int n, rc = parse_when(call, &when, err);
  if (!rc && brokers_are_mock(call->opts->brokers)) {
    *err = sqlite3_mprintf("%s: the mock cluster has no timestamp look-ups", call->func);
    rc = SQLITE_ERROR;
  }
  if (!rc) rc = catalog_topic_partitions(call, call->arg, &n, err);
  if (rc) return rc;
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
  for (int p = 0; p < n; p++) rd_kafka_topic_partition_list_add(list, call->arg, p);
  int64_t *offsets = sqlite3_malloc64(sizeof *offsets * (n + 1)), *ts = sqlite3_malloc64(sizeof *ts * (n + 1));
  rc = offsets && ts ? client_list_offsets(call->client, call->opts, list, when, offsets, err) : SQLITE_NOMEM;
  rd_kafka_topic_partition_list_t *found = rd_kafka_topic_partition_list_new(n);
  for (int p = 0; !rc && p < n; p++)
    if (offsets[p] >= 0) rd_kafka_topic_partition_list_add(found, call->arg, p)->offset = offsets[p];
  if (!rc) rc = client_first_timestamps(call->client, call->opts, found, ts, err);
  for (int p = 0, j = 0; !rc && p < n; p++) {
    catalog_put_int(call->rows, p);
    catalog_put_known(call->rows, offsets[p]);
    catalog_put_known(call->rows, offsets[p] >= 0 ? ts[j++] : -1);
  }
  rd_kafka_topic_partition_list_destroy(found);
  rd_kafka_topic_partition_list_destroy(list);
  sqlite3_free(offsets);
  sqlite3_free(ts);
  return rc;
}

static const catalog_arg2_table arg2_tables[] = {
    {{"kafka_offsets_for_times", "\"partition\" INTEGER, \"offset\" INTEGER, \"timestamp\" INTEGER", 3,
      "topic", offsets_for_times_fill, CATALOG_ARG_TEXT}, "time"},
};

static const catalog_table catalog_tables[] = {
    {"kafka_topics", "topic TEXT, partitions INTEGER, replication INTEGER, internal INTEGER", 4,
     NULL, topics_fill, CATALOG_ARG_TEXT},
    {"kafka_partitions",
     "topic TEXT, \"partition\" INTEGER, leader INTEGER, replicas TEXT, isr TEXT, low INTEGER, "
     "high INTEGER, messages INTEGER", 8, "topic", partitions_fill, CATALOG_ARG_OPTIONAL},
    {"kafka_groups", "\"group\" TEXT, state TEXT, protocol_type TEXT, members INTEGER", 4, NULL,
     groups_fill, CATALOG_ARG_TEXT},
    {"kafka_group_offsets",
     "\"group\" TEXT, topic TEXT, \"partition\" INTEGER, committed INTEGER, high INTEGER, lag INTEGER, "
     "lag_ms INTEGER", 7, "group", group_offsets_fill, CATALOG_ARG_TEXT},
};

/* ------------------------------------------------------------- module -- */

/* The arguments: brokers (or the source), the table's arguments if it has
** them, and options unless the table has a source. */
static int n_args(const catalog_vtab *v) {
  return 1 + (v->table->arg != NULL) + (v->arg2 != NULL) + (v->source == NULL);
}

/* The name of the first argument. */
static const char *first_arg(const catalog_vtab *v) { return v->source ? v->source->source : "brokers"; }

/* The arguments a call must give: the first, and the ones after it unless
** optional. */
static int n_required(const catalog_vtab *v) {
  return (v->table->arg && v->table->arg_kind != CATALOG_ARG_OPTIONAL ? 2 : 1) + (v->arg2 != NULL);
}

/* The name of argument a. */
static const char *arg_name(const catalog_vtab *v, int a) {
  if (a == 0) return first_arg(v);
  if (a == 1 && v->table->arg) return v->table->arg;
  return a == 2 && v->arg2 ? v->arg2 : "options";
}

/* The call's signature, for errors. */
static char *signature(const catalog_vtab *v) {
  const catalog_table *t = v->table;
  int optional = t->arg_kind == CATALOG_ARG_OPTIONAL;
  return sqlite3_mprintf("%s(%s%s%s%s%s%s%s)", t->name, first_arg(v), !t->arg ? "" : optional ? " [, " : ", ",
                         t->arg ? t->arg : "", v->arg2 ? ", " : "", v->arg2 ? v->arg2 : "",
                         v->source ? "" : " [, options]", optional ? "]" : "");
}

/* Declares a table over a cluster (source NULL) or over a source, with a
** second argument arg2 (or none: NULL). */
static int connect_table(sqlite3 *db, const catalog_table *t, const catalog_source_table *source,
                         const char *arg2, sqlite3_vtab **out) {
  char *schema = sqlite3_mprintf("CREATE TABLE x(%s, %s HIDDEN%s%s%s%s%s%s%s)", t->columns,
                                 source ? source->source : "brokers", t->arg ? ", " : "", t->arg ? t->arg : "",
                                 t->arg ? "_arg HIDDEN" : "", arg2 ? ", " : "", arg2 ? arg2 : "",
                                 arg2 ? "_arg HIDDEN" : "", source ? "" : ", options HIDDEN");
  int rc = schema ? sqlite3_declare_vtab(db, schema) : SQLITE_NOMEM;
  sqlite3_free(schema);
  /* A trigger or view in an untrusted database must not reach a broker
  ** (or a registry). */
  if (!rc) rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  catalog_vtab *vtab = rc ? NULL : sqlite3_malloc64(sizeof *vtab);
  if (!rc && !vtab) rc = SQLITE_NOMEM;
  if (rc) return rc;
  memset(vtab, 0, sizeof *vtab);
  vtab->table = t;
  vtab->source = source;
  vtab->arg2 = arg2;
  vtab->db = db;
  *out = &vtab->base;
  return SQLITE_OK;
}

static int catalog_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                           sqlite3_vtab **out, char **err) {
  (void)argc, (void)argv, (void)err;
  return connect_table(db, aux, NULL, NULL, out);
}

static int arg2_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                        sqlite3_vtab **out, char **err) {
  (void)argc, (void)argv, (void)err;
  const catalog_arg2_table *t = aux;
  return connect_table(db, &t->table, NULL, t->arg2, out);
}

static int source_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                          sqlite3_vtab **out, char **err) {
  (void)argc, (void)argv, (void)err;
  const catalog_source_table *source = aux;
  return connect_table(db, &source->table, source, NULL, out);
}

static void drop_client(catalog_vtab *vtab) {
  client_free(vtab->client);
  sqlite3_free(vtab->client_key);
  vtab->client = NULL;
  vtab->client_key = NULL;
}

static int catalog_disconnect(sqlite3_vtab *base) {
  drop_client((catalog_vtab *)base);
  sqlite3_free(base);
  return SQLITE_OK;
}

/* A plan lacking a required argument is refused with SQLITE_CONSTRAINT so
** that SQLite picks another: a join that passes another table's column
** (SQLite orders it the other way), or one branch of an OR (SQLite plans
** each branch with that branch's terms only; the plan of the whole WHERE
** has the arguments). When a call names no argument column but has other
** terms, it is such a branch; otherwise a missing argument is the user's,
** and an error says how to call the function. */
static int catalog_best_index(sqlite3_vtab *base, sqlite3_index_info *info) {
  const catalog_vtab *v = (catalog_vtab *)base;
  const catalog_table *t = v->table;
  int usable[MAX_ARGS] = {-1, -1, -1, -1}, seen[MAX_ARGS] = {0, 0, 0, 0}, any_arg = 0, terms = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    int a = info->aConstraint[i].iColumn - t->n_columns;
    terms += info->aConstraint[i].op != SQLITE_INDEX_CONSTRAINT_LIMIT &&
             info->aConstraint[i].op != SQLITE_INDEX_CONSTRAINT_OFFSET;
    if (a < 0 || a >= n_args(v) || info->aConstraint[i].op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    seen[a] = any_arg = 1;
    if (info->aConstraint[i].usable && usable[a] < 0) usable[a] = i;
  }
  for (int a = 0; a < n_required(v); a++) {
    if (seen[a]) continue;
    if (!any_arg && terms) return SQLITE_CONSTRAINT;
    char *sig = signature(v);
    vtab_error(base, "%s: argument %s is required: %s", t->name, arg_name(v, a), sig ? sig : "");
    sqlite3_free(sig);
    return SQLITE_ERROR;
  }
  /* An argument given from a table not read yet (a later join loop): not
  ** this plan, which would run without it (options without their
  ** credentials). */
  for (int a = 0; a < n_args(v); a++)
    if (seen[a] && usable[a] < 0) return SQLITE_CONSTRAINT;
  /* idxStr names the arguments given, for EXPLAIN QUERY PLAN. */
  sqlite3_str *given = sqlite3_str_new(NULL);
  int argc = 0;
  for (int a = 0; a < n_args(v); a++) {
    if (usable[a] < 0) continue;
    info->aConstraintUsage[usable[a]].argvIndex = ++argc;
    info->aConstraintUsage[usable[a]].omit = 1;
    info->idxNum |= 1 << a;
    sqlite3_str_appendf(given, "%s%s", argc > 1 ? ", " : "", arg_name(v, a));
  }
  info->idxStr = sqlite3_str_finish(given);
  info->needToFreeIdxStr = 1;
  info->estimatedCost = 1000;
  info->estimatedRows = 100;
  return info->idxStr ? SQLITE_OK : SQLITE_NOMEM;
}

static int catalog_open(sqlite3_vtab *base, sqlite3_vtab_cursor **out) {
  catalog_cursor *c = sqlite3_malloc64(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->rows.n_columns = ((catalog_vtab *)base)->table->n_columns;
  *out = &c->base;
  return SQLITE_OK;
}

static void cursor_clear(catalog_cursor *c) {
  rows_clear(&c->rows);
  for (int a = 0; a < MAX_ARGS; a++) sqlite3_value_free(c->args[a]);
  memset(c->args, 0, sizeof c->args);
  c->row = 0;
}

static int catalog_close(sqlite3_vtab_cursor *cursor) {
  cursor_clear((catalog_cursor *)cursor);
  sqlite3_free(cursor);
  return SQLITE_OK;
}

/* The table's client for these brokers and options: the kept one when
** they are the same, else a new one (kept in its place). */
static int vtab_client(catalog_vtab *vtab, const kafka_options *opts, const char *options, char **err) {
  char *key = sqlite3_mprintf("%s\n%s", opts->brokers, options ? options : "");
  if (!key) return SQLITE_NOMEM;
  if (vtab->client && !strcmp(key, vtab->client_key)) {
    sqlite3_free(key);
    return SQLITE_OK;
  }
  drop_client(vtab);
  int rc = client_new_consumer(opts, &vtab->client, err);
  if (rc) {
    sqlite3_free(key);
    return rc;
  }
  vtab->client_key = key;
  /* A new client first reaches the brokers: failing at once when none
  ** can be connected to, and stopping on sqlite3_interrupt(). */
  rc = client_watch(vtab->client, vtab->db);
  if (!rc) rc = client_reach(vtab->client, opts, vtab->table->name, err);
  client_unwatch(vtab->client);
  if (rc) drop_client(vtab);
  return rc;
}

/* A text argument, or NULL (after setting *err when it is required). */
static const char *text_arg(catalog_cursor *c, int a, const char *name, int required, char **err) {
  sqlite3_value *v = c->args[a];
  const char *s = v && sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
  int absent = !v || sqlite3_value_type(v) == SQLITE_NULL;
  if ((required && (!s || !*s)) || (!required && !s && !absent))
    *err = sqlite3_mprintf("%s: %s must be %s", ((catalog_vtab *)c->base.pVtab)->table->name, name,
                           required ? "a non-empty text" : "a text or NULL");
  return s;
}

/* The argument after brokers as text (NULL when optional and absent), or
** NULL after setting *err. */
static const char *table_arg(catalog_cursor *c, const catalog_table *t, char **err) {
  if (t->arg_kind == CATALOG_ARG_TEXT) return text_arg(c, 1, t->arg, 1, err);
  if (t->arg_kind == CATALOG_ARG_OPTIONAL) {
    const char *s = text_arg(c, 1, t->arg, 0, err);
    if (s && !*s) *err = sqlite3_mprintf("%s: %s must be a non-empty text or NULL", t->name, t->arg);
    return s;
  }
  if (c->args[1] && sqlite3_value_type(c->args[1]) == SQLITE_INTEGER) return (const char *)sqlite3_value_text(c->args[1]);
  *err = sqlite3_mprintf("%s: %s must be an integer", t->name, t->arg);
  return NULL;
}

/* The second argument after brokers as text (an integer's digits), or
** NULL after setting *err. */
static const char *second_arg(catalog_cursor *c, const catalog_vtab *t, char **err) {
  sqlite3_value *v = c->args[2];
  int type = v ? sqlite3_value_type(v) : SQLITE_NULL;
  const char *s = type == SQLITE_INTEGER || type == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
  if (!s || !*s) *err = sqlite3_mprintf("%s: %s must be an integer or a non-empty text", t->table->name, t->arg2);
  return s;
}

/* The rows of a table over a source: its option set to the source
** argument's text (err: the arguments were wrong). */
static int source_filter(catalog_cursor *c, const catalog_source_table *source, const char *value,
                         const char *arg, char *err) {
  kafka_options opts;
  options_init(&opts);
  char *option = err ? NULL : sqlite3_mprintf("%s=%s", source->option, value);
  const char *argv[1] = {option};
  int rc = err ? SQLITE_OK : option ? options_parse_args(&opts, 1, argv, &err) : SQLITE_NOMEM;
  opts.registry.db = ((catalog_vtab *)c->base.pVtab)->db; /* Ctrl-C ends the requests */
  if (!err && !rc) {
    catalog_call call = {source->table.name, NULL, &opts, arg, &c->rows, NULL};
    rc = source->table.fill(&call, &err);
    if (!rc && c->rows.nomem) rc = SQLITE_NOMEM;
  }
  options_free(&opts);
  sqlite3_free(option);
  if (err) {
    vtab_error(c->base.pVtab, "%s", err);
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  return rc;
}

static int catalog_filter(sqlite3_vtab_cursor *cursor, int idx_num, const char *idx_str, int argc,
                          sqlite3_value **argv) {
  (void)idx_str;
  catalog_cursor *c = (catalog_cursor *)cursor;
  catalog_vtab *vtab = (catalog_vtab *)cursor->pVtab;
  const catalog_table *t = vtab->table;
  cursor_clear(c);
  /* Group positions whose transaction has committed show as committed. */
  txn_settle_connection(vtab->db);
  int rc = SQLITE_OK;
  for (int a = 0, i = 0; !rc && a < n_args(vtab) && i < argc; a++)
    if (idx_num & (1 << a) && !(c->args[a] = sqlite3_value_dup(argv[i++]))) rc = SQLITE_NOMEM;
  if (rc) return rc;
  char *err = NULL;
  const char *brokers = text_arg(c, 0, first_arg(vtab), 1, &err);
  const char *arg = !err && t->arg ? table_arg(c, t, &err) : NULL;
  const char *arg2 = !err && vtab->arg2 ? second_arg(c, vtab, &err) : NULL;
  if (vtab->source) return source_filter(c, vtab->source, brokers, arg, err);
  const char *options = !err ? text_arg(c, n_args(vtab) - 1, "options", 0, &err) : NULL;
  kafka_options opts;
  options_init(&opts);
  if (!err) rc = admin_options(&opts, t->name, brokers, options, &err);
  /* Watermarks are the partitions' high watermarks, not their last stable
  ** offsets (what Kafka's own tools show). */
  opts.read_uncommitted = 1;
  if (!err && !rc) rc = vtab_client(vtab, &opts, options, &err);
  if (!err && !rc) rc = client_watch(vtab->client, vtab->db);
  if (!err && !rc) {
    catalog_call call = {t->name, vtab->client, &opts, arg, &c->rows, arg2};
    rc = t->fill(&call, &err);
    client_unwatch(vtab->client);
    if (!rc && c->rows.nomem) rc = SQLITE_NOMEM;
    /* A client that failed may be in a bad state: the next call starts anew. */
    if (rc) drop_client(vtab);
  }
  options_free(&opts);
  if (err) {
    vtab_error(cursor->pVtab, "%s", err);
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  return rc;
}

static int catalog_next(sqlite3_vtab_cursor *cursor) {
  ((catalog_cursor *)cursor)->row++;
  return SQLITE_OK;
}

static int catalog_eof(sqlite3_vtab_cursor *cursor) {
  catalog_cursor *c = (catalog_cursor *)cursor;
  return c->row * c->rows.n_columns >= c->rows.n_cells;
}

static int catalog_column(sqlite3_vtab_cursor *cursor, sqlite3_context *ctx, int column) {
  catalog_cursor *c = (catalog_cursor *)cursor;
  const catalog_vtab *v = (catalog_vtab *)cursor->pVtab;
  int a = column - v->table->n_columns;
  if (a >= 0) {
    /* The arguments read back as given; options and a source never (they
    ** may hold secrets). */
    int secret = v->source ? a == 0 : a == n_args(v) - 1;
    if (!secret && c->args[a]) sqlite3_result_value(ctx, c->args[a]);
    return SQLITE_OK;
  }
  const catalog_cell *cell = &c->rows.cells[c->row * c->rows.n_columns + column];
  if (cell->type == SQLITE_INTEGER) sqlite3_result_int64(ctx, cell->i);
  else if (cell->type == SQLITE_TEXT) sqlite3_result_text(ctx, cell->text, -1, SQLITE_TRANSIENT);
  return SQLITE_OK;
}

static int catalog_rowid(sqlite3_vtab_cursor *cursor, sqlite3_int64 *rowid) {
  *rowid = ((catalog_cursor *)cursor)->row + 1;
  return SQLITE_OK;
}

/* Eponymous-only: no xCreate, so CREATE VIRTUAL TABLE ... USING
** kafka_topics is refused and the table exists under its own name. */
static sqlite3_module catalog_module = {
    0,                  /* iVersion */
    NULL,               /* xCreate */
    catalog_connect,    /* xConnect */
    catalog_best_index, /* xBestIndex */
    catalog_disconnect, /* xDisconnect */
    catalog_disconnect, /* xDestroy */
    catalog_open,       /* xOpen */
    catalog_close,      /* xClose */
    catalog_filter,     /* xFilter */
    catalog_next,       /* xNext */
    catalog_eof,        /* xEof */
    catalog_column,     /* xColumn */
    catalog_rowid,      /* xRowid */
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, /* xUpdate..xShadowName */
};

/* The same, over a source. */
static sqlite3_module source_module = {
    0, NULL, source_connect, catalog_best_index, catalog_disconnect, catalog_disconnect, catalog_open,
    catalog_close, catalog_filter, catalog_next, catalog_eof, catalog_column, catalog_rowid,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, /* xUpdate..xShadowName */
};

/* The same, with a second argument. */
static sqlite3_module arg2_module = {
    0, NULL, arg2_connect, catalog_best_index, catalog_disconnect, catalog_disconnect, catalog_open,
    catalog_close, catalog_filter, catalog_next, catalog_eof, catalog_column, catalog_rowid,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, /* xUpdate..xShadowName */
};

/* Registers module for n tables of an array of elements of `size` bytes,
** each beginning with its catalog_table (its aux data). */
static int register_modules(sqlite3 *db, const sqlite3_module *module, const void *tables, size_t size,
                            size_t n) {
  int rc = SQLITE_OK;
  for (size_t i = 0; !rc && i < n; i++) {
    const catalog_table *t = (const void *)((const char *)tables + i * size);
    rc = sqlite3_create_module(db, t->name, module, (void *)t);
  }
  return rc;
}

int catalog_register_tables(sqlite3 *db, const catalog_table *tables, size_t n) {
  return register_modules(db, &catalog_module, tables, sizeof *tables, n);
}

int catalog_register_arg2_tables(sqlite3 *db, const catalog_arg2_table *tables, size_t n) {
  return register_modules(db, &arg2_module, tables, sizeof *tables, n);
}

int catalog_register_source_tables(sqlite3 *db, const catalog_source_table *tables, size_t n) {
  return register_modules(db, &source_module, tables, sizeof *tables, n);
}

int catalog_register(sqlite3 *db) {
  int rc = catalog_register_tables(db, catalog_tables, sizeof catalog_tables / sizeof *catalog_tables);
  return rc ? rc : catalog_register_arg2_tables(db, arg2_tables, sizeof arg2_tables / sizeof *arg2_tables);
}
