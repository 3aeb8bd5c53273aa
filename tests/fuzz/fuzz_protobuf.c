/*
** libFuzzer target: Protobuf payloads (ext/codec/protobuf.cc through
** include/protobuf.h). The input is a payload as it follows the schema id
** in the wire format (message-index array, then the message), decoded with
** a schema of every kind of field; whatever the bytes, the answer is JSON
** text of the length it says, or an error. JSON of the first message goes
** back through encode (payload or error: a Timestamp past year 9999 or an
** Any of an unknown type read fine but do not encode). The codec's
** decode_columns, for columns named as M's fields, must fail where decode
** fails, with the same words, and otherwise give what format_json_value()
** reads at each column's path in decode's JSON (json_extract()'s value).
** Payloads of Other (index [1]) take the path where writing the JSON
** cannot fail, so it is not written; M's have a Struct and a Duration.
*/
#include "codec.h"
#include "base.h"
#include "protobuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char SCHEMA[] =
    "syntax = \"proto3\";\n"
    "package fuzz;\n"
    "import \"google/protobuf/timestamp.proto\";\n"
    "import \"google/protobuf/wrappers.proto\";\n"
    "import \"google/protobuf/struct.proto\";\n"
    "import \"google/protobuf/any.proto\";\n"
    "import \"google/protobuf/duration.proto\";\n"
    "enum E { A = 0; B = 1; }\n"
    "message M {\n"
    "  string s = 1; int32 i32 = 2; int64 i64 = 3; uint64 u64 = 4; sint32 s32 = 5; sint64 s64 = 6;\n"
    "  fixed32 f32 = 7; fixed64 f64 = 8; double d = 9; float f = 10; bool b = 11; bytes raw = 12;\n"
    "  E e = 13; repeated int32 packed = 14; repeated string strs = 15; map<string, M> children = 16;\n"
    "  map<int64, bool> flags = 17; google.protobuf.Timestamp at = 18; google.protobuf.Int64Value w = 19;\n"
    "  google.protobuf.Struct st = 20; google.protobuf.Any any = 21; google.protobuf.Duration du = 22;\n"
    "  oneof o { string os = 23; M om = 24; } optional int32 opt = 25;\n"
    "  message Inner { repeated M ms = 1; }\n"
    "  Inner inner = 26;\n"
    "}\n"
    "message Other {\n"
    "  E e = 1; string s = 2; bytes b = 3; double d = 4; float f = 5; uint64 u64 = 6;\n"
    "  google.protobuf.Timestamp at = 7; repeated int32 packed = 8; google.protobuf.Int64Value w = 9;\n"
    "}\n";

extern const codec protobuf_codec;

/* M's fields as typed columns ($.name paths), for decode_columns. */
static codec_schema *codec_m;
static typed_column columns[32];
static int n_columns;

static int add_column(void *arg, const char *name, const char *sql_type) {
  (void)arg;
  (void)sql_type;
  if (n_columns == 32) abort();
  columns[n_columns].name = strdup(name);
  columns[n_columns].path = malloc(strlen(name) + 3);
  strcpy(columns[n_columns].path, "$.");
  strcat(columns[n_columns].path, name);
  n_columns++;
  return 0;
}

static int same_value(const sql_value *a, const sql_value *b) {
  if (a->type != b->type) return 0;
  switch (a->type) {
  case SQLITE_INTEGER: return a->i == b->i;
  case SQLITE_FLOAT: return memcmp(&a->r, &b->r, sizeof a->r) == 0;
  case SQLITE_TEXT: return a->len == b->len && !memcmp(a->text, b->text, a->len);
  default: return 1;
  }
}

/* decode_columns against decode and the path over its JSON. */
static void check_columns(const uint8_t *data, size_t size) {
  char *json = NULL, *why = NULL, *why_columns = NULL;
  sql_value cells[32];
  memset(cells, 0, sizeof cells);
  int rc = protobuf_codec.decode(codec_m, data, size, &json, &why);
  int rc_columns = protobuf_codec.decode_columns(codec_m, data, size, columns, n_columns, NULL, cells, &why_columns);
  if (rc != rc_columns || (rc && strcmp(why, why_columns))) abort();
  for (int i = 0; !rc && i < n_columns; i++) {
    const unsigned char *end, *at = json_locate((const unsigned char *)json, strlen(json), NULL, columns[i].path, &end);
    sql_value want = {0};
    if (at) format_json_value((const char *)at, (size_t)(end - at), &want);
    if (!same_value(&cells[i], &want)) abort();
    sql_value_clear(&want);
  }
  for (int i = 0; i < n_columns; i++) sql_value_clear(&cells[i]);
  sqlite3_free(json);
  sqlite3_free(why);
  sqlite3_free(why_columns);
}

static pb_schema *schema;
static const pb_message *first;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *err = NULL;
  if (!schema) {
    schema = pb_schema_compile("fuzz.proto", SCHEMA, NULL, NULL, &err);
    first = schema ? pb_schema_message(schema, NULL, &err) : NULL;
    if (!first) abort();
    if (protobuf_codec.parse(SCHEMA, NULL, NULL, &codec_m, &err) ||
        protobuf_codec.columns(codec_m, add_column, NULL, &err))
      abort();
  }
  check_columns(data, size);
  size_t json_len;
  char *json = pb_decode(schema, data, size, NULL, &json_len, &err);
  if (!json == !err || (json && strlen(json) != json_len)) abort();
  if (json && size && data[0] == 0) {
    size_t out_len;
    unsigned char *out = pb_encode(first, json, json_len, NULL, &out_len, &err);
    if (!out == !err) abort();
    free(out);
  }
  free(json);
  free(err);
  return 0;
}
