/*
** sqlite-kafka: Apache Kafka topics as SQLite virtual tables.
**
**   .load ./build/kafka
**   CREATE VIRTUAL TABLE t USING kafka(brokers = 'localhost:29092', topic = 'x');
**
** The entry point: registers the `kafka` module (ext/table/) and the
** catalog, admin, operations and registry functions (ext/catalog/). The
** layers below are ext/codec/, ext/client/ and ext/base/.
*/
#include "table.h"
#include "catalog.h"

/* KAFKA_EXT_VERSION, KAFKA_GIT_COMMIT and KAFKA_BUILT_WITH come from the
** Makefile (the file VERSION, git, pkg-config). */
#ifndef KAFKA_EXT_VERSION
#error "KAFKA_EXT_VERSION comes from the Makefile (the file VERSION): build with make"
#endif

SQLITE_EXTENSION_INIT3

static void kafka_version_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  char *v = sqlite3_mprintf("sqlite-kafka %s, librdkafka %s", KAFKA_EXT_VERSION, rd_kafka_version_str());
  sqlite3_result_text(ctx, v, -1, sqlite3_free);
}

/* librdkafka's compiled-in features (compression codecs, SASL mechanisms,
** ssl, ...), as its `builtin.features` property lists them. */
static void rdkafka_features(sqlite3_str *out) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  char features[512];
  size_t size = sizeof features;
  if (rd_kafka_conf_get(conf, "builtin.features", features, &size) == RD_KAFKA_CONF_OK)
    sqlite3_str_appendall(out, features);
  else
    sqlite3_str_appendall(out, "unknown");
  rd_kafka_conf_destroy(conf);
}

/* What this build is and what it runs with, one `Name: value` a line (as
** sqlite-vec's vec_debug()): for bug reports and "is X built in?". */
static void kafka_debug_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_str *out = sqlite3_str_new(sqlite3_context_db_handle(ctx));
  sqlite3_str_appendf(out, "Version: %s\nCommit: %s\nSQLite: %s\nlibrdkafka: %s\n"
                      "librdkafka features: ", KAFKA_EXT_VERSION, KAFKA_GIT_COMMIT,
                      sqlite3_libversion(), rd_kafka_version_str());
  rdkafka_features(out);
  sqlite3_str_appendall(out, "\nCodecs: text, blob, json");
  for (kafka_format f = 0; f < KAFKA_FORMAT_COUNT; f++) {
    const codec *c = codec_for(f);
    if (c) sqlite3_str_appendf(out, ", %s", c->name);
  }
  sqlite3_str_appendall(out, "\nBuilt with: " KAFKA_BUILT_WITH);
  int n = sqlite3_str_length(out);
  char *text = sqlite3_str_finish(out);
  if (text)
    sqlite3_result_text(ctx, text, n, sqlite3_free);
  else
    sqlite3_result_error_nomem(ctx);
}

static int register_version_functions(sqlite3 *db) {
  int rc = sqlite3_create_function(db, "kafka_version", 0, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                   NULL, kafka_version_func, NULL, NULL);
  if (!rc)
    rc = sqlite3_create_function(db, "kafka_debug", 0, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                 kafka_debug_func, NULL, NULL);
  return rc;
}

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_kafka_init(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
  SQLITE_EXTENSION_INIT2(api);
  /* The planner calls sqlite3_vtab_in() and sqlite3_vtab_rhs_value(): an
  ** older SQLite's routine table ends before them. */
  if (sqlite3_libversion_number() < KAFKA_MIN_SQLITE_VERSION) {
    *err = sqlite3_mprintf("kafka: needs SQLite %s or later, this is SQLite %s", KAFKA_MIN_SQLITE,
                           sqlite3_libversion());
    return SQLITE_ERROR;
  }
  int rc = module_register(db);
  if (!rc) rc = register_version_functions(db);
  if (!rc) rc = admin_register(db);
  if (!rc) rc = catalog_register(db);
  if (!rc) rc = messages_register(db);
  if (!rc) rc = ops_register(db);
  if (!rc) rc = registry_catalog_register(db);
  return rc;
}
