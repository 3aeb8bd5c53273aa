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

SQLITE_EXTENSION_INIT3

static void kafka_version_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  char *v = sqlite3_mprintf("sqlite-kafka %s, librdkafka %s", KAFKA_EXT_VERSION, rd_kafka_version_str());
  sqlite3_result_text(ctx, v, -1, sqlite3_free);
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
  if (!rc)
    rc = sqlite3_create_function(db, "kafka_version", 0, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                 NULL, kafka_version_func, NULL, NULL);
  if (!rc) rc = admin_register(db);
  if (!rc) rc = catalog_register(db);
  if (!rc) rc = messages_register(db);
  if (!rc) rc = ops_register(db);
  if (!rc) rc = registry_catalog_register(db);
  return rc;
}
