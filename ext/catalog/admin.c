/*
** The shared machinery of the admin functions (arguments, options, one
** bounded Admin API request) and the topic admin: kafka_create_topic(brokers, topic, partitions [, replication
** [, config_json [, options]]]) and kafka_delete_topic(brokers, topic [,
** options]). Both return the topic's name; every failure is an SQL error
** that says why. `options` (also taken by the catalog tables, catalog.c) is
** the text `name=value, ...` with timeout_ms and rdkafka.<property> as in
** CREATE VIRTUAL TABLE: how a call reaches a cluster that needs SASL or TLS.
*/
#include "base.h"
#include "catalog.h"
#include "client.h"

#include <ctype.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

#define MAX_PARTITIONS 1000000
#define MAX_REPLICATION 32767

/* Non-zero when an `options` item may be given to a call that is not a
** table: the other options describe a table. */
static int call_option(const char *item, size_t len) {
  return (len == 10 && !strncmp(item, "timeout_ms", len)) || (len == 6 && !strncmp(item, "config", len)) ||
         (len > 8 && !strncmp(item, "rdkafka.", 8));
}

/* Checks one item of the options text; the item itself is never shown,
** since a malformed one may hold a secret. */
static int check_item(const char *func, int n, const char *item, char **err) {
  while (isspace((unsigned char)*item)) item++;
  const char *eq = strchr(item, '=');
  size_t len = eq ? (size_t)(eq - item) : 0;
  while (len > 0 && isspace((unsigned char)item[len - 1])) len--;
  if (!eq) {
    *err = sqlite3_mprintf("%s: options: item %d is not of the form name=value", func, n);
  } else if (!call_option(item, len)) {
    *err = sqlite3_mprintf("%s: option '%.*s' is not accepted here (options: timeout_ms, "
                           "config, rdkafka.<property>)", func, (int)len, item);
  }
  return *err ? SQLITE_ERROR : SQLITE_OK;
}

int admin_split_items(char *text, char **items, int max) {
  int n = 0;
  char quote = 0, *start = text;
  for (char *p = text;; p++) {
    if (quote) {
      if (*p == quote) quote = 0;
      if (*p) continue;
    } else if (*p == '\'' || *p == '"') {
      quote = *p;
      continue;
    }
    if (*p && *p != ',') continue;
    int last = !*p;
    *p = 0;
    const char *s = start;
    while (isspace((unsigned char)*s)) s++;
    if (*s && n < max) items[n++] = start;
    if (last) return n;
    start = p + 1;
  }
}

int admin_options(kafka_options *opts, const char *func, const char *brokers, const char *text,
                  char **err) {
  options_init(opts);
  int rc = options_set(opts, "brokers", brokers, err);
  if (rc || !text) return rc;
  size_t len = strlen(text);
  char *copy = sqlite3_mprintf("%s", text);
  char **items = sqlite3_malloc64(sizeof *items * (len + 1));
  rc = copy && items ? SQLITE_OK : SQLITE_NOMEM;
  int n = rc ? 0 : admin_split_items(copy, items, (int)(len + 1));
  for (int i = 0; !rc && i < n; i++) rc = check_item(func, i + 1, items[i], err);
  if (!rc) rc = options_parse_args(opts, n, (const char *const *)items, err);
  sqlite3_free(items);
  sqlite3_free(copy);
  return rc;
}

void admin_result_error(sqlite3_context *ctx, char *err) {
  sqlite3_result_error(ctx, err ? err : "out of memory", -1);
  sqlite3_free(err);
}

void admin_arg_error(sqlite3_context *ctx, const char *func, const char *name, const char *what) {
  admin_result_error(ctx, sqlite3_mprintf("%s: %s must be %s", func, name, what));
}

const char *admin_text_arg(sqlite3_context *ctx, sqlite3_value *v, const char *func, const char *name) {
  const char *s = sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
  if (!s || !*s) admin_arg_error(ctx, func, name, "a non-empty text");
  return s && *s ? s : NULL;
}

int admin_optional_text(sqlite3_context *ctx, int argc, sqlite3_value **argv, int i,
                         const char *func, const char *name, const char **out) {
  *out = NULL;
  if (i >= argc || sqlite3_value_type(argv[i]) == SQLITE_NULL) return 1;
  if (sqlite3_value_type(argv[i]) == SQLITE_TEXT) *out = (const char *)sqlite3_value_text(argv[i]);
  else admin_arg_error(ctx, func, name, "a text or NULL");
  return *out != NULL;
}

int admin_int_arg(sqlite3_context *ctx, int argc, sqlite3_value **argv, int i, const char *func,
                   const char *name, int min, int max, int optional, int *out) {
  if (optional && (i >= argc || sqlite3_value_type(argv[i]) == SQLITE_NULL)) return 1;
  sqlite3_int64 v = sqlite3_value_int64(argv[i]);
  if (sqlite3_value_type(argv[i]) == SQLITE_INTEGER && v >= min && v <= max) {
    *out = (int)v;
    return 1;
  }
  char *what = sqlite3_mprintf("an integer from %d to %d%s", min, max, optional ? " or NULL" : "");
  admin_arg_error(ctx, func, name, what ? what : "an integer");
  sqlite3_free(what);
  return 0;
}

void admin_run(sqlite3_context *ctx, const char *func, const char *brokers, const char *options,
               const char *mock_lacks, admin_op *op, void *arg) {
  kafka_options opts;
  kafka_client *client = NULL;
  char *err = NULL;
  int rc = admin_options(&opts, func, brokers, options, &err);
  /* Offsets are the partitions' high watermarks, as Kafka's tools use. */
  opts.read_uncommitted = 1;
  if (!rc && mock_lacks && brokers_are_mock(brokers)) {
    err = sqlite3_mprintf("%s: the mock cluster has no %s request (use a real broker)", func, mock_lacks);
    rc = SQLITE_ERROR;
  }
  if (!rc) rc = client_new_consumer(&opts, &client, &err);
  /* Waits end on sqlite3_interrupt(); brokers none of which can be
  ** connected to fail the call at once. */
  if (!rc) rc = client_watch(client, sqlite3_context_db_handle(ctx));
  if (!rc) rc = client_reach(client, &opts, func, &err);
  if (!rc) rc = op(ctx, client, &opts, arg, &err);
  client_free(client);
  options_free(&opts);
  if (rc) admin_result_error(ctx, err);
  if (rc == SQLITE_INTERRUPT) sqlite3_result_error_code(ctx, SQLITE_INTERRUPT);
}

char *admin_error(kafka_client *client, const kafka_options *opts, const char *func, const char *what,
                  rd_kafka_resp_err_t e, const char *why) {
  if (e == RD_KAFKA_RESP_ERR__INTR) return sqlite3_mprintf("interrupted");
  if (e != RD_KAFKA_RESP_ERR__TIMED_OUT && e != RD_KAFKA_RESP_ERR__TRANSPORT &&
      e != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
    return sqlite3_mprintf("%s: %s: %s", func, what, why ? why : rd_kafka_err2str(e));
  char *about = sqlite3_mprintf("%s: %s", func, what);
  char *err = client_timeout_error(client, opts, about ? about : what);
  sqlite3_free(about);
  return err;
}

int admin_request(kafka_client *client, const kafka_options *opts, rd_kafka_admin_op_t op,
                  const char *func, const char *what, admin_start *start, void *arg,
                  rd_kafka_event_t **ev, char **err) {
  rd_kafka_resp_err_t e = client_admin(client, opts, op, start, arg, ev);
  if (e) *err = admin_error(client, opts, func, what, e, *ev ? rd_kafka_event_error_string(*ev) : NULL);
  if (e && *ev) rd_kafka_event_destroy(*ev);
  if (e) *ev = NULL;
  return e ? SQLITE_ERROR : SQLITE_OK;
}

typedef struct new_topic {
  const char *topic;
  int partitions, replication;
  const char *config_json;
} new_topic;

static int create_op(sqlite3_context *ctx, kafka_client *client, const kafka_options *opts, void *arg,
                     char **err) {
  const new_topic *t = arg;
  int rc = client_create_topic(client, opts, t->topic, t->partitions, t->replication, t->config_json, 0, err);
  if (!rc) sqlite3_result_text(ctx, t->topic, -1, SQLITE_TRANSIENT);
  return rc;
}

static int delete_op(sqlite3_context *ctx, kafka_client *client, const kafka_options *opts, void *arg,
                     char **err) {
  int rc = client_delete_topic(client, opts, arg, err);
  if (!rc) sqlite3_result_text(ctx, arg, -1, SQLITE_TRANSIENT);
  return rc;
}

static void create_topic_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const func = "kafka_create_topic";
  new_topic t = {NULL, 0, -1, NULL};
  const char *options;
  const char *brokers = admin_text_arg(ctx, argv[0], func, "brokers");
  if (!brokers || !(t.topic = admin_text_arg(ctx, argv[1], func, "topic")) ||
      !admin_int_arg(ctx, argc, argv, 2, func, "partitions", 1, MAX_PARTITIONS, 0, &t.partitions) ||
      !admin_int_arg(ctx, argc, argv, 3, func, "replication", 1, MAX_REPLICATION, 1, &t.replication) ||
      !admin_optional_text(ctx, argc, argv, 4, func, "config_json", &t.config_json) ||
      !admin_optional_text(ctx, argc, argv, 5, func, "options", &options))
    return;
  admin_run(ctx, func, brokers, options, NULL, create_op, &t);
}

static void delete_topic_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const func = "kafka_delete_topic";
  const char *options, *topic = NULL;
  const char *brokers = admin_text_arg(ctx, argv[0], func, "brokers");
  if (!brokers || !(topic = admin_text_arg(ctx, argv[1], func, "topic")) ||
      !admin_optional_text(ctx, argc, argv, 2, func, "options", &options))
    return;
  admin_run(ctx, func, brokers, options, NULL, delete_op, (void *)topic);
}

/* A function that changes the cluster or the registry, as admin_define()
** registers it. */
typedef struct write_function {
  const char *name; /* static */
  void (*func)(sqlite3_context *, int, sqlite3_value **);
} write_function;

/* Every function admin_define() registers runs through here: a read-only
** connection (a Datasette visitor's query, sqlite3 -readonly) changes
** nothing, and DIRECTONLY alone does not stop a direct SELECT. */
static void write_guard(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const write_function *w = sqlite3_user_data(ctx);
  if (connection_read_only(sqlite3_context_db_handle(ctx))) admin_result_error(ctx, read_only_error(w->name));
  else w->func(ctx, argc, argv);
}

int admin_define(sqlite3 *db, const char *name, int min_args, int max_args,
                 void (*func)(sqlite3_context *, int, sqlite3_value **)) {
  /* Direct only: a trigger or view in an untrusted database must not
  ** change a cluster. */
  int rc = SQLITE_OK;
  for (int n = min_args; !rc && n <= max_args; n++) {
    write_function *w = sqlite3_malloc64(sizeof *w);
    if (!w) return SQLITE_NOMEM;
    w->name = name;
    w->func = func;
    rc = sqlite3_create_function_v2(db, name, n, SQLITE_UTF8 | SQLITE_DIRECTONLY, w, write_guard, NULL,
                                    NULL, sqlite3_free);
  }
  return rc;
}

int admin_register(sqlite3 *db) {
  int rc = admin_define(db, "kafka_create_topic", 3, 6, create_topic_func);
  return rc ? rc : admin_define(db, "kafka_delete_topic", 2, 3, delete_topic_func);
}

/* ---------------------------------------------------------------- groups -- */

/* The error of a group in a result (a timeout said as such). */
char *admin_group_error(kafka_client *client, const kafka_options *opts, const char *func, const char *group,
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
int admin_describe_group(kafka_client *client, const kafka_options *opts, const char *func, const char *group,
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
    *err = admin_group_error(client, opts, func, group, e, error ? rd_kafka_error_string(error) : NULL);
  if (!*err) *out = groups[0];
  return *err ? SQLITE_ERROR : SQLITE_OK;
}

int admin_require_group(kafka_client *client, const kafka_options *opts, const char *func,
                      const char *group, char **err) {
  rd_kafka_event_t *ev = NULL;
  const rd_kafka_ConsumerGroupDescription_t *g;
  int rc = admin_describe_group(client, opts, func, group, 0, &ev, &g, err);
  if (ev) rd_kafka_event_destroy(ev);
  return rc;
}
