/*
** The Schema Registry catalog: what a schema-registry UI shows, as
** eponymous-only virtual tables used as table-valued functions, and a
** function that registers a schema:
**
**   kafka_subjects(registry)
**       subject, versions, latest_version, latest_id, schema_type
**   kafka_schemas(registry, subject)
**       subject, version, id, schema_type, schema
**   kafka_register_schema(registry, subject, schema [, schema_type])
**       the schema's id (schema_type AVRO by default, JSON, PROTOBUF)
**
** `registry` is the base URL as in the schema_registry option; basic auth
** goes in it as http://user:password@host/... and is never shown. Every
** request is bounded by the default timeout_ms.
*/
#include "base.h"
#include "catalog.h"
#include "client.h"

#include <string.h>

SQLITE_EXTENSION_INIT3

#define CALL_TIMEOUT_MS 10000

/* The registry of a call, its requests bounded by CALL_TIMEOUT_MS. */
static registry_options call_registry(const catalog_call *call) {
  registry_options r = call->opts->registry;
  r.timeout_ms = CALL_TIMEOUT_MS;
  return r;
}

/* A registry error as the call's: "kafka_subjects: schema registry ...". */
static int call_error(const catalog_call *call, char **err) {
  char *why = *err;
  *err = why ? sqlite3_mprintf("%s: %s", call->func, strncmp(why, "kafka: ", 7) ? why : why + 7) : NULL;
  sqlite3_free(why);
  return *err ? SQLITE_ERROR : SQLITE_NOMEM;
}

static cJSON *get_json(const registry_options *r, const char *fmt, const char *subject, char **err) {
  char *escaped = subject ? registry_escape(subject) : NULL;
  char *path = sqlite3_mprintf(fmt, escaped ? escaped : "");
  cJSON *out = NULL;
  if (path) registry_get(r, path, &out, err);
  sqlite3_free(path);
  sqlite3_free(escaped);
  return out;
}

/* subject, versions, latest_version, latest_id, schema_type of every subject. */
static int subjects_fill(catalog_call *call, char **err) {
  registry_options r = call_registry(call);
  cJSON *subjects = get_json(&r, "/subjects%s", NULL, err);
  int rc = subjects ? SQLITE_OK : SQLITE_ERROR;
  const cJSON *s;
  cJSON_ArrayForEach(s, subjects) {
    if (rc || !cJSON_IsString(s)) continue;
    cJSON *versions = get_json(&r, "/subjects/%s/versions", s->valuestring, err);
    registry_schema latest = {0};
    rc = versions ? registry_version(&r, s->valuestring, "latest", &latest, err) : SQLITE_ERROR;
    if (!rc) {
      catalog_put_text(call->rows, s->valuestring);
      catalog_put_int(call->rows, cJSON_GetArraySize(versions));
      catalog_put_int(call->rows, latest.version);
      catalog_put_int(call->rows, latest.id);
      catalog_put_text(call->rows, latest.type ? latest.type : "");
    }
    registry_schema_clear(&latest);
    cJSON_Delete(versions);
  }
  cJSON_Delete(subjects);
  return rc ? call_error(call, err) : SQLITE_OK;
}

/* subject, version, id, schema_type, schema of every version of a subject. */
static int schemas_fill(catalog_call *call, char **err) {
  registry_options r = call_registry(call);
  cJSON *versions = get_json(&r, "/subjects/%s/versions", call->arg, err);
  int rc = versions ? SQLITE_OK : SQLITE_ERROR;
  const cJSON *v;
  cJSON_ArrayForEach(v, versions) {
    if (rc || !cJSON_IsNumber(v)) continue;
    char number[16];
    snprintf(number, sizeof number, "%d", (int)v->valuedouble);
    registry_schema s = {0};
    rc = registry_version(&r, call->arg, number, &s, err);
    if (!rc) {
      catalog_put_text(call->rows, call->arg);
      catalog_put_int(call->rows, s.version ? s.version : (sqlite3_int64)v->valuedouble);
      catalog_put_int(call->rows, s.id);
      catalog_put_text(call->rows, s.type ? s.type : "");
      catalog_put_text(call->rows, s.schema ? s.schema : "");
    }
    registry_schema_clear(&s);
  }
  cJSON_Delete(versions);
  return rc ? call_error(call, err) : SQLITE_OK;
}

static const catalog_source_table tables[] = {
    {{"kafka_subjects", "subject TEXT, versions INTEGER, latest_version INTEGER, latest_id INTEGER, schema_type TEXT",
      5, NULL, subjects_fill, CATALOG_ARG_TEXT},
     "registry", "schema_registry"},
    {{"kafka_schemas", "subject TEXT, version INTEGER, id INTEGER, schema_type TEXT, schema TEXT", 5, "subject",
      schemas_fill, CATALOG_ARG_TEXT},
     "registry", "schema_registry"},
};

/* kafka_register_schema(registry, subject, schema [, schema_type]). */
static void register_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const names[] = {"registry", "subject", "schema", "schema_type"};
  const char *args[4] = {NULL, NULL, NULL, "AVRO"};
  for (int a = 0; a < argc; a++) {
    args[a] = (const char *)sqlite3_value_text(argv[a]);
    if (sqlite3_value_type(argv[a]) == SQLITE_TEXT && args[a] && *args[a]) continue;
    char *msg = sqlite3_mprintf("kafka_register_schema: %s must be a non-empty text", names[a]);
    sqlite3_result_error(ctx, msg, -1);
    sqlite3_free(msg);
    return;
  }
  kafka_options opts;
  char *err = NULL;
  char *registry = sqlite3_mprintf("schema_registry=%s", args[0]);
  const char *argv_opts[1] = {registry};
  options_init(&opts);
  int rc = registry ? options_parse_args(&opts, 1, argv_opts, &err) : SQLITE_NOMEM;
  opts.registry.timeout_ms = CALL_TIMEOUT_MS;
  opts.registry.db = sqlite3_context_db_handle(ctx); /* Ctrl-C ends the request */
  int32_t id = 0;
  if (!rc) rc = registry_register(&opts.registry, args[1], args[2], args[3], &id, &err);
  options_free(&opts);
  sqlite3_free(registry);
  if (!rc) sqlite3_result_int64(ctx, id);
  else if (err) sqlite3_result_error(ctx, err, -1);
  else sqlite3_result_error_nomem(ctx);
  sqlite3_free(err);
}

int registry_catalog_register(sqlite3 *db) {
  int rc = catalog_register_source_tables(db, tables, sizeof tables / sizeof *tables);
  return rc ? rc : admin_define(db, "kafka_register_schema", 3, 4, register_func);
}
