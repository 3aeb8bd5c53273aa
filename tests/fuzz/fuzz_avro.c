/*
** libFuzzer target: the Avro codec (ext/codec/avro.c) on untrusted bytes. The
** input is an Avro payload (what follows the wire format's 5-byte header)
** decoded with a schema of every type (unions, arrays, maps, enum, fixed,
** decimal, nested record); a payload that decodes is encoded again from
** its JSON, and that must decode to the same JSON (what the extension
** reads it writes back unchanged), except for a NaN or infinite float,
** which reads as null, a string holding a NUL character or bytes that
** are not UTF-8, and a decimal with more digits than its precision. json_locate() (what typed columns read) is run on the JSON
** for each field. decode_columns must fail where decode does, and give
** each field as json_extract() reads it in decode's JSON.
*/
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const codec avro_codec;

/* The text of top-level member name of the JSON object json (*n bytes),
** or NULL: found as a typed column's path finds it. */
static const char *member_of(const char *json, const char *name, size_t *n) {
  char path[64];
  snprintf(path, sizeof path, "$.%s", name);
  const unsigned char *end = NULL;
  const unsigned char *at = json_locate((const unsigned char *)json, strlen(json), NULL, path, &end);
  if (at) *n = (size_t)(end - at);
  return (const char *)at;
}

static const char *const schema_text =
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
    "{\"name\":\"i\",\"type\":\"int\"},{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"s\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"by\",\"type\":\"bytes\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}},"
    "{\"name\":\"x\",\"type\":{\"type\":\"fixed\",\"name\":\"X\",\"size\":2}},"
    "{\"name\":\"dec\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":20,\"scale\":3}},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":[\"long\",\"string\"]}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"double\"}},"
    "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"In\",\"fields\":[{\"name\":\"z\",\"type\":\"E\"}]}}]}";

static codec_schema *schema;

static const char *const fields[] = {"i", "l", "f", "d", "b", "s", "by", "e", "x", "dec", "a", "m", "r", "no"};
#define N_FIELDS (sizeof fields / sizeof *fields)

/* A zeroed sql_value is NULL too. */
static int null_if_zero(int type) { return type ? type : SQLITE_NULL; }

static int same_value(const sql_value *a, const sql_value *b) {
  if (null_if_zero(a->type) != null_if_zero(b->type)) return 0;
  switch (a->type) {
  case SQLITE_INTEGER: return a->i == b->i;
  case SQLITE_FLOAT: return a->r == b->r;
  case SQLITE_TEXT: return a->len == b->len && !memcmp(a->text, b->text, a->len);
  default: return 1;
  }
}

/* decode_columns against decode's JSON (NULL: decode failed). */
static void check_columns(const unsigned char *data, size_t size, const char *json) {
  typed_column cols[N_FIELDS];
  char paths[N_FIELDS][8];
  for (size_t k = 0; k < N_FIELDS; k++) {
    snprintf(paths[k], sizeof paths[k], "$.%s", fields[k]);
    cols[k] = (typed_column){(char *)fields[k], (char *)"", paths[k], 0, 0};
  }
  sql_value cells[N_FIELDS];
  memset(cells, 0, sizeof cells);
  char *why = NULL;
  int rc = avro_codec.decode_columns(schema, data, size, cols, (int)N_FIELDS, NULL, cells, &why);
  sqlite3_free(why);
  if ((rc != 0) != (json == NULL)) {
    fprintf(stderr, "decode %s, decode_columns %d\n", json ? "read it" : "failed", rc);
    abort();
  }
  for (size_t k = 0; json && k < N_FIELDS; k++) {
    size_t n;
    const char *member = member_of(json, fields[k], &n);
    sql_value want = {0};
    if (member) format_json_value(member, n, &want);
    if (!same_value(&cells[k], &want)) {
      fprintf(stderr, "field %s: decode_columns differs from %s\n", fields[k], json);
      abort();
    }
    sql_value_clear(&want);
  }
  for (size_t k = 0; k < N_FIELDS; k++) sql_value_clear(&cells[k]);
}

static void release_schema(void) { avro_codec.release(schema); }

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  if (!schema) {
    char *err = NULL;
    if (avro_codec.parse(schema_text, NULL, NULL, &schema, &err)) {
      fprintf(stderr, "schema: %s\n", err);
      abort();
    }
    atexit(release_schema);
  }
  char *json = NULL, *why = NULL;
  if (avro_codec.decode(schema, data, size, &json, &why)) {
    sqlite3_free(why);
    check_columns(data, size, NULL);
    return 0;
  }
  check_columns(data, size, json);
  size_t n;
  for (size_t k = 0; k < N_FIELDS; k++)
    if (!member_of(json, fields[k], &n) != (k == N_FIELDS - 1)) abort();
  void *bytes = NULL;
  size_t len = 0;
  char *err = NULL, *again = NULL;
  int rc = avro_codec.encode(schema, json, strlen(json), &bytes, &len, &err);
  /* NaN and infinities read as null (JSON has none), and cJSON ends a
  ** string at a NUL character: those cannot go back as they were. A
  ** decimal with more digits than its precision, and a string that is
  ** not UTF-8, read (as Java's reader reads them) but are not written
  ** (no reader could read the string; Java refuses the decimal). */
  if (strstr(json, "\\u0000") ||
      (rc && err && (strstr(err, "expected a number, got null") || strstr(err, "than the decimal's precision") ||
                     strstr(err, "is not UTF-8")))) {
    sqlite3_free(bytes);
    sqlite3_free(err);
    sqlite3_free(json);
    return 0;
  }
  if (rc) {
    fprintf(stderr, "decoded %s\nbut cannot encode it: %s\n", json, err);
    abort();
  }
  if (avro_codec.decode(schema, bytes, len, &again, &why) || strcmp(json, again)) {
    fprintf(stderr, "decoded %s\nencoded and decoded again: %s\n", json, again ? again : why);
    abort();
  }
  sqlite3_free(bytes);
  sqlite3_free(json);
  sqlite3_free(again);
  return 0;
}
