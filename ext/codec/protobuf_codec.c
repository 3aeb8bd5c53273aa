/*
** The protobuf codec (include/codec.h) over ext/codec/protobuf.cc (include/
** protobuf.h): a schema is the compiled .proto text with its imports (the
** registry's references, fetched as the compiler asks for them) and the
** message type that columns and encoding use (value_message, or the
** schema's first). Decoding takes the message type from each payload's
** message-index array instead: a topic may carry several. A schema from a
** .proto file (parse_plain, no registry) has plain payloads: messages of
** that one type, without the index array.
**
** include/protobuf.h gives its errors malloc'd; the codec interface speaks
** sqlite3_malloc: they are copied across here.
*/
#include "base.h"
#include "codec.h"
#include "protobuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* The name the schema's own .proto text goes by in errors (imports go by
** the names their references give them). */
#define SCHEMA_FILE "schema.proto"

struct codec_schema {
  pb_schema *schema;
  const pb_message *message; /* for columns and encode */
};

/* Decoded JSON and encoded payloads go straight into SQLite's memory. */
static void *sqlite_alloc(size_t size) { return sqlite3_malloc64(size); }

/* *err (sqlite3_mprintf) from a malloc'd reason, which it frees. */
static int failed(char **err, const char *prefix, char *why) {
  *err = sqlite3_mprintf("%s%s", prefix, why ? why : "out of memory");
  free(why);
  return SQLITE_ERROR;
}

/* A pb_import_fn over the codec's imports. */
static int import(void *arg, const char *name, char **text, char **err) {
  const codec_imports *imports = arg;
  char *found = NULL, *why = NULL;
  int rc = imports->resolve(imports->arg, name, &found, &why);
  if (rc) *err = strdup(why ? why : "out of memory");
  else *text = strdup(found);
  sqlite3_free(found);
  sqlite3_free(why);
  return rc || !*text ? -1 : 0;
}

/* Compiles a schema named `name`; plain: its payloads are messages of
** the chosen type alone (include/protobuf.h, pb_schema_plain). */
static int compile(const char *name, const char *text, const char *message, const codec_imports *imports,
                   int plain, codec_schema **out, char **err) {
  codec_schema *s = sqlite3_malloc64(sizeof *s);
  if (!s) return SQLITE_NOMEM;
  char *why = NULL;
  s->schema = pb_schema_compile(name ? name : SCHEMA_FILE, text, imports ? import : NULL, (void *)imports, &why);
  s->message = s->schema ? pb_schema_message(s->schema, message, &why) : NULL;
  if (s->message && plain) pb_schema_plain(s->schema, s->message);
  if (s->message) {
    *out = s;
    return SQLITE_OK;
  }
  pb_schema_free(s->schema);
  sqlite3_free(s);
  return failed(err, "", why);
}

static int protobuf_parse(const char *text, const char *message, const codec_imports *imports,
                          codec_schema **out, char **err) {
  return compile(NULL, text, message, imports, 0, out, err);
}

static int protobuf_parse_plain(const char *name, const char *text, const char *message,
                                const codec_imports *imports, codec_schema **out, char **err) {
  return compile(name, text, message, imports, 1, out, err);
}

static void protobuf_release(codec_schema *s) {
  pb_schema_free(s->schema);
  sqlite3_free(s);
}

static int protobuf_columns(const codec_schema *s, codec_column_fn add, void *arg, char **err) {
  (void)err;
  int rc = SQLITE_OK;
  for (int i = 0; i < pb_message_field_count(s->message) && !rc; i++)
    rc = add(arg, pb_message_field_name(s->message, i), pb_message_field_sql_type(s->message, i));
  return rc;
}

static int protobuf_decode(const codec_schema *writer, const void *data, size_t len, char **json,
                           char **why) {
  size_t n;
  char *reason = NULL;
  *json = pb_decode(writer->schema, data, len, sqlite_alloc, &n, &reason);
  return *json ? SQLITE_OK : failed(why, "", reason);
}

/* The top-level field a typed column's path names ($.name, $."name",
** $["name"]); 0 when the path goes below the top level. */
static int top_level_field(const char *path, pb_field_name *field) {
  json_step step;
  if (*path++ != '$' || json_path_step(&path, &step) <= 0 || !step.name || *path) return 0;
  field->name = step.name;
  field->len = step.len;
  return 1;
}

/* A pb_value_fn filling the sql_value cells (include/codec.h): text is
** copied, JSON text read as json_extract() reads it. */
static int take_cell(void *arg, int i, const pb_value *value) {
  sql_value *cell = &((sql_value *)arg)[i];
  const char *text = value->text;
  size_t len = value->len;
  switch (value->kind) {
  case PB_VALUE_NULL: return SQLITE_OK;
  case PB_VALUE_INTEGER:
    cell->type = SQLITE_INTEGER;
    cell->i = value->i;
    return SQLITE_OK;
  case PB_VALUE_REAL:
    cell->type = SQLITE_FLOAT;
    cell->r = value->r;
    return SQLITE_OK;
  case PB_VALUE_JSON:
    format_json_value(value->text, value->len, cell);
    if (cell->type != SQLITE_TEXT || cell->owned) return SQLITE_OK;
    text = cell->text; /* borrowed from the JSON: copied below */
    len = cell->len;
    break;
  case PB_VALUE_TEXT:
  case PB_VALUE_BLOB: break; /* (decoding gives no BLOB) */
  }
  cell->owned = sqlite3_malloc64(len + 1);
  if (!cell->owned) return SQLITE_NOMEM;
  memcpy(cell->owned, text, len);
  cell->owned[len] = 0;
  cell->type = SQLITE_TEXT;
  cell->text = cell->owned;
  cell->len = len;
  return SQLITE_OK;
}

/* The wanted typed columns straight from the message (include/codec.h). */
static int protobuf_decode_columns(const codec_schema *writer, const void *data, size_t len,
                                   const typed_column *cols, int n, const unsigned char *wanted,
                                   sql_value *out, char **why) {
  pb_field_name small[16], *fields = n <= 16 ? small : sqlite3_malloc64(sizeof *fields * (size_t)n);
  if (!fields) return SQLITE_NOMEM;
  int rc = SQLITE_OK;
  for (int i = 0; i < n && !rc; i++) {
    if (!top_level_field(cols[i].path, &fields[i])) rc = SQLITE_NOTFOUND;
    if (wanted && !wanted[i]) fields[i].name = NULL;
  }
  char *reason = NULL;
  if (!rc) rc = pb_decode_fields(writer->schema, data, len, fields, n, take_cell, out, &reason);
  if (fields != small) sqlite3_free(fields);
  return rc < 0 ? failed(why, "", reason) : rc;
}

/* An INSERT's SQL value as it would go into its column's JSON (include/
** format.h, format_typed_json), when that is plain: the column's affinity
** leaves it as it is, and text is UTF-8 without NUL. 0 when it is not. */
static int plain_value(const typed_column *col, sqlite3_value *value, pb_value *v) {
  int type = sqlite3_value_type(value);
  if (col->affinity == SQLITE_INTEGER && type == SQLITE_INTEGER) {
    v->kind = PB_VALUE_INTEGER;
    v->i = sqlite3_value_int64(value);
  } else if (col->affinity == SQLITE_FLOAT && (type == SQLITE_FLOAT || type == SQLITE_INTEGER)) {
    v->kind = PB_VALUE_REAL;
    v->r = sqlite3_value_double(value);
    if (!isfinite(v->r)) return 0;
    if (v->r == 0) v->r = 0; /* SQLite's printf writes -0.0 as 0.0: so does its JSON */
  } else if (col->affinity == SQLITE_TEXT && type == SQLITE_TEXT) {
    v->kind = PB_VALUE_TEXT;
    v->text = (const char *)sqlite3_value_text(value);
    v->len = (size_t)sqlite3_value_bytes(value);
    if (!v->text || memchr(v->text, 0, v->len) || !utf8_valid((const unsigned char *)v->text, v->len)) return 0;
  } else if (col->hex_blob && type == SQLITE_BLOB) {
    v->kind = PB_VALUE_BLOB;
    v->text = sqlite3_value_blob(value);
    v->len = (size_t)sqlite3_value_bytes(value);
  } else {
    return 0;
  }
  return 1;
}

/* An INSERT's typed columns straight into a message, when every value is
** plain (include/protobuf.h, pb_encode_fields); else SQLITE_NOTFOUND: the
** JSON they compose is encoded, and says what does not fit. */
static int protobuf_encode_columns(const codec_schema *s, const typed_column *cols, sqlite3_value **values,
                                   int n, void **out, size_t *out_len, char **err) {
  (void)err;
  pb_field_name small_fields[16] = {{0}}, *fields = small_fields;
  pb_value small_values[16] = {{0}}, *plain = small_values;
  if (n > 16) {
    fields = sqlite3_malloc64(sizeof *fields * (size_t)n);
    plain = sqlite3_malloc64(sizeof *plain * (size_t)n);
  }
  int rc = fields && plain ? SQLITE_OK : SQLITE_NOMEM;
  for (int i = 0; i < n && !rc; i++) {
    if (!top_level_field(cols[i].path, &fields[i])) rc = SQLITE_NOTFOUND;
    else if (sqlite3_value_type(values[i]) == SQLITE_NULL) fields[i].name = NULL;
    else if (!plain_value(&cols[i], values[i], &plain[i])) rc = SQLITE_NOTFOUND;
  }
  if (!rc) {
    *out = pb_encode_fields(s->message, fields, plain, n, sqlite_alloc, out_len);
    rc = *out ? SQLITE_OK : SQLITE_NOTFOUND;
  }
  if (fields != small_fields) sqlite3_free(fields);
  if (plain != small_values) sqlite3_free(plain);
  return rc;
}

static int protobuf_encode(const codec_schema *s, const char *json, size_t len, void **out,
                           size_t *out_len, char **err) {
  char *why = NULL;
  *out = pb_encode(s->message, json, len, sqlite_alloc, out_len, &why);
  return *out ? SQLITE_OK : failed(err, "kafka: Protobuf ", why);
}

const codec protobuf_codec = {
    .name = "protobuf",
    .registry_type = "PROTOBUF",
    .parse = protobuf_parse,
    .parse_plain = protobuf_parse_plain,
    .release = protobuf_release,
    .columns = protobuf_columns,
    .decode = protobuf_decode,
    .encode = protobuf_encode,
    .encode_columns = protobuf_encode_columns,
    .decode_columns = protobuf_decode_columns,
};
