/*
** The JSON Schema codec: the payload after the wire format's header is
** JSON text, read and written as it is. The schema gives the typed
** columns (the top-level properties) and the id messages are framed with;
** payloads are NOT validated against it (no Debian C library validates
** JSON Schema), only checked to be JSON.
*/
#include "base.h"
#include "codec.h"

#include <cjson/cJSON.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

struct codec_schema {
  cJSON *json;
};

static int jsonschema_parse(const char *text, const char *message, const codec_imports *imports,
                            codec_schema **out, char **err) {
  (void)message, (void)imports;
  cJSON *json = cJSON_Parse(text);
  if (!cJSON_IsObject(json) && !cJSON_IsBool(json)) {
    cJSON_Delete(json);
    *err = sqlite3_mprintf("not a JSON Schema (a JSON object or boolean)");
    return SQLITE_ERROR;
  }
  codec_schema *s = sqlite3_malloc64(sizeof *s);
  if (!s) {
    cJSON_Delete(json);
    return SQLITE_NOMEM;
  }
  s->json = json;
  *out = s;
  return SQLITE_OK;
}

static void jsonschema_release(codec_schema *s) {
  if (!s) return;
  cJSON_Delete(s->json);
  sqlite3_free(s);
}

/* The SQL type of a JSON Schema type name. */
static const char *type_name_sql(const char *type) {
  if (!strcmp(type, "integer") || !strcmp(type, "boolean")) return "INTEGER";
  if (!strcmp(type, "number")) return "REAL";
  if (!strcmp(type, "string") || !strcmp(type, "object") || !strcmp(type, "array")) return "TEXT";
  return "";
}

/* A property's SQL type: from "type", a name or a list with "null". */
static const char *property_sql(const cJSON *property) {
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(property, "type");
  if (cJSON_IsString(type)) return type_name_sql(type->valuestring);
  const char *found = "";
  for (const cJSON *t = cJSON_IsArray(type) ? type->child : NULL; t; t = t->next) {
    if (!cJSON_IsString(t) || !strcmp(t->valuestring, "null")) continue;
    if (*found) return "";
    found = type_name_sql(t->valuestring);
  }
  return found;
}

static int jsonschema_columns(const codec_schema *s, codec_column_fn add, void *arg, char **err) {
  const cJSON *properties = cJSON_GetObjectItemCaseSensitive(s->json, "properties");
  if (!cJSON_IsObject(properties)) {
    *err = sqlite3_mprintf("kafka: the JSON Schema has no top-level properties to make columns of "
                           "(read value, or declare columns)");
    return SQLITE_ERROR;
  }
  int rc = SQLITE_OK;
  for (const cJSON *p = properties->child; p && !rc; p = p->next) rc = add(arg, p->string, property_sql(p));
  return rc;
}

/* A copy of the payload when it is JSON text. */
static int json_copy(const void *data, size_t len, char **out) {
  cJSON *parsed = cJSON_ParseWithLength(data, len);
  if (!parsed) return SQLITE_ERROR;
  cJSON_Delete(parsed);
  *out = sqlite3_malloc64(len + 1);
  if (!*out) return SQLITE_NOMEM;
  memcpy(*out, data, len);
  (*out)[len] = 0;
  return SQLITE_OK;
}

static int jsonschema_decode(const codec_schema *writer, const void *data, size_t len, char **json,
                             char **why) {
  (void)writer;
  int rc = memchr(data, 0, len) ? SQLITE_ERROR : json_copy(data, len, json);
  if (rc == SQLITE_ERROR) *why = sqlite3_mprintf("the payload is not JSON text");
  return rc;
}

/* Non-zero when a property's type is boolean (alone or with null). */
static int is_boolean_property(const cJSON *property) {
  const char *sql = property_sql(property);
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(property, "type");
  if (cJSON_IsString(type)) return !strcmp(type->valuestring, "boolean");
  const cJSON *t;
  cJSON_ArrayForEach(t, type) if (cJSON_IsString(t) && !strcmp(t->valuestring, "boolean")) return *sql != 0;
  return 0;
}

/* A boolean property's INTEGER column composes 0 or 1: the JSON gets
** false or true, as the schema (and its validating readers) want. The
** text is printed anew only when something changed. */
static int booleans_from_integers(const codec_schema *s, const char *json, size_t len, char **out) {
  const cJSON *properties = cJSON_GetObjectItemCaseSensitive(s->json, "properties");
  cJSON *root = cJSON_IsObject(properties) ? cJSON_ParseWithLength(json, len) : NULL;
  int changed = 0;
  for (cJSON *v = cJSON_IsObject(root) ? root->child : NULL; v; v = v->next) {
    const cJSON *property = cJSON_GetObjectItemCaseSensitive(properties, v->string);
    if (!cJSON_IsNumber(v) || (v->valuedouble != 0 && v->valuedouble != 1) || !is_boolean_property(property))
      continue;
    v->type = v->valuedouble ? cJSON_True : cJSON_False;
    changed = 1;
  }
  char *text = changed ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!changed) return SQLITE_OK;
  if (!text) return SQLITE_NOMEM;
  *out = sqlite3_mprintf("%s", text);
  cJSON_free(text);
  return *out ? SQLITE_OK : SQLITE_NOMEM;
}

static int jsonschema_encode(const codec_schema *schema, const char *json, size_t len, void **out,
                             size_t *out_len, char **err) {
  char *copy = NULL, *coerced = NULL;
  int rc = json_copy(json, len, &copy);
  if (rc == SQLITE_ERROR) *err = sqlite3_mprintf("kafka: the value to write as JSON Schema JSON is not JSON");
  if (!rc) rc = booleans_from_integers(schema, json, len, &coerced);
  if (coerced) {
    sqlite3_free(copy);
    copy = coerced;
    len = strlen(coerced);
  }
  *out = copy;
  *out_len = len;
  return rc;
}

const codec jsonschema_codec = {
    .name = "jsonschema",
    .registry_type = "JSON",
    .parse = jsonschema_parse,
    .release = jsonschema_release,
    .columns = jsonschema_columns,
    .decode = jsonschema_decode,
    .encode = jsonschema_encode,
};
