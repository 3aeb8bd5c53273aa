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
#include "kafka_ext.h"
#include "registry.h"
#include "registry_catalog.h"

#include <string.h>

SQLITE_EXTENSION_INIT3

#define CALL_TIMEOUT_MS 10000

typedef struct subjects_table {
  const char *name;
  const char *columns; /* visible columns, then the hidden arguments */
  int n_columns;
  int n_args;          /* registry [, subject] */
  /* Appends the rows (arrays of column values) for the arguments. */
  int (*fill)(const registry_options *r, const char *subject, cJSON *rows, char **err);
} subjects_table;

typedef struct subjects_cursor {
  sqlite3_vtab_cursor base; /* must come first */
  cJSON *rows;
  const cJSON *row;
  sqlite3_int64 rowid;
  char *args[2];
} subjects_cursor;

typedef struct subjects_vtab {
  sqlite3_vtab base; /* must come first */
  const subjects_table *table;
} subjects_vtab;

static cJSON *get_json(const registry_options *r, const char *fmt, const char *subject, char **err) {
  char *escaped = subject ? registry_escape(subject) : NULL;
  char *path = sqlite3_mprintf(fmt, escaped ? escaped : "");
  cJSON *out = NULL;
  if (path) registry_get(r, path, &out, err);
  sqlite3_free(path);
  sqlite3_free(escaped);
  return out;
}

static int add_row(cJSON *rows, cJSON *row) {
  if (!row || !cJSON_AddItemToArray(rows, row)) {
    cJSON_Delete(row);
    return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

static int subjects_fill(const registry_options *r, const char *unused, cJSON *rows, char **err) {
  (void)unused;
  cJSON *subjects = get_json(r, "/subjects%s", NULL, err);
  int rc = subjects ? SQLITE_OK : SQLITE_ERROR;
  const cJSON *s;
  cJSON_ArrayForEach(s, subjects) {
    if (rc || !cJSON_IsString(s)) continue;
    cJSON *versions = get_json(r, "/subjects/%s/versions", s->valuestring, err);
    registry_schema latest = {0};
    rc = versions ? registry_version(r, s->valuestring, "latest", &latest, err) : SQLITE_ERROR;
    cJSON *row = cJSON_CreateArray();
    cJSON_AddItemToArray(row, cJSON_CreateString(s->valuestring));
    cJSON_AddItemToArray(row, cJSON_CreateNumber(cJSON_GetArraySize(versions)));
    cJSON_AddItemToArray(row, cJSON_CreateNumber(latest.version));
    cJSON_AddItemToArray(row, cJSON_CreateNumber(latest.id));
    cJSON_AddItemToArray(row, cJSON_CreateString(latest.type ? latest.type : ""));
    if (!rc) rc = add_row(rows, row);
    else cJSON_Delete(row);
    registry_schema_clear(&latest);
    cJSON_Delete(versions);
  }
  cJSON_Delete(subjects);
  return rc;
}

static int schemas_fill(const registry_options *r, const char *subject, cJSON *rows, char **err) {
  cJSON *versions = get_json(r, "/subjects/%s/versions", subject, err);
  int rc = versions ? SQLITE_OK : SQLITE_ERROR;
  const cJSON *v;
  cJSON_ArrayForEach(v, versions) {
    if (rc || !cJSON_IsNumber(v)) continue;
    char number[16];
    snprintf(number, sizeof number, "%d", (int)v->valuedouble);
    registry_schema s = {0};
    rc = registry_version(r, subject, number, &s, err);
    cJSON *row = rc ? NULL : cJSON_CreateArray();
    cJSON_AddItemToArray(row, cJSON_CreateString(subject));
    cJSON_AddItemToArray(row, cJSON_CreateNumber(s.version ? s.version : v->valuedouble));
    cJSON_AddItemToArray(row, cJSON_CreateNumber(s.id));
    cJSON_AddItemToArray(row, cJSON_CreateString(s.type ? s.type : ""));
    cJSON_AddItemToArray(row, cJSON_CreateString(s.schema ? s.schema : ""));
    if (!rc) rc = add_row(rows, row);
    registry_schema_clear(&s);
  }
  cJSON_Delete(versions);
  return rc;
}

static const subjects_table tables[] = {
    {"kafka_subjects", "subject TEXT, versions INTEGER, latest_version INTEGER, latest_id INTEGER, "
                       "schema_type TEXT, registry HIDDEN", 5, 1, subjects_fill},
    {"kafka_schemas", "subject TEXT, version INTEGER, id INTEGER, schema_type TEXT, schema TEXT, "
                      "registry HIDDEN, subject_arg HIDDEN", 5, 2, schemas_fill},
};

static int subjects_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                            sqlite3_vtab **out, char **err) {
  (void)argc, (void)argv, (void)err;
  const subjects_table *t = aux;
  char *schema = sqlite3_mprintf("CREATE TABLE x(%s)", t->columns);
  int rc = schema ? sqlite3_declare_vtab(db, schema) : SQLITE_NOMEM;
  sqlite3_free(schema);
  /* A trigger or view in an untrusted database must not reach a registry. */
  if (!rc) rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  subjects_vtab *vtab = rc ? NULL : sqlite3_malloc64(sizeof *vtab);
  if (!rc && !vtab) rc = SQLITE_NOMEM;
  if (rc) return rc;
  memset(vtab, 0, sizeof *vtab);
  vtab->table = t;
  *out = &vtab->base;
  return SQLITE_OK;
}

static int subjects_disconnect(sqlite3_vtab *base) {
  sqlite3_free(base);
  return SQLITE_OK;
}

/* Every argument is required and must be usable (else another join order). */
static int subjects_best_index(sqlite3_vtab *base, sqlite3_index_info *info) {
  const subjects_table *t = ((subjects_vtab *)base)->table;
  int usable[2] = {-1, -1}, seen[2] = {0, 0};
  for (int i = 0; i < info->nConstraint; i++) {
    int a = info->aConstraint[i].iColumn - t->n_columns;
    if (a < 0 || a >= t->n_args || info->aConstraint[i].op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    seen[a] = 1;
    if (info->aConstraint[i].usable && usable[a] < 0) usable[a] = i;
  }
  for (int a = 0; a < t->n_args; a++) {
    if (!seen[a])
      return vtab_error(base, "%s: argument %s is required: %s(registry%s)", t->name, a ? "subject" : "registry",
                        t->name, t->n_args > 1 ? ", subject" : "");
    if (usable[a] < 0) return SQLITE_CONSTRAINT;
    info->aConstraintUsage[usable[a]].argvIndex = a + 1;
    info->aConstraintUsage[usable[a]].omit = 1;
  }
  info->estimatedCost = 1000;
  info->estimatedRows = 100;
  return SQLITE_OK;
}

static int subjects_open(sqlite3_vtab *base, sqlite3_vtab_cursor **out) {
  (void)base;
  subjects_cursor *c = sqlite3_malloc64(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *out = &c->base;
  return SQLITE_OK;
}

static void cursor_clear(subjects_cursor *c) {
  cJSON_Delete(c->rows);
  c->rows = NULL;
  c->row = NULL;
  for (int a = 0; a < 2; a++) {
    sqlite3_free(c->args[a]);
    c->args[a] = NULL;
  }
}

static int subjects_close(sqlite3_vtab_cursor *cursor) {
  cursor_clear((subjects_cursor *)cursor);
  sqlite3_free(cursor);
  return SQLITE_OK;
}

static int subjects_filter(sqlite3_vtab_cursor *cursor, int idx_num, const char *idx_str, int argc,
                           sqlite3_value **argv) {
  (void)idx_num, (void)idx_str;
  subjects_cursor *c = (subjects_cursor *)cursor;
  const subjects_table *t = ((subjects_vtab *)cursor->pVtab)->table;
  cursor_clear(c);
  for (int a = 0; a < argc && a < 2; a++) {
    const char *s = (const char *)sqlite3_value_text(argv[a]);
    if (!s || !*s || sqlite3_value_type(argv[a]) != SQLITE_TEXT)
      return vtab_error(cursor->pVtab, "%s: %s must be a non-empty text", t->name, a ? "subject" : "registry");
    if (!(c->args[a] = sqlite3_mprintf("%s", s))) return SQLITE_NOMEM;
  }
  kafka_options opts;
  char *err = NULL;
  const char *argv_opts[1];
  char *registry = sqlite3_mprintf("schema_registry=%s", c->args[0]);
  argv_opts[0] = registry;
  options_init(&opts);
  int rc = registry ? options_parse_args(&opts, 1, argv_opts, &err) : SQLITE_NOMEM;
  opts.registry.timeout_ms = CALL_TIMEOUT_MS;
  c->rows = rc ? NULL : cJSON_CreateArray();
  if (!rc && !c->rows) rc = SQLITE_NOMEM;
  if (!rc) rc = t->fill(&opts.registry, c->args[1], c->rows, &err);
  options_free(&opts);
  sqlite3_free(registry);
  c->row = c->rows ? c->rows->child : NULL;
  c->rowid = 1;
  if (err) {
    vtab_error(cursor->pVtab, "%s: %s", t->name, strncmp(err, "kafka: ", 7) ? err : err + 7);
    sqlite3_free(err);
    return SQLITE_ERROR;
  }
  return rc;
}

static int subjects_next(sqlite3_vtab_cursor *cursor) {
  subjects_cursor *c = (subjects_cursor *)cursor;
  c->row = c->row ? c->row->next : NULL;
  c->rowid++;
  return SQLITE_OK;
}

static int subjects_eof(sqlite3_vtab_cursor *cursor) { return ((subjects_cursor *)cursor)->row == NULL; }

static int subjects_column(sqlite3_vtab_cursor *cursor, sqlite3_context *ctx, int column) {
  subjects_cursor *c = (subjects_cursor *)cursor;
  const subjects_table *t = ((subjects_vtab *)cursor->pVtab)->table;
  if (column >= t->n_columns) { /* the arguments read back; the registry without credentials never */
    if (column - t->n_columns == 1) sqlite3_result_text(ctx, c->args[1], -1, SQLITE_TRANSIENT);
    return SQLITE_OK;
  }
  const cJSON *v = cJSON_GetArrayItem(c->row, column);
  if (cJSON_IsNumber(v)) sqlite3_result_int64(ctx, (sqlite3_int64)v->valuedouble);
  else if (cJSON_IsString(v)) sqlite3_result_text(ctx, v->valuestring, -1, SQLITE_TRANSIENT);
  return SQLITE_OK;
}

static int subjects_rowid(sqlite3_vtab_cursor *cursor, sqlite3_int64 *rowid) {
  *rowid = ((subjects_cursor *)cursor)->rowid;
  return SQLITE_OK;
}

/* Eponymous-only: no xCreate. */
static sqlite3_module subjects_module = {
    0, NULL, subjects_connect, subjects_best_index, subjects_disconnect, subjects_disconnect,
    subjects_open, subjects_close, subjects_filter, subjects_next, subjects_eof, subjects_column,
    subjects_rowid, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
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
  int rc = SQLITE_OK;
  for (size_t i = 0; !rc && i < sizeof tables / sizeof *tables; i++)
    rc = sqlite3_create_module(db, tables[i].name, &subjects_module, (void *)&tables[i]);
  for (int n = 3; !rc && n <= 4; n++)
    rc = sqlite3_create_function(db, "kafka_register_schema", n, SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL,
                                 register_func, NULL, NULL);
  return rc;
}
