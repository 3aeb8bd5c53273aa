/*
** libFuzzer target: the encoders (issue 22), Avro (ext/codec/avro.c),
** Protobuf (ext/codec/protobuf_codec.c) and JSON Schema's validation
** (ext/codec/jsonschema.c), on untrusted values. Byte 0 picks the codec
** (bit 2: JSON Schema, else bit 0: Avro or Protobuf) and the input's form
** (bit 1; JSON Schema has JSON only):
**   JSON text (the rest of the input), as INSERT's `value` gives it: encode
**     either fails with a whole message ("kafka: ...") and no payload, or
**     gives a payload that decodes, and whose JSON encodes and decodes to
**     that same JSON (what is written reads back as it was written);
**   typed columns, as INSERT's columns give them: one SQL value a column
**     (NULL, INTEGER, REAL, TEXT or BLOB, from the input), with each
**     column's affinity. encode_columns must do what encode does with the
**     JSON the columns compose (format_compose_value): fail where it
**     fails (with the same message when they compose JSON), or write a
**     payload that decodes to the same JSON.
** Both schemas have every kind of field, with the edges: int, long, float,
** double, decimal, uuid, enum, fixed, unions, arrays, maps, records; int32
** to uint64, enums, Timestamp, wrappers, repeated, maps, oneof.
*/
#include "codec.h"
#include "base.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const codec avro_codec;
extern const codec protobuf_codec;
extern const codec jsonschema_codec;

static const char AVRO_SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
    "{\"name\":\"i\",\"type\":\"int\",\"default\":0},{\"name\":\"l\",\"type\":\"long\",\"default\":0},"
    "{\"name\":\"f\",\"type\":\"float\",\"default\":0},{\"name\":\"d\",\"type\":\"double\",\"default\":0},"
    "{\"name\":\"b\",\"type\":\"boolean\",\"default\":false},{\"name\":\"s\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"by\",\"type\":\"bytes\",\"default\":\"\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]},\"default\":\"A\"},"
    "{\"name\":\"x\",\"type\":{\"type\":\"fixed\",\"name\":\"X\",\"size\":2},\"default\":\"0000\"},"
    "{\"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":9,\"scale\":3},\"default\":\"0\"},"
    "{\"name\":\"fd\",\"type\":{\"type\":\"fixed\",\"name\":\"FD\",\"size\":4,\"logicalType\":\"decimal\",\"precision\":9,\"scale\":2},\"default\":\"0\"},"
    "{\"name\":\"u\",\"type\":{\"type\":\"string\",\"logicalType\":\"uuid\"},\"default\":\"00000000-0000-0000-0000-000000000000\"},"
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"},\"default\":0},"
    "{\"name\":\"n\",\"type\":[\"null\",\"long\",\"string\"],\"default\":null},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":[\"long\",\"string\"]},\"default\":[]},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"float\"},\"default\":{}},"
    "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"In\",\"fields\":[{\"name\":\"z\",\"type\":\"E\"},"
    "{\"name\":\"q\",\"type\":\"int\",\"default\":1}]},\"default\":{\"z\":\"B\"}}]}";

static const char PROTO_SCHEMA[] =
    "syntax = \"proto3\";\n"
    "package fuzz;\n"
    "import \"google/protobuf/timestamp.proto\";\n"
    "import \"google/protobuf/wrappers.proto\";\n"
    "enum E { A = 0; B = 1; }\n"
    "message M {\n"
    "  string s = 1; int32 i32 = 2; int64 i64 = 3; uint64 u64 = 4; sint32 s32 = 5; uint32 u32 = 6;\n"
    "  fixed64 f64 = 7; double d = 8; float f = 9; bool b = 10; bytes raw = 11; E e = 12;\n"
    "  repeated int32 packed = 13; map<string, float> fm = 14; map<int64, bool> flags = 15;\n"
    "  google.protobuf.Timestamp at = 16; google.protobuf.Int32Value w = 17;\n"
    "  oneof o { string os = 18; M om = 19; } optional sfixed32 opt = 20;\n"
    "}\n";

static const char JSON_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{"
    "\"n\":{\"type\":\"integer\",\"minimum\":-9223372036854775808,\"maximum\":100},"
    "\"x\":{\"type\":\"number\",\"exclusiveMaximum\":1.5,\"multipleOf\":0.25},"
    "\"s\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4,\"pattern\":\"^[a-z]*$\"},"
    "\"e\":{\"enum\":[\"a\",1,null,{\"k\":[]}]},\"c\":{\"const\":true},"
    "\"t\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"},\"maxItems\":3,\"uniqueItems\":true},"
    "\"o\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"},{\"type\":\"number\"}]},"
    "\"a\":{\"anyOf\":[{\"type\":\"null\"},{\"$ref\":\"#/definitions/P\"}]},"
    "\"no\":{\"not\":{\"type\":\"string\"}},\"all\":{\"allOf\":[{\"minimum\":0},{\"maximum\":9}]}},"
    "\"patternProperties\":{\"^p_\":{\"type\":\"boolean\"}},"
    "\"required\":[\"n\"],\"additionalProperties\":false,\"maxProperties\":8,"
    "\"definitions\":{\"P\":{\"type\":\"object\",\"required\":[\"q\"],\"properties\":{\"q\":{\"$ref\":\"#/definitions/P\"}}}}}";

typedef struct target {
  const codec *codec;
  codec_schema *schema;
  kafka_options opts; /* the typed columns (n_columns, columns) */
} target;

static target targets[3];
static sqlite3 *db;

static char affinity_of(const char *sql_type) {
  if (!strcmp(sql_type, "INTEGER")) return SQLITE_INTEGER;
  if (!strcmp(sql_type, "REAL")) return SQLITE_FLOAT;
  if (!strcmp(sql_type, "TEXT")) return SQLITE_TEXT;
  if (!strcmp(sql_type, "BLOB")) return SQLITE_BLOB;
  return 0;
}

static int add_column(void *arg, const char *name, const char *sql_type) {
  kafka_options *opts = arg;
  if (opts->n_columns == 32) abort();
  if (!opts->columns) opts->columns = calloc(32, sizeof *opts->columns);
  typed_column *col = &opts->columns[opts->n_columns++];
  col->name = strdup(name);
  col->type = strdup(sql_type);
  col->path = malloc(strlen(name) + 3);
  strcpy(col->path, "$.");
  strcat(col->path, name);
  col->affinity = affinity_of(sql_type);
  col->hex_blob = col->affinity == SQLITE_BLOB;
  return 0;
}

static void teardown(void) {
  for (int k = 0; k < 3; k++) targets[k].codec->release(targets[k].schema);
  sqlite3_close(db);
}

static void setup(void) {
  const char *texts[3] = {AVRO_SCHEMA, PROTO_SCHEMA, JSON_SCHEMA};
  const codec *codecs[3] = {&avro_codec, &protobuf_codec, &jsonschema_codec};
  for (int k = 0; k < 3; k++) {
    char *err = NULL;
    targets[k].codec = codecs[k];
    if (codecs[k]->parse(texts[k], k ? "fuzz.M" : NULL, NULL, &targets[k].schema, &err) ||
        codecs[k]->columns(targets[k].schema, add_column, &targets[k].opts, &err)) {
      fprintf(stderr, "schema %d: %s\n", k, err);
      abort();
    }
  }
  if (sqlite3_open(":memory:", &db)) abort();
  atexit(teardown);
}

/* The JSON a payload decodes to (sqlite3_malloc'd); aborts when it does
** not decode: what an encoder wrote must read back. */
static char *decoded(const target *t, const void *bytes, size_t len, const char *from) {
  char *json = NULL, *why = NULL;
  if (t->codec->decode(t->schema, bytes, len, &json, &why)) {
    fprintf(stderr, "%s: encoded from %s, does not decode: %s\n", t->codec->name, from, why);
    abort();
  }
  return json;
}

/* JSON text to a payload, and back: the JSON a payload of it reads as,
** or NULL when encode refused it (with a whole message, no payload). */
static char *round_trip(const target *t, const char *json, size_t len, char **err) {
  void *bytes = NULL;
  size_t n = 0;
  if (t->codec->encode(t->schema, json, len, &bytes, &n, err)) {
    if (!*err || strncmp(*err, "kafka: ", 7) || bytes) {
      fprintf(stderr, "%s: refused %.*s without a message (%s)\n", t->codec->name, (int)len, json, *err ? *err : "none");
      abort();
    }
    return NULL;
  }
  char *back = decoded(t, bytes, n, json);
  sqlite3_free(bytes);
  return back;
}

static void check_json(const target *t, const char *json, size_t len) {
  char *err = NULL;
  char *once = round_trip(t, json, len, &err);
  sqlite3_free(err);
  if (!once) return;
  err = NULL;
  char *twice = round_trip(t, once, strlen(once), &err);
  if (!twice || strcmp(once, twice)) {
    fprintf(stderr, "%s: %.*s reads as %s\nwhich writes %s\n", t->codec->name, (int)len, json, once,
            twice ? twice : err);
    abort();
  }
  sqlite3_free(once);
  sqlite3_free(twice);
}

/* Binds one SQL value a column from the input: a type byte, then its
** bytes (8 for a number, a length byte and that many for text and blobs). */
static void bind_values(sqlite3_stmt *stmt, int n, const uint8_t **p, const uint8_t *end) {
  for (int i = 1; i <= n; i++) {
    if (*p >= end) return; /* the rest stay NULL */
    uint8_t type = *(*p)++ % 5;
    size_t len = type >= 3 && *p < end ? *(*p)++ : 8;
    if (len > (size_t)(end - *p)) len = (size_t)(end - *p);
    uint64_t bits = 0;
    memcpy(&bits, *p, len < 8 ? len : 8);
    double real;
    memcpy(&real, &bits, sizeof real);
    switch (type) {
    case 1: sqlite3_bind_int64(stmt, i, (sqlite3_int64)bits); break;
    case 2: sqlite3_bind_double(stmt, i, real); break;
    case 3: sqlite3_bind_text(stmt, i, (const char *)*p, (int)len, SQLITE_TRANSIENT); break;
    case 4: sqlite3_bind_blob(stmt, i, *p, (int)len, SQLITE_TRANSIENT); break;
    default: break;
    }
    *p += type ? len : 0;
  }
}

static void check_columns(const target *t, const uint8_t *p, const uint8_t *end) {
  int n = t->opts.n_columns;
  sqlite3_str *sql = sqlite3_str_new(db);
  sqlite3_str_appendall(sql, "SELECT ?1");
  for (int i = 2; i <= n; i++) sqlite3_str_appendf(sql, ", ?%d", i);
  char *text = sqlite3_str_finish(sql);
  sqlite3_stmt *stmt;
  if (sqlite3_prepare_v2(db, text, -1, &stmt, NULL)) abort();
  sqlite3_free(text);
  bind_values(stmt, n, &p, end);
  if (sqlite3_step(stmt) != SQLITE_ROW) abort();
  sqlite3_value *values[32];
  for (int i = 0; i < n; i++) values[i] = sqlite3_column_value(stmt, i);
  void *bytes = NULL;
  size_t len = 0;
  char *err = NULL, *json = NULL, *json_err = NULL;
  int rc = t->codec->encode_columns(t->schema, t->opts.columns, values, n, &bytes, &len, &err);
  if (rc != SQLITE_NOTFOUND) {
    char *want = NULL;
    int composed = format_compose_value(&t->opts, values, &json, &json_err) == SQLITE_OK;
    if (composed) want = round_trip(t, json, strlen(json), &json_err);
    char *got = rc ? NULL : decoded(t, bytes, len, "typed columns");
    /* Both refuse with the same message; when the columns compose no
    ** JSON, which column is named first may differ. */
    int same_refusal = !got && err && json_err && (!composed || !strcmp(err, json_err));
    if (!got != !want || (got && strcmp(got, want)) || (!got && !same_refusal)) {
      fprintf(stderr, "%s: typed columns wrote %s (%s), their JSON %s wrote %s (%s)\n", t->codec->name,
              got ? got : "nothing", err ? err : "", json ? json : "none", want ? want : "nothing",
              json_err ? json_err : "");
      abort();
    }
    sqlite3_free(got);
    sqlite3_free(want);
  }
  sqlite3_free(bytes);
  sqlite3_free(err);
  sqlite3_free(json);
  sqlite3_free(json_err);
  sqlite3_finalize(stmt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!db) setup();
  if (size < 1) return 0;
  const target *t = &targets[data[0] & 4 ? 2 : data[0] & 1];
  if ((data[0] & 2) && t->codec->encode_columns) check_columns(t, data + 1, data + size);
  else check_json(t, (const char *)data + 1, size - 1);
  return 0;
}
