/*
** Topic admin: kafka_create_topic(brokers, topic, partitions [, replication
** [, config_json]]) and kafka_delete_topic(brokers, topic). Both return the
** topic's name; every failure is an SQL error that says why.
*/
#include "kafka_ext.h"
#include "admin.h"
#include "client.h"

#include <string.h>

SQLITE_EXTENSION_INIT3

/* A required text argument, or an error naming it. */
static const char *text_arg(sqlite3_context *ctx, sqlite3_value *v, const char *func, const char *name) {
  const char *s = sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
  if (s && *s) return s;
  char *msg = sqlite3_mprintf("%s: %s must be a non-empty text", func, name);
  sqlite3_result_error(ctx, msg, -1);
  sqlite3_free(msg);
  return NULL;
}

/* An integer argument in [min, max]; *out keeps its default when the
** argument is absent or NULL. */
static int int_arg(sqlite3_context *ctx, int argc, sqlite3_value **argv, int i, const char *func,
                   const char *name, int min, int max, int *out) {
  if (i >= argc || sqlite3_value_type(argv[i]) == SQLITE_NULL) return 1;
  if (sqlite3_value_type(argv[i]) == SQLITE_INTEGER && sqlite3_value_int64(argv[i]) >= min &&
      sqlite3_value_int64(argv[i]) <= max) {
    *out = sqlite3_value_int(argv[i]);
    return 1;
  }
  char *msg = sqlite3_mprintf("%s: %s must be an integer from %d to %d", func, name, min, max);
  sqlite3_result_error(ctx, msg, -1);
  sqlite3_free(msg);
  return 0;
}

static void result_error(sqlite3_context *ctx, char *err) {
  sqlite3_result_error(ctx, err ? err : "out of memory", -1);
  sqlite3_free(err);
}

static void create_topic_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const func = "kafka_create_topic";
  kafka_options opts;
  options_init(&opts);
  int partitions = 0, replication = -1;
  const char *brokers = text_arg(ctx, argv[0], func, "brokers");
  const char *topic = brokers ? text_arg(ctx, argv[1], func, "topic") : NULL;
  if (!topic || !int_arg(ctx, argc, argv, 2, func, "partitions", 1, 1000000, &partitions) ||
      !int_arg(ctx, argc, argv, 3, func, "replication", 1, 32767, &replication))
    return;
  if (!partitions) {
    sqlite3_result_error(ctx, "kafka_create_topic: partitions must be an integer from 1 to 1000000", -1);
    return;
  }
  const char *config = argc > 4 && sqlite3_value_type(argv[4]) != SQLITE_NULL
                           ? (const char *)sqlite3_value_text(argv[4]) : NULL;
  opts.brokers = (char *)brokers;
  kafka_client *client;
  char *err = NULL;
  int rc = client_new_consumer(&opts, &client, &err);
  if (!rc) {
    rc = client_create_topic(client, &opts, topic, partitions, replication, config, 0, &err);
    client_free(client);
  }
  if (rc) result_error(ctx, err);
  else sqlite3_result_text(ctx, topic, -1, SQLITE_TRANSIENT);
}

static void delete_topic_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const func = "kafka_delete_topic";
  (void)argc;
  kafka_options opts;
  options_init(&opts);
  const char *brokers = text_arg(ctx, argv[0], func, "brokers");
  const char *topic = brokers ? text_arg(ctx, argv[1], func, "topic") : NULL;
  if (!topic) return;
  opts.brokers = (char *)brokers;
  kafka_client *client;
  char *err = NULL;
  int rc = client_new_consumer(&opts, &client, &err);
  if (!rc) {
    rc = client_delete_topic(client, &opts, topic, &err);
    client_free(client);
  }
  if (rc) result_error(ctx, err);
  else sqlite3_result_text(ctx, topic, -1, SQLITE_TRANSIENT);
}

int admin_register(sqlite3 *db) {
  /* Direct only: a trigger or view in an untrusted database must not
  ** create or delete topics. */
  int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
  int rc = SQLITE_OK;
  for (int n = 3; !rc && n <= 5; n++)
    rc = sqlite3_create_function(db, "kafka_create_topic", n, flags, NULL, create_topic_func, NULL, NULL);
  if (!rc) rc = sqlite3_create_function(db, "kafka_delete_topic", 2, flags, NULL, delete_topic_func, NULL, NULL);
  return rc;
}
