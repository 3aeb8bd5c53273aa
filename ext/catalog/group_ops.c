/*
** Consumer group operations:
**
**   kafka_group_members(brokers, group [, options])
**       group, member_id, client_id, host, group_instance_id, assignment
**   kafka_reset_group(brokers, group, topic, to [, partitions [, options]])
**       -> a JSON array of what it set: [{"partition":0,"offset":42}, ...]
**   kafka_delete_group(brokers, group [, options])  -> the group's name
**
** `to` is what Kafka's kafka-consumer-groups --reset-offsets takes:
** 'earliest', 'latest', an offset (an integer), a time ('2026-01-01T00:00:00Z'
** or '@<ms since the epoch>', through ListOffsets by time; no message at or
** after it: the end) or a shift ('+100' / '-100', as --shift-by, from the
** committed offset). A shift past either end is clamped to it as Kafka does,
** and the result says so ("clamped": "earliest" or "latest"); an explicit
** offset outside the partition's [low, high] watermarks is an error.
** Like Kafka, a reset is refused while the group has active members.
*/
#include "base.h"
#include "catalog.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

SQLITE_EXTENSION_INIT3

#define MAX_PARTITION 1000000

/* ------------------------------------------------------------ describe -- */

/* The error of a group in a result (a timeout said as such). */
static char *group_error(kafka_client *client, const kafka_options *opts, const char *func, const char *group,
                         rd_kafka_resp_err_t e, const char *why) {
  char *what = sqlite3_mprintf("group '%s'", group);
  char *err = what ? admin_error(client, opts, func, what, e, why) : NULL;
  sqlite3_free(what);
  return err;
}

static void describe_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue, void *arg) {
  const char *group = arg;
  rd_kafka_DescribeConsumerGroups(rk, &group, 1, ao, queue);
}

/* The group's description (owned by *ev, which the caller destroys); a
** group that does not exist is an error that says so, or with missing_ok
** *out NULL. */
static int describe_group(kafka_client *client, const kafka_options *opts, const char *func, const char *group,
                          int missing_ok, rd_kafka_event_t **ev, const rd_kafka_ConsumerGroupDescription_t **out,
                          char **err) {
  int rc = admin_request(client, opts, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, func, "describing the group",
                         describe_start, (void *)group, ev, err);
  if (rc) return rc;
  size_t n = 0;
  const rd_kafka_ConsumerGroupDescription_t **groups = rd_kafka_DescribeConsumerGroups_result_groups(
      rd_kafka_event_DescribeConsumerGroups_result(*ev), &n);
  const rd_kafka_error_t *error = n == 1 ? rd_kafka_ConsumerGroupDescription_error(groups[0]) : NULL;
  rd_kafka_resp_err_t e = error ? rd_kafka_error_code(error) : n == 1 ? 0 : RD_KAFKA_RESP_ERR__BAD_MSG;
  *out = NULL;
  int missing = e == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND ||
                (!e && rd_kafka_ConsumerGroupDescription_state(groups[0]) == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD);
  if (missing && missing_ok)
    return SQLITE_OK;
  if (missing)
    *err = sqlite3_mprintf("%s: group '%s' does not exist on brokers '%s'", func, group, opts->brokers);
  else if (e)
    *err = group_error(client, opts, func, group, e, error ? rd_kafka_error_string(error) : NULL);
  if (!*err) *out = groups[0];
  return *err ? SQLITE_ERROR : SQLITE_OK;
}

int group_ops_require(kafka_client *client, const kafka_options *opts, const char *func,
                      const char *group, char **err) {
  rd_kafka_event_t *ev = NULL;
  const rd_kafka_ConsumerGroupDescription_t *g;
  int rc = describe_group(client, opts, func, group, 0, &ev, &g, err);
  if (ev) rd_kafka_event_destroy(ev);
  return rc;
}

/* A member's assignment as JSON: [{"topic":"t","partition":0}, ...]. */
static char *assignment_json(const rd_kafka_MemberDescription_t *m) {
  const rd_kafka_topic_partition_list_t *parts =
      rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
  cJSON *array = cJSON_CreateArray();
  for (int i = 0; array && parts && i < parts->cnt; i++) {
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "topic", parts->elems[i].topic);
    cJSON_AddNumberToObject(item, "partition", parts->elems[i].partition);
    cJSON_AddItemToArray(array, item);
  }
  char *json = array ? cJSON_PrintUnformatted(array) : NULL;
  char *out = json ? sqlite3_mprintf("%s", json) : NULL;
  cJSON_free(json);
  cJSON_Delete(array);
  return out;
}

static int members_fill(catalog_call *call, char **err) {
  if (brokers_are_mock(call->opts->brokers)) {
    *err = sqlite3_mprintf("%s: the mock cluster has no DescribeGroups request (use a real broker)", call->func);
    return SQLITE_ERROR;
  }
  rd_kafka_event_t *ev = NULL;
  const rd_kafka_ConsumerGroupDescription_t *g;
  int rc = describe_group(call->client, call->opts, call->func, call->arg, 0, &ev, &g, err);
  for (size_t i = 0; !rc && i < rd_kafka_ConsumerGroupDescription_member_count(g); i++) {
    const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(g, i);
    const char *instance = rd_kafka_MemberDescription_group_instance_id(m);
    catalog_put_text(call->rows, call->arg);
    catalog_put_text(call->rows, rd_kafka_MemberDescription_consumer_id(m));
    catalog_put_text(call->rows, rd_kafka_MemberDescription_client_id(m));
    catalog_put_text(call->rows, rd_kafka_MemberDescription_host(m));
    if (instance) catalog_put_text(call->rows, instance);
    else catalog_put_known(call->rows, -1);
    catalog_put_owned(call->rows, assignment_json(m));
  }
  if (ev) rd_kafka_event_destroy(ev);
  return rc;
}

static const catalog_table group_tables[] = {
    {"kafka_group_members",
     "\"group\" TEXT, member_id TEXT, client_id TEXT, host TEXT, group_instance_id TEXT, assignment TEXT", 6,
     "group", members_fill, CATALOG_ARG_TEXT},
};

/* ---------------------------------------------------------------- time -- */

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
** days_from_civil). */
static sqlite3_int64 days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  sqlite3_int64 era = (y >= 0 ? y : y - 399) / 400;
  int yoe = (int)(y - era * 400);
  int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/* Reads exactly n digits at *p into *out. */
static int digits(const char **p, int n, int *out) {
  *out = 0;
  for (int i = 0; i < n; i++, (*p)++) {
    if (!isdigit((unsigned char)**p)) return 0;
    *out = *out * 10 + (**p - '0');
  }
  return 1;
}

/* The zone suffix: none or Z (UTC), or +HH:MM / -HH:MM, as minutes. */
static int zone_minutes(const char *p, int *minutes) {
  *minutes = 0;
  if (!*p || ((*p == 'Z' || *p == 'z') && !p[1])) return 1;
  int sign = *p == '+' ? 1 : *p == '-' ? -1 : 0, hh, mm;
  p++;
  if (!sign || !digits(&p, 2, &hh) || *p++ != ':' || !digits(&p, 2, &mm) || *p) return 0;
  *minutes = sign * (hh * 60 + mm);
  return hh < 24 && mm < 60;
}

int group_ops_parse_time(const char *text, sqlite3_int64 *ms) {
  const char *p = text;
  int y, mo, d, h = 0, mi = 0, s = 0, frac = 0, zone;
  if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' || !digits(&p, 2, &d)) return 0;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' || !digits(&p, 2, &s)) return 0;
    if (*p == '.') {
      p++;
      int scale = 100, any = 0;
      for (; isdigit((unsigned char)*p); p++, any = 1, scale /= 10) frac += (*p - '0') * scale;
      if (!any) return 0;
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || !zone_minutes(p, &zone)) return 0;
  *ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi - zone) * 60000 + s * 1000 + frac;
  return 1;
}

/* --------------------------------------------------------------- reset -- */

typedef enum reset_kind { TO_EARLIEST, TO_LATEST, TO_OFFSET, TO_SHIFT, TO_TIME } reset_kind;

typedef struct reset_group {
  const char *group, *topic, *to_text;
  reset_kind kind;
  sqlite3_int64 value;    /* the offset, shift or time */
  int *parts, n_parts;    /* the partitions asked for; NULL: all */
} reset_group;

/* Parses `to`; returns 0 when it is none of the forms. */
static int parse_to(sqlite3_value *v, reset_group *r) {
  if (sqlite3_value_type(v) == SQLITE_INTEGER) {
    r->kind = TO_OFFSET;
    r->value = sqlite3_value_int64(v);
    return 1;
  }
  const char *t = sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
  if (!t || !*t) return 0;
  r->to_text = t;
  if (!strcasecmp(t, "earliest")) r->kind = TO_EARLIEST;
  else if (!strcasecmp(t, "latest")) r->kind = TO_LATEST;
  else if (group_ops_parse_time(t, &r->value)) r->kind = TO_TIME;
  else {
    char *end;
    errno = 0;
    r->value = strtoll(t + (*t == '@'), &end, 10);
    r->kind = *t == '@' ? TO_TIME : (*t == '+' || *t == '-') ? TO_SHIFT : TO_OFFSET;
    return !errno && !*end && end != t + (*t == '@') && isdigit((unsigned char)end[-1]) &&
           (*t != '@' || isdigit((unsigned char)t[1]));
  }
  return 1;
}

/* The partitions argument: NULL (all), an integer, or a JSON array of
** integers ('[0, 2]'). Returns 0 when it is not one. */
static int parse_partitions(sqlite3_value *v, reset_group *r) {
  if (sqlite3_value_type(v) == SQLITE_NULL) return 1;
  if (sqlite3_value_type(v) == SQLITE_INTEGER) {
    sqlite3_int64 p = sqlite3_value_int64(v);
    r->parts = sqlite3_malloc(sizeof *r->parts);
    if (!r->parts || p < 0 || p > MAX_PARTITION) return 0;
    r->parts[r->n_parts++] = (int)p;
    return 1;
  }
  cJSON *array = sqlite3_value_type(v) == SQLITE_TEXT ? cJSON_Parse((const char *)sqlite3_value_text(v)) : NULL;
  int n = cJSON_IsArray(array) ? cJSON_GetArraySize(array) : 0;
  r->parts = n ? sqlite3_malloc64(sizeof *r->parts * n) : NULL;
  for (const cJSON *item = r->parts ? array->child : NULL; item; item = item->next) {
    if (!cJSON_IsNumber(item) || item->valuedouble < 0 || item->valuedouble > MAX_PARTITION ||
        item->valuedouble != (int)item->valuedouble)
      break;
    r->parts[r->n_parts++] = (int)item->valuedouble;
  }
  cJSON_Delete(array);
  return n > 0 && r->n_parts == n;
}

/* Kafka resets the offsets of an inactive group only. */
static int check_inactive(kafka_client *client, const kafka_options *opts, const reset_group *r, char **err) {
  static const char *const func = "kafka_reset_group";
  rd_kafka_event_t *ev = NULL;
  const rd_kafka_ConsumerGroupDescription_t *g;
  /* A group that does not exist yet may be given offsets, as Kafka's tool
  ** does: that is how a new group starts at a chosen place. */
  int rc = describe_group(client, opts, func, r->group, 1, &ev, &g, err);
  size_t members = rc || !g ? 0 : rd_kafka_ConsumerGroupDescription_member_count(g);
  if (members)
    *err = sqlite3_mprintf("%s: group '%s' has %d active member(s) (state %s): Kafka resets the offsets of an "
                           "inactive group only; stop its consumers first", func, r->group, (int)members,
                           rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(g)));
  if (ev) rd_kafka_event_destroy(ev);
  return rc ? rc : members ? SQLITE_ERROR : SQLITE_OK;
}

/* The partitions to reset: those asked for (each checked), or all. */
static int reset_partitions(catalog_call *call, const reset_group *r, rd_kafka_topic_partition_list_t **out,
                            char **err) {
  int n;
  int rc = catalog_topic_partitions(call, r->topic, &n, err);
  if (rc) return rc;
  *out = rd_kafka_topic_partition_list_new(r->parts ? r->n_parts : n);
  for (int i = 0; !r->parts && i < n; i++) rd_kafka_topic_partition_list_add(*out, r->topic, i);
  for (int i = 0; r->parts && i < r->n_parts && !rc; i++) {
    if (r->parts[i] >= n) {
      *err = sqlite3_mprintf("%s: topic '%s' has no partition %d (it has %d)", call->func, r->topic, r->parts[i], n);
      rc = SQLITE_ERROR;
    } else if (!rd_kafka_topic_partition_list_find(*out, r->topic, r->parts[i])) {
      rd_kafka_topic_partition_list_add(*out, r->topic, r->parts[i]);
    }
  }
  rd_kafka_topic_partition_list_sort(*out, NULL, NULL);
  return rc;
}

/* The offsets of a time (ListOffsets by timestamp): no message at or after
** it means the end, as Kafka's tool does. */
static int offsets_at_time(catalog_call *call, rd_kafka_topic_partition_list_t *list, const int64_t *high,
                           sqlite3_int64 when, int64_t *out, char **err) {
  rd_kafka_topic_partition_list_t *ask = rd_kafka_topic_partition_list_copy(list);
  rd_kafka_resp_err_t e = client_offsets_for_times(call->client, call->opts, ask, when);
  int rc = client_wait_failed(call->client, call->opts, e, "offsets for the time", err);
  if (!rc && e) {
    *err = sqlite3_mprintf("%s: offsets for the time: %s", call->func, rd_kafka_err2str(e));
    rc = SQLITE_ERROR;
  }
  for (int i = 0; !rc && i < ask->cnt; i++) out[i] = ask->elems[i].err || ask->elems[i].offset < 0 ? high[i] : ask->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(ask);
  return rc;
}

/* The committed offsets of the partitions of list, for a shift: Kafka
** cannot shift a partition without one. */
static int committed_for_shift(catalog_call *call, const reset_group *r, rd_kafka_topic_partition_list_t *list,
                               int64_t *out, char **err) {
  rd_kafka_topic_partition_list_t *committed = NULL;
  catalog_call group_call = *call;
  group_call.arg = r->group;
  int rc = catalog_committed_offsets(&group_call, list, &committed, err);
  for (int i = 0; !rc && i < list->cnt; i++) {
    rd_kafka_topic_partition_t *c = rd_kafka_topic_partition_list_find(committed, r->topic, list->elems[i].partition);
    out[i] = c && !c->err ? c->offset : -1;
    if (out[i] < 0) {
      *err = sqlite3_mprintf("%s: cannot shift partition %d of topic '%s': group '%s' has no committed offset "
                             "there (reset it to 'earliest', 'latest', an offset or a time first)",
                             call->func, list->elems[i].partition, r->topic, r->group);
      rc = SQLITE_ERROR;
    }
  }
  if (committed) rd_kafka_topic_partition_list_destroy(committed);
  return rc;
}

/* a + b, saturating at the int64 bounds. */
static sqlite3_int64 add_saturating(sqlite3_int64 a, sqlite3_int64 b) {
  if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
  if (b < 0 && a < INT64_MIN - b) return INT64_MIN;
  return a + b;
}

/* Sets each partition's new offset in list (and clamped[i]: -1 raised to
** the earliest, 1 lowered to the latest, 0 none). */
static int reset_targets(catalog_call *call, const reset_group *r, rd_kafka_topic_partition_list_t *list,
                         const int64_t *low, const int64_t *high, int64_t *base, int *clamped, char **err) {
  int rc = SQLITE_OK;
  if (r->kind == TO_TIME) rc = offsets_at_time(call, list, high, r->value, base, err);
  if (r->kind == TO_SHIFT) rc = committed_for_shift(call, r, list, base, err);
  for (int i = 0; !rc && i < list->cnt; i++) {
    int p = list->elems[i].partition;
    sqlite3_int64 to = r->kind == TO_EARLIEST ? low[i] : r->kind == TO_LATEST ? high[i]
                     : r->kind == TO_OFFSET ? r->value : r->kind == TO_TIME ? base[i]
                     : add_saturating(base[i], r->value);
    clamped[i] = r->kind == TO_SHIFT ? (to < low[i] ? -1 : to > high[i] ? 1 : 0) : 0;
    if (clamped[i]) to = clamped[i] < 0 ? low[i] : high[i];
    if (r->kind == TO_OFFSET && (to < low[i] || to > high[i])) {
      *err = sqlite3_mprintf("%s: offset %lld is %s of partition %d of topic '%s' (its offsets run from %lld to "
                             "%lld)", call->func, (long long)to, to < low[i] ? "before the start" : "past the end",
                             p, r->topic, (long long)low[i], (long long)high[i]);
      rc = SQLITE_ERROR;
    }
    list->elems[i].offset = to;
  }
  return rc;
}

static void alter_offsets_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue, void *arg) {
  rd_kafka_AlterConsumerGroupOffsets_t *req = arg;
  rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, ao, queue);
}

/* Commits the offsets of list for the group (AlterConsumerGroupOffsets). */
static int commit_offsets(catalog_call *call, const reset_group *r, rd_kafka_topic_partition_list_t *list,
                          char **err) {
  rd_kafka_AlterConsumerGroupOffsets_t *req = rd_kafka_AlterConsumerGroupOffsets_new(r->group, list);
  rd_kafka_event_t *ev = NULL;
  int rc = admin_request(call->client, call->opts, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, call->func,
                         "committing offsets", alter_offsets_start, req, &ev, err);
  size_t n = 0;
  const rd_kafka_group_result_t **groups = rc ? NULL : rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
  const rd_kafka_error_t *error = n == 1 ? rd_kafka_group_result_error(groups[0]) : NULL;
  const rd_kafka_topic_partition_list_t *parts = n == 1 ? rd_kafka_group_result_partitions(groups[0]) : NULL;
  for (int i = 0; !rc && !error && parts && i < parts->cnt; i++)
    if (parts->elems[i].err) {
      *err = sqlite3_mprintf("%s: group '%s' partition %d: %s", call->func, r->group, parts->elems[i].partition,
                             rd_kafka_err2str(parts->elems[i].err));
      rc = SQLITE_ERROR;
    }
  if (!rc && (error || n != 1)) {
    *err = group_error(call->client, call->opts, call->func, r->group,
                       error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR__BAD_MSG,
                       error ? rd_kafka_error_string(error) : "no answer for the group");
    rc = SQLITE_ERROR;
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_AlterConsumerGroupOffsets_destroy(req);
  return rc;
}

/* What was set, as JSON: [{"partition":0,"offset":42,"clamped":"earliest"}]. */
static char *reset_json(const rd_kafka_topic_partition_list_t *list, const int *clamped) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  sqlite3_str_appendchar(s, 1, '[');
  for (int i = 0; i < list->cnt; i++) {
    sqlite3_str_appendf(s, "%s{\"partition\":%d,\"offset\":%lld", i ? "," : "", list->elems[i].partition,
                        (long long)list->elems[i].offset);
    if (clamped[i]) sqlite3_str_appendf(s, ",\"clamped\":\"%s\"", clamped[i] < 0 ? "earliest" : "latest");
    sqlite3_str_appendchar(s, 1, '}');
  }
  sqlite3_str_appendchar(s, 1, ']');
  return sqlite3_str_finish(s);
}

static int reset_op(sqlite3_context *ctx, kafka_client *client, const kafka_options *opts, void *arg, char **err) {
  const reset_group *r = arg;
  catalog_call call = {"kafka_reset_group", client, opts, NULL, NULL, NULL};
  rd_kafka_topic_partition_list_t *list = NULL;
  int rc = check_inactive(client, opts, r, err);
  if (!rc) rc = reset_partitions(&call, r, &list, err);
  int n = list ? list->cnt : 0;
  int64_t *low = sqlite3_malloc64(sizeof *low * (n + 1)), *high = sqlite3_malloc64(sizeof *high * (n + 1));
  int64_t *base = sqlite3_malloc64(sizeof *base * (n + 1));
  int *clamped = sqlite3_malloc64(sizeof *clamped * (n + 1));
  if (!rc && (!low || !high || !base || !clamped)) rc = SQLITE_NOMEM;
  if (!rc) rc = client_list_offsets(client, opts, list, -2, low, err);
  if (!rc) rc = client_list_offsets(client, opts, list, -1, high, err);
  for (int i = 0; !rc && i < n; i++)
    if (low[i] < 0 || high[i] < 0) {
      *err = sqlite3_mprintf("%s: partition %d of topic '%s' has no leader answering", call.func,
                             list->elems[i].partition, r->topic);
      rc = SQLITE_ERROR;
    }
  if (!rc) rc = reset_targets(&call, r, list, low, high, base, clamped, err);
  if (!rc) rc = commit_offsets(&call, r, list, err);
  char *json = rc ? NULL : reset_json(list, clamped);
  if (!rc && !json) rc = SQLITE_NOMEM;
  if (!rc) sqlite3_result_text(ctx, json, -1, sqlite3_free);
  if (list) rd_kafka_topic_partition_list_destroy(list);
  sqlite3_free(low);
  sqlite3_free(high);
  sqlite3_free(base);
  sqlite3_free(clamped);
  return rc;
}

static void reset_group_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const func = "kafka_reset_group";
  reset_group r;
  memset(&r, 0, sizeof r);
  const char *options;
  const char *brokers = admin_text_arg(ctx, argv[0], func, "brokers");
  if (!brokers || !(r.group = admin_text_arg(ctx, argv[1], func, "group")) ||
      !(r.topic = admin_text_arg(ctx, argv[2], func, "topic")) ||
      !admin_optional_text(ctx, argc, argv, 5, func, "options", &options))
    return;
  if (!parse_to(argv[3], &r))
    admin_arg_error(ctx, func, "to", "'earliest', 'latest', an offset, a time ('2026-01-01T00:00:00Z' or "
                                     "'@<ms since the epoch>') or a shift ('+100', '-100')");
  else if (r.kind == TO_OFFSET && r.value < 0)
    admin_arg_error(ctx, func, "to", "an offset of 0 or more (a negative one is no offset; shift with '-N')");
  else if (argc > 4 && !parse_partitions(argv[4], &r))
    admin_arg_error(ctx, func, "partitions", "NULL (all), a partition number or a JSON array of them ('[0, 2]')");
  else
    admin_run(ctx, func, brokers, options, "DescribeGroups", reset_op, &r);
  sqlite3_free(r.parts);
}

/* -------------------------------------------------------------- delete -- */

static void delete_group_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue, void *arg) {
  rd_kafka_DeleteGroup_t *dg = rd_kafka_DeleteGroup_new(arg);
  rd_kafka_DeleteGroups(rk, &dg, 1, ao, queue);
  rd_kafka_DeleteGroup_destroy(dg);
}

static int delete_group_op(sqlite3_context *ctx, kafka_client *client, const kafka_options *opts, void *arg,
                           char **err) {
  static const char *const func = "kafka_delete_group";
  const char *group = arg;
  rd_kafka_event_t *ev = NULL;
  int rc = admin_request(client, opts, RD_KAFKA_ADMIN_OP_DELETEGROUPS, func, "deleting the group",
                         delete_group_start, arg, &ev, err);
  size_t n = 0;
  const rd_kafka_group_result_t **groups =
      rc ? NULL : rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
  const rd_kafka_error_t *error = n == 1 ? rd_kafka_group_result_error(groups[0]) : NULL;
  rd_kafka_resp_err_t e = error ? rd_kafka_error_code(error) : 0;
  if (e == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
    *err = sqlite3_mprintf("%s: group '%s' does not exist on brokers '%s'", func, group, opts->brokers);
  else if (e == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP)
    *err = sqlite3_mprintf("%s: group '%s' has active members: stop its consumers first", func, group);
  else if (!rc && (e || n != 1))
    *err = group_error(client, opts, func, group, e ? e : RD_KAFKA_RESP_ERR__BAD_MSG,
                       error ? rd_kafka_error_string(error) : "no answer");
  if (!rc && *err) rc = SQLITE_ERROR;
  if (ev) rd_kafka_event_destroy(ev);
  if (!rc) sqlite3_result_text(ctx, group, -1, SQLITE_TRANSIENT);
  return rc;
}

static void delete_group_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const func = "kafka_delete_group";
  const char *options, *group = NULL;
  const char *brokers = admin_text_arg(ctx, argv[0], func, "brokers");
  if (!brokers || !(group = admin_text_arg(ctx, argv[1], func, "group")) ||
      !admin_optional_text(ctx, argc, argv, 2, func, "options", &options))
    return;
  admin_run(ctx, func, brokers, options, "DeleteGroups", delete_group_op, (void *)group);
}

int group_ops_register(sqlite3 *db) {
  int rc = catalog_register_tables(db, group_tables, sizeof group_tables / sizeof *group_tables);
  if (!rc) rc = admin_define(db, "kafka_reset_group", 4, 6, reset_group_func);
  return rc ? rc : admin_define(db, "kafka_delete_group", 2, 3, delete_group_func);
}
