/*
** Topic and broker configs:
**
**   kafka_topic_configs(brokers, topic [, options])
**   kafka_broker_configs(brokers, id [, options])
**       name, value, source, is_default, read_only, sensitive
**   kafka_alter_topic(brokers, topic, config_json [, options])
**
** Sensitive values (passwords, keys) read as NULL, as Kafka shows them.
** librdkafka 2.0.2 has only the non-incremental AlterConfigs, which
** replaces a topic's whole set of dynamic configs: kafka_alter_topic reads
** the current set first and sends it back with config_json applied (a JSON
** null resets a key to its default), so keys not named keep their values.
** A change someone else makes between the read and the write is lost.
*/
#include "base.h"
#include "catalog.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

typedef struct config_target {
  rd_kafka_ResourceType_t type;
  const char *name;
} config_target;

static void describe_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue, void *arg) {
  const config_target *t = arg;
  rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(t->type, t->name);
  rd_kafka_DescribeConfigs(rk, &res, 1, ao, queue);
  rd_kafka_ConfigResource_destroy(res);
}

static const char *target_kind(const config_target *t) {
  return t->type == RD_KAFKA_RESOURCE_TOPIC ? "topic" : "broker";
}

/* The one resource of a DescribeConfigs or AlterConfigs result (owned by
** ev), or NULL with *err set from its error. */
static const rd_kafka_ConfigResource_t *result_resource(kafka_client *client, const kafka_options *opts,
                                                       const char *func, const config_target *t,
                                                       const rd_kafka_ConfigResource_t **res, size_t n,
                                                       char **err) {
  rd_kafka_resp_err_t e = n == 1 ? rd_kafka_ConfigResource_error(res[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
  if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    *err = sqlite3_mprintf("%s: topic '%s' does not exist on brokers '%s'", func, t->name, opts->brokers);
  else if (e) {
    char *what = sqlite3_mprintf("%s '%s'", target_kind(t), t->name);
    *err = what ? admin_error(client, opts, func, what, e, n == 1 ? rd_kafka_ConfigResource_error_string(res[0]) : NULL)
                : NULL;
    sqlite3_free(what);
  }
  return e ? NULL : res[0];
}

/* The configs of one topic or broker: *ev holds them (destroy it). */
static int describe(kafka_client *client, const kafka_options *opts, const char *func,
                    const config_target *t, rd_kafka_event_t **ev,
                    const rd_kafka_ConfigResource_t **out, char **err) {
  int rc = admin_request(client, opts, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, func, "describing configs",
                         describe_start, (void *)t, ev, err);
  if (rc) return rc;
  size_t n = 0;
  const rd_kafka_ConfigResource_t **res =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(*ev), &n);
  *out = result_resource(client, opts, func, t, res, n, err);
  return *out ? SQLITE_OK : SQLITE_ERROR;
}

static int by_entry_name(const void *a, const void *b) {
  return strcmp(rd_kafka_ConfigEntry_name(*(const rd_kafka_ConfigEntry_t *const *)a),
                rd_kafka_ConfigEntry_name(*(const rd_kafka_ConfigEntry_t *const *)b));
}

static void config_rows(catalog_rows *rows, const rd_kafka_ConfigResource_t *res) {
  size_t n = 0;
  const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &n);
  const rd_kafka_ConfigEntry_t **sorted = sqlite3_malloc64(sizeof *sorted * (n + 1));
  if (!sorted) {
    rows->nomem = 1;
    return;
  }
  memcpy(sorted, entries, sizeof *sorted * n);
  qsort(sorted, n, sizeof *sorted, by_entry_name);
  for (size_t i = 0; i < n; i++) {
    const rd_kafka_ConfigEntry_t *c = sorted[i];
    const char *value = rd_kafka_ConfigEntry_is_sensitive(c) ? NULL : rd_kafka_ConfigEntry_value(c);
    catalog_put_text(rows, rd_kafka_ConfigEntry_name(c));
    if (value) catalog_put_text(rows, value);
    else catalog_put_known(rows, -1);
    catalog_put_text(rows, rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(c)));
    catalog_put_int(rows, rd_kafka_ConfigEntry_is_default(c));
    catalog_put_int(rows, rd_kafka_ConfigEntry_is_read_only(c));
    catalog_put_int(rows, rd_kafka_ConfigEntry_is_sensitive(c));
  }
  sqlite3_free(sorted);
}

static int fill_configs(catalog_call *call, const config_target *t, char **err) {
  rd_kafka_event_t *ev = NULL;
  const rd_kafka_ConfigResource_t *res;
  int rc = describe(call->client, call->opts, call->func, t, &ev, &res, err);
  if (!rc) config_rows(call->rows, res);
  if (ev) rd_kafka_event_destroy(ev);
  return rc;
}

/* The mock cluster answers no DescribeConfigs: said at once, not after
** the timeout. */
static int mock_refused(catalog_call *call, char **err) {
  if (!brokers_are_mock(call->opts->brokers)) return 0;
  *err = sqlite3_mprintf("%s: the mock cluster has no DescribeConfigs request (use a real broker)", call->func);
  return 1;
}

static int topic_configs_fill(catalog_call *call, char **err) {
  config_target t = {RD_KAFKA_RESOURCE_TOPIC, call->arg};
  return mock_refused(call, err) ? SQLITE_ERROR : fill_configs(call, &t, err);
}

/* Non-zero when the cluster's metadata lists broker id: librdkafka would
** wait for an unknown broker until the timeout. */
static int broker_known(catalog_call *call, int32_t id, char **err) {
  const struct rd_kafka_metadata *md;
  if (catalog_metadata(call, NULL, &md, err)) return 0;
  int found = 0;
  for (int i = 0; i < md->broker_cnt; i++) found |= md->brokers[i].id == id;
  if (!found) *err = sqlite3_mprintf("%s: broker %d is not in the cluster at '%s' (see kafka_brokers)",
                                     call->func, (int)id, call->opts->brokers);
  rd_kafka_metadata_destroy(md);
  return found;
}

static int broker_configs_fill(catalog_call *call, char **err) {
  char *end;
  long id = strtol(call->arg, &end, 10);
  if (id < 0 || id > INT32_MAX) {
    *err = sqlite3_mprintf("%s: id must be a broker id (0 or more), not %s", call->func, call->arg);
    return SQLITE_ERROR;
  }
  if (mock_refused(call, err) || !broker_known(call, (int32_t)id, err)) return SQLITE_ERROR;
  config_target t = {RD_KAFKA_RESOURCE_BROKER, call->arg};
  return fill_configs(call, &t, err);
}

char *configs_broker_value(catalog_call *call, int32_t id, const char *config) {
  char name[16], *value = NULL, *err = NULL;
  snprintf(name, sizeof name, "%d", (int)id);
  config_target t = {RD_KAFKA_RESOURCE_BROKER, name};
  rd_kafka_event_t *ev = NULL;
  const rd_kafka_ConfigResource_t *res;
  if (!describe(call->client, call->opts, call->func, &t, &ev, &res, &err)) {
    size_t n = 0;
    const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &n);
    for (size_t i = 0; i < n && !value; i++)
      if (!strcmp(rd_kafka_ConfigEntry_name(entries[i]), config) && rd_kafka_ConfigEntry_value(entries[i]))
        value = sqlite3_mprintf("%s", rd_kafka_ConfigEntry_value(entries[i]));
  }
  sqlite3_free(err);
  if (ev) rd_kafka_event_destroy(ev);
  return value;
}

#define CONFIG_COLUMNS \
  "name TEXT, value TEXT, source TEXT, is_default INTEGER, read_only INTEGER, sensitive INTEGER"

const catalog_table configs_tables[2] = {
    {"kafka_topic_configs", CONFIG_COLUMNS, 6, "topic", topic_configs_fill, CATALOG_ARG_TEXT},
    {"kafka_broker_configs", CONFIG_COLUMNS, 6, "id", broker_configs_fill, CATALOG_ARG_INTEGER},
};

/* ------------------------------------------------------------ alter -- */

/* A config value from JSON: a string, number or boolean as text in buf;
** NULL for JSON null (reset); *bad set for anything else. */
static const char *json_config_value(const cJSON *item, char *buf, size_t size, int *bad) {
  *bad = 0;
  if (cJSON_IsString(item)) return item->valuestring;
  if (cJSON_IsBool(item)) return cJSON_IsTrue(item) ? "true" : "false";
  if (cJSON_IsNumber(item)) {
    snprintf(buf, size, "%.17g", item->valuedouble);
    return buf;
  }
  *bad = !cJSON_IsNull(item);
  return NULL;
}

typedef struct alter_topic {
  const char *topic;
  cJSON *changes;        /* the config_json object */
  cJSON *result;         /* the dynamic configs sent */
  rd_kafka_ConfigResource_t *res;
} alter_topic;

static void alter_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue, void *arg) {
  alter_topic *a = arg;
  rd_kafka_AlterConfigs(rk, &a->res, 1, ao, queue);
}

/* Sets one config in the request and the result object. */
static int set_config(const char *func, alter_topic *a, const char *name, const char *value, char **err) {
  if (rd_kafka_ConfigResource_set_config(a->res, name, value)) {
    *err = sqlite3_mprintf("%s: config '%s' is invalid", func, name);
    return SQLITE_ERROR;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(a->result, name);
  return cJSON_AddStringToObject(a->result, name, value) ? SQLITE_OK : SQLITE_NOMEM;
}

/* The topic's dynamic configs not named in the change, then the change. */
static int merge_configs(const char *func, alter_topic *a, const rd_kafka_ConfigResource_t *current,
                         char **err) {
  size_t n = 0;
  const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(current, &n);
  int rc = SQLITE_OK;
  for (size_t i = 0; !rc && i < n; i++) {
    const char *name = rd_kafka_ConfigEntry_name(entries[i]);
    if (rd_kafka_ConfigEntry_source(entries[i]) != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG ||
        cJSON_GetObjectItemCaseSensitive(a->changes, name))
      continue;
    const char *value = rd_kafka_ConfigEntry_value(entries[i]);
    if (!value) {
      *err = sqlite3_mprintf("%s: topic '%s' has the sensitive config '%s', whose value the broker does "
                             "not show: name it in config_json to keep or reset it", func, a->topic, name);
      return SQLITE_ERROR;
    }
    rc = set_config(func, a, name, value, err);
  }
  for (const cJSON *item = a->changes->child; !rc && item; item = item->next) {
    char number[64];
    int bad;
    const char *value = json_config_value(item, number, sizeof number, &bad);
    if (value) rc = set_config(func, a, item->string, value, err);
  }
  return rc;
}

static int alter_op(sqlite3_context *ctx, kafka_client *client, const kafka_options *opts, void *arg,
                    char **err) {
  static const char *const func = "kafka_alter_topic";
  alter_topic *a = arg;
  config_target t = {RD_KAFKA_RESOURCE_TOPIC, a->topic};
  rd_kafka_event_t *ev = NULL;
  const rd_kafka_ConfigResource_t *current;
  int rc = describe(client, opts, func, &t, &ev, &current, err);
  if (!rc) rc = merge_configs(func, a, current, err);
  if (ev) rd_kafka_event_destroy(ev);
  ev = NULL;
  if (!rc) rc = admin_request(client, opts, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, func, "altering configs",
                              alter_start, a, &ev, err);
  if (!rc) {
    size_t n = 0;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
    if (!result_resource(client, opts, func, &t, res, n, err)) rc = SQLITE_ERROR;
  }
  if (ev) rd_kafka_event_destroy(ev);
  char *json = rc ? NULL : cJSON_PrintUnformatted(a->result);
  if (!rc && !json) rc = SQLITE_NOMEM;
  if (!rc) sqlite3_result_text(ctx, json, -1, SQLITE_TRANSIENT);
  cJSON_free(json);
  return rc;
}

/* config_json must be an object of strings, numbers, booleans or nulls:
** checked before anything reaches the cluster. */
static cJSON *parse_changes(sqlite3_context *ctx, const char *func, const char *text) {
  cJSON *root = cJSON_Parse(text);
  const char *why = !cJSON_IsObject(root) ? "must be a JSON object" : NULL;
  const cJSON *item = root && !why ? root->child : NULL;
  for (; item && !why; item = item->next) {
    char number[64];
    int bad;
    json_config_value(item, number, sizeof number, &bad);
    if (bad) break;
  }
  if (why || item)
    admin_result_error(ctx, item ? sqlite3_mprintf("%s: config_json: the value of '%s' must be a string, "
                                                   "number, boolean or null (null resets it)", func, item->string)
                                 : sqlite3_mprintf("%s: config_json %s, like {\"retention.ms\": 3600000}",
                                                   func, why));
  if (why || item) cJSON_Delete(root);
  return why || item ? NULL : root;
}

static void alter_topic_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const func = "kafka_alter_topic";
  alter_topic a = {NULL, NULL, NULL, NULL};
  const char *options, *json;
  const char *brokers = admin_text_arg(ctx, argv[0], func, "brokers");
  if (!brokers || !(a.topic = admin_text_arg(ctx, argv[1], func, "topic")) ||
      !(json = admin_text_arg(ctx, argv[2], func, "config_json")) ||
      !admin_optional_text(ctx, argc, argv, 3, func, "options", &options) ||
      !(a.changes = parse_changes(ctx, func, json)))
    return;
  a.result = cJSON_CreateObject();
  a.res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, a.topic);
  if (a.result && a.res) admin_run(ctx, func, brokers, options, "AlterConfigs", alter_op, &a);
  else sqlite3_result_error_nomem(ctx);
  if (a.res) rd_kafka_ConfigResource_destroy(a.res);
  cJSON_Delete(a.result);
  cJSON_Delete(a.changes);
}

int configs_register(sqlite3 *db) {
  return admin_define(db, "kafka_alter_topic", 3, 4, alter_topic_func);
}
