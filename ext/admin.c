/*
** Topic admin: kafka_create_topic(brokers, topic, partitions [, replication
** [, config_json [, options]]]) and kafka_delete_topic(brokers, topic [,
** options]). Both return the topic's name; every failure is an SQL error
** that says why. `options` (also taken by the catalog tables, catalog.c) is
** the text `name=value, ...` with timeout_ms and rdkafka.<property> as in
** CREATE VIRTUAL TABLE: how a call reaches a cluster that needs SASL or TLS.
*/
#include "kafka_ext.h"
#include "admin.h"
#include "client.h"

#include <ctype.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

#define MAX_PARTITIONS 1000000
#define MAX_REPLICATION 32767

/* Non-zero when an `options` item may be given to a call that is not a
** table: the other options describe a table. */
static int call_option(const char *item, size_t len) {
  return (len == 10 && !strncmp(item, "timeout_ms", len)) || (len > 8 && !strncmp(item, "rdkafka.", 8));
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
                           "rdkafka.<property>)", func, (int)len, item);
  }
  return *err ? SQLITE_ERROR : SQLITE_OK;
}

/* Splits text in place on the commas outside quotes; empty items are
** dropped. Returns the number of items stored in items (at most max). */
static int split_items(char *text, char **items, int max) {
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
  opts->brokers = sqlite3_mprintf("%s", brokers);
  if (!opts->brokers) return SQLITE_NOMEM;
  if (!text) return SQLITE_OK;
  size_t len = strlen(text);
  char *copy = sqlite3_mprintf("%s", text);
  char **items = sqlite3_malloc64(sizeof *items * (len + 1));
  int rc = copy && items ? SQLITE_OK : SQLITE_NOMEM;
  int n = rc ? 0 : split_items(copy, items, (int)(len + 1));
  for (int i = 0; !rc && i < n; i++) rc = check_item(func, i + 1, items[i], err);
  if (!rc) rc = options_parse_args(opts, n, (const char *const *)items, err);
  sqlite3_free(items);
  sqlite3_free(copy);
  return rc;
}

static void result_error(sqlite3_context *ctx, char *err) {
  sqlite3_result_error(ctx, err ? err : "out of memory", -1);
  sqlite3_free(err);
}

static void arg_error(sqlite3_context *ctx, const char *func, const char *name, const char *what) {
  result_error(ctx, sqlite3_mprintf("%s: %s must be %s", func, name, what));
}

/* A required text argument, or NULL after setting an error naming it. */
static const char *text_arg(sqlite3_context *ctx, sqlite3_value *v, const char *func, const char *name) {
  const char *s = sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
  if (!s || !*s) arg_error(ctx, func, name, "a non-empty text");
  return s && *s ? s : NULL;
}

/* An optional text argument: *out is NULL when it is absent or NULL.
** Returns 0 after setting an error when it is not text. */
static int optional_text(sqlite3_context *ctx, int argc, sqlite3_value **argv, int i,
                         const char *func, const char *name, const char **out) {
  *out = NULL;
  if (i >= argc || sqlite3_value_type(argv[i]) == SQLITE_NULL) return 1;
  if (sqlite3_value_type(argv[i]) == SQLITE_TEXT) *out = (const char *)sqlite3_value_text(argv[i]);
  else arg_error(ctx, func, name, "a text or NULL");
  return *out != NULL;
}

/* An integer argument in [min, max]. An absent or NULL optional one keeps
** *out's default. Returns 0 after setting an error. */
static int int_arg(sqlite3_context *ctx, int argc, sqlite3_value **argv, int i, const char *func,
                   const char *name, int min, int max, int optional, int *out) {
  if (optional && (i >= argc || sqlite3_value_type(argv[i]) == SQLITE_NULL)) return 1;
  sqlite3_int64 v = sqlite3_value_int64(argv[i]);
  if (sqlite3_value_type(argv[i]) == SQLITE_INTEGER && v >= min && v <= max) {
    *out = (int)v;
    return 1;
  }
  char *what = sqlite3_mprintf("an integer from %d to %d%s", min, max, optional ? " or NULL" : "");
  arg_error(ctx, func, name, what ? what : "an integer");
  sqlite3_free(what);
  return 0;
}

/* Runs one admin call: parses its options, opens a client, calls op and
** sets the result (the topic's name) or the error. */
static void admin_call(sqlite3_context *ctx, const char *func, const char *brokers,
                       const char *options,
                       int (*op)(kafka_client *, const kafka_options *, void *, char **),
                       void *arg, const char *topic) {
  kafka_options opts;
  kafka_client *client = NULL;
  char *err = NULL;
  int rc = admin_options(&opts, func, brokers, options, &err);
  if (!rc) rc = client_new_consumer(&opts, &client, &err);
  if (!rc) rc = op(client, &opts, arg, &err);
  client_free(client);
  options_free(&opts);
  if (rc) result_error(ctx, err);
  else sqlite3_result_text(ctx, topic, -1, SQLITE_TRANSIENT);
}

typedef struct new_topic {
  const char *topic;
  int partitions, replication;
  const char *config_json;
} new_topic;

static int create_op(kafka_client *client, const kafka_options *opts, void *arg, char **err) {
  const new_topic *t = arg;
  return client_create_topic(client, opts, t->topic, t->partitions, t->replication,
                             t->config_json, 0, err);
}

static int delete_op(kafka_client *client, const kafka_options *opts, void *arg, char **err) {
  return client_delete_topic(client, opts, arg, err);
}

static void create_topic_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const func = "kafka_create_topic";
  new_topic t = {NULL, 0, -1, NULL};
  const char *options;
  const char *brokers = text_arg(ctx, argv[0], func, "brokers");
  if (!brokers || !(t.topic = text_arg(ctx, argv[1], func, "topic")) ||
      !int_arg(ctx, argc, argv, 2, func, "partitions", 1, MAX_PARTITIONS, 0, &t.partitions) ||
      !int_arg(ctx, argc, argv, 3, func, "replication", 1, MAX_REPLICATION, 1, &t.replication) ||
      !optional_text(ctx, argc, argv, 4, func, "config_json", &t.config_json) ||
      !optional_text(ctx, argc, argv, 5, func, "options", &options))
    return;
  admin_call(ctx, func, brokers, options, create_op, &t, t.topic);
}

static void delete_topic_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const func = "kafka_delete_topic";
  const char *options, *topic = NULL;
  const char *brokers = text_arg(ctx, argv[0], func, "brokers");
  if (!brokers || !(topic = text_arg(ctx, argv[1], func, "topic")) ||
      !optional_text(ctx, argc, argv, 2, func, "options", &options))
    return;
  admin_call(ctx, func, brokers, options, delete_op, (void *)topic, topic);
}

int admin_register(sqlite3 *db) {
  /* Direct only: a trigger or view in an untrusted database must not
  ** create or delete topics. */
  int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
  int rc = SQLITE_OK;
  for (int n = 3; !rc && n <= 6; n++)
    rc = sqlite3_create_function(db, "kafka_create_topic", n, flags, NULL, create_topic_func, NULL, NULL);
  for (int n = 2; !rc && n <= 3; n++)
    rc = sqlite3_create_function(db, "kafka_delete_topic", n, flags, NULL, delete_topic_func, NULL, NULL);
  return rc;
}
