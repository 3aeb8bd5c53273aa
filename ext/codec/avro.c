/*
** The Avro codec: Apache Avro C (avro-c) reads and writes the binary
** encoding through its generic value API; this file maps Avro values to
** and from plain JSON:
**   null, boolean, int, long, float, double, string: themselves (a float or
**     double that is NaN or infinite reads as null);
**   enum: its symbol; record and map: an object; array: an array;
**   union: the value of its branch (not {"string": ...}); on write the
**     first branch the JSON value fits (null for null);
**   bytes and fixed: a string of hex digits, two per byte;
**   logical types: decimal is a string holding the exact number (its scale
**     digits after the point); timestamp-millis/micros, date, time-* and
**     uuid are their underlying long, int or string.
** avro-c ignores logical types and defaults, so those are read from the
** schema's JSON text (kept parsed next to the avro-c schema), walked in
** step with the avro-c schema.
*/
#include "base.h"
#include "codec.h"

#include <avro.h>
#include <pthread.h>
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* A field of a type that holds no other value (null, boolean, int, long,
** float, double, string, bytes, enum, fixed): what checking its bytes
** needs. */
typedef struct flat_field {
  avro_type_t type;
  int64_t size; /* a fixed's size, an enum's number of symbols */
} flat_field;

struct codec_schema {
  avro_schema_t schema;
  flat_field *flat;     /* a record of such fields only (the common shape):
                        ** its fields, checked without walking the avro-c
                        ** schema for every message; NULL otherwise */
  size_t n_flat;
  avro_value_iface_t *iface;
  cJSON *json;          /* the schema text, for logical types and defaults */
  int logical;          /* it has a decimal: decoding walks json in step */
  int reusable;         /* no array, map or union: the spare value can be reset */
  /* Scratch, not part of the schema: a value and a reader reused by one
  ** thread at a time (most messages need no allocation of their own). */
  pthread_mutex_t lock;
  avro_value_t spare;
  avro_reader_t reader;
};

/* ------------------------------------------------------------ schema -- */

/* Non-zero when a value of schema t can be reset and used again without
** leaking: avro-c 1.11's reset of arrays, maps and unions loses memory
** (seen with valgrind), records of other types do not. */
static int resettable(avro_schema_t t) {
  switch (avro_typeof(t)) {
  case AVRO_ARRAY: case AVRO_MAP: case AVRO_UNION: case AVRO_LINK: return 0;
  case AVRO_RECORD:
    for (size_t i = 0; i < avro_schema_record_size(t); i++)
      if (!resettable(avro_schema_record_field_get_by_index(t, (int)i))) return 0;
    return 1;
  default: return 1;
  }
}

/* The size a flat_field keeps for type t. */
static int64_t flat_size(avro_schema_t t) {
  switch (avro_typeof(t)) {
  case AVRO_FIXED: return avro_schema_fixed_size(t);
  case AVRO_ENUM: return avro_schema_enum_number_of_symbols(t);
  default: return 0;
  }
}

/* s->flat when the schema is a record whose fields hold no other value
** (out of memory: left NULL, the schema is walked). */
static void flat_fields(codec_schema *s) {
  if (avro_typeof(s->schema) != AVRO_RECORD) return;
  size_t n = avro_schema_record_size(s->schema);
  for (size_t i = 0; i < n; i++)
    switch (avro_typeof(avro_schema_record_field_get_by_index(s->schema, (int)i))) {
    case AVRO_RECORD: case AVRO_UNION: case AVRO_ARRAY: case AVRO_MAP: case AVRO_LINK: return;
    default: break;
    }
  if (!(s->flat = sqlite3_malloc64(sizeof *s->flat * (n ? n : 1)))) return;
  for (size_t i = 0; i < n; i++) {
    avro_schema_t t = avro_schema_record_field_get_by_index(s->schema, (int)i);
    s->flat[i] = (flat_field){avro_typeof(t), flat_size(t)};
  }
  s->n_flat = n;
}

/* The line of byte `at` of text, counting from 1. */
static int line_of(const char *text, size_t at) {
  int line = 1;
  for (size_t i = 0; i < at && text[i]; i++) line += text[i] == '\n';
  return line;
}

/* Why a schema text is not an Avro schema, and where when that can be
** told (a schema often comes from a file): where the JSON breaks, or
** the line of the name avro-c's message ends with ("Unknown Avro
** \"type\": strin"). */
static char *schema_error(const char *text, int is_json) {
  if (!is_json) {
    long long at = json_error_at(text, strlen(text));
    const char *line_start = text;
    for (long long i = 0; i < at; i++)
      if (text[i] == '\n') line_start = text + i + 1;
    return sqlite3_mprintf("not a valid Avro schema: not JSON (line %d column %lld)", line_of(text, (size_t)at),
                           (long long)(text + at - line_start) + 1);
  }
  const char *why = avro_strerror(), *colon = strrchr(why, ':');
  char *name = colon ? sqlite3_mprintf("\"%s\"", colon + 1 + (colon[1] == ' ')) : NULL;
  const char *found = name && strlen(name) > 2 ? strstr(text, name) : NULL;
  char *msg = found ? sqlite3_mprintf("not a valid Avro schema: %s (line %d)", why, line_of(text, (size_t)(found - text)))
                    : sqlite3_mprintf("not a valid Avro schema: %s", why);
  sqlite3_free(name);
  return msg;
}

static int avro_parse(const char *text, const char *message, const codec_imports *imports,
                      codec_schema **out, char **err) {
  (void)message, (void)imports;
  codec_schema *s = sqlite3_malloc64(sizeof *s);
  if (!s) return SQLITE_NOMEM;
  memset(s, 0, sizeof *s);
  s->json = cJSON_Parse(text);
  if (!s->json || avro_schema_from_json_length(text, strlen(text), &s->schema)) {
    *err = schema_error(text, s->json != NULL);
    cJSON_Delete(s->json);
    sqlite3_free(s);
    return SQLITE_ERROR;
  }
  s->iface = avro_generic_class_from_schema(s->schema);
  s->logical = strstr(text, "\"decimal\"") != NULL;
  s->reusable = resettable(s->schema);
  if (!s->iface || avro_generic_value_new(s->iface, &s->spare) || !(s->reader = avro_reader_memory("", 0))) {
    *err = sqlite3_mprintf("Avro schema not usable: %s", avro_strerror());
    if (s->spare.self) avro_value_decref(&s->spare);
    if (s->iface) avro_value_iface_decref(s->iface);
    avro_schema_decref(s->schema);
    cJSON_Delete(s->json);
    sqlite3_free(s);
    return SQLITE_ERROR;
  }
  pthread_mutex_init(&s->lock, NULL);
  flat_fields(s);
  *out = s;
  return SQLITE_OK;
}

static void avro_release(codec_schema *s) {
  if (!s) return;
  pthread_mutex_destroy(&s->lock);
  avro_reader_free(s->reader);
  avro_value_decref(&s->spare);
  avro_value_iface_decref(s->iface);
  avro_schema_decref(s->schema);
  cJSON_Delete(s->json);
  sqlite3_free(s->flat);
  sqlite3_free(s);
}

/* The definition of a named type (record, enum, fixed) in the schema's
** JSON, by full or short name. */
static const cJSON *find_named(const cJSON *node, const char *name) {
  if (cJSON_IsObject(node)) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(node, "name");
    if (cJSON_IsString(n)) {
      const char *dot = strrchr(name, '.');
      if (!strcmp(n->valuestring, name) || (dot && !strcmp(n->valuestring, dot + 1))) return node;
    }
  }
  for (const cJSON *child = node ? node->child : NULL; child; child = child->next) {
    const cJSON *found = find_named(child, name);
    if (found) return found;
  }
  return NULL;
}

/* A type's JSON node, with a reference to a named type resolved. */
static const cJSON *type_node(const codec_schema *s, const cJSON *node) {
  static const char *const primitives[] = {"null", "boolean", "int", "long", "float",
                                           "double", "bytes", "string"};
  if (!cJSON_IsString(node)) return node;
  for (size_t i = 0; i < sizeof primitives / sizeof *primitives; i++)
    if (!strcmp(node->valuestring, primitives[i])) return node;
  const cJSON *def = find_named(s->json, node->valuestring);
  return def ? def : node;
}

static const char *logical_type(const cJSON *node) {
  const cJSON *lt = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, "logicalType") : NULL;
  return cJSON_IsString(lt) ? lt->valuestring : "";
}

/* The scale of a decimal, or -1 when the node is not a decimal. */
static int decimal_scale(const cJSON *node) {
  if (strcmp(logical_type(node), "decimal")) return -1;
  const cJSON *scale = cJSON_GetObjectItemCaseSensitive(node, "scale");
  return cJSON_IsNumber(scale) && scale->valuedouble >= 0 ? (int)scale->valuedouble : 0;
}

/* The JSON node of field i of a record node; NULL when unknown. */
static const cJSON *field_node(const cJSON *record, size_t i) {
  const cJSON *fields = cJSON_IsObject(record) ? cJSON_GetObjectItemCaseSensitive(record, "fields") : NULL;
  return cJSON_IsArray(fields) ? cJSON_GetArrayItem(fields, (int)i) : NULL;
}

static const cJSON *child_node(const codec_schema *s, const cJSON *node, const char *key) {
  return cJSON_IsObject(node) ? type_node(s, cJSON_GetObjectItemCaseSensitive(node, key)) : NULL;
}

/* The SQL type of SPEC section 7 for an Avro type; a union with null
** takes its other branch's, other unions have none (JSON's type shows). */
static const char *sql_type(avro_schema_t t) {
  switch (avro_typeof(t)) {
  case AVRO_INT32: case AVRO_INT64: case AVRO_BOOLEAN: return "INTEGER";
  case AVRO_FLOAT: case AVRO_DOUBLE: return "REAL";
  case AVRO_STRING: case AVRO_ENUM: case AVRO_RECORD: case AVRO_ARRAY: case AVRO_MAP: return "TEXT";
  case AVRO_BYTES: case AVRO_FIXED: return "BLOB";
  case AVRO_LINK: return sql_type(avro_schema_link_target(t));
  case AVRO_UNION: {
    const char *type = NULL;
    for (size_t i = 0; i < avro_schema_union_size(t); i++) {
      avro_schema_t b = avro_schema_union_branch(t, (int)i);
      if (avro_typeof(b) == AVRO_NULL) continue;
      if (type) return "";
      type = sql_type(b);
    }
    return type ? type : "";
  }
  default: return "";
  }
}

/* The field's type node without a null branch (for logical types). */
static const cJSON *non_null_branch(const codec_schema *s, const cJSON *node) {
  if (!cJSON_IsArray(node)) return type_node(s, node);
  const cJSON *found = NULL;
  for (const cJSON *b = node->child; b; b = b->next) {
    if (cJSON_IsString(b) && !strcmp(b->valuestring, "null")) continue;
    if (found) return NULL;
    found = b;
  }
  return type_node(s, found);
}

static int avro_columns(const codec_schema *s, codec_column_fn add, void *arg, char **err) {
  if (avro_typeof(s->schema) != AVRO_RECORD) {
    *err = sqlite3_mprintf("kafka: the Avro schema is a %s, not a record: it has no fields to make "
                           "columns of (read value, or declare columns)", avro_schema_type_name(s->schema));
    return SQLITE_ERROR;
  }
  size_t n = avro_schema_record_size(s->schema);
  int rc = SQLITE_OK;
  for (size_t i = 0; i < n && !rc; i++) {
    const cJSON *field = field_node(s->json, i);
    const cJSON *type = non_null_branch(s, cJSON_GetObjectItemCaseSensitive(field, "type"));
    const char *logical = logical_type(type);
    const char *sql = sql_type(avro_schema_record_field_get_by_index(s->schema, (int)i));
    if (!strcmp(logical, "decimal") || !strcmp(logical, "uuid")) sql = "TEXT";
    rc = add(arg, avro_schema_record_field_name(s->schema, (int)i), sql);
  }
  return rc;
}

/* ------------------------------------------------------------ decimal -- */

/* ------------------------------------------------------- JSON output -- */

/* The JSON text of a decoded record, built in sqlite3 memory that becomes
** the result as it is (cheaper than sqlite3_str for many small appends). */
typedef struct json_out {
  char *p;
  size_t len, cap;
  int nomem;
} json_out;

static void out_append(json_out *out, const char *s, size_t n) {
  if (out->nomem) return;
  if (out->len + n + 1 > out->cap) {
    size_t cap = out->cap ? out->cap : 256;
    while (cap < out->len + n + 1) cap *= 2;
    char *p = sqlite3_realloc64(out->p, cap);
    if (!p) {
      out->nomem = 1;
      return;
    }
    out->p = p;
    out->cap = cap;
  }
  memcpy(out->p + out->len, s, n);
  out->len += n;
  out->p[out->len] = 0;
}

static void out_char(json_out *out, char c) {
  if (out->len + 2 <= out->cap) {
    out->p[out->len++] = c;
    out->p[out->len] = 0;
  } else {
    out_append(out, &c, 1);
  }
}

static void out_all(json_out *out, const char *s) { out_append(out, s, strlen(s)); }

/* An integer's decimal text (the most common value: no printf). */
static void out_int(json_out *out, int64_t v) {
  char text[24], *p = text + sizeof text;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do *--p = (char)('0' + u % 10); while (u /= 10);
  if (v < 0) *--p = '-';
  out_append(out, p, (size_t)(text + sizeof text - p));
}

/* The exact decimal text of a big-endian two's complement integer
** scaled by 10^-scale. */
static void decimal_text(json_out *out, const unsigned char *bytes, size_t n, int scale) {
  unsigned char *mag = sqlite3_malloc64(n + 1);
  char *digits = sqlite3_malloc64(n * 3 + (size_t)scale + 4);
  if (!mag || !digits) {
    sqlite3_free(mag);
    sqlite3_free(digits);
    out_all(out, "null");
    return;
  }
  int negative = n && (bytes[0] & 0x80);
  /* The magnitude: the two's complement negated when negative. */
  unsigned carry = 1;
  for (size_t i = n; i-- > 0;) {
    unsigned b = negative ? (unsigned)(unsigned char)~bytes[i] + carry : bytes[i];
    carry = negative ? b >> 8 : 0;
    mag[i] = (unsigned char)b;
  }
  size_t nd = 0, start = 0;
  while (start < n) { /* repeated division by 10, least significant digit first */
    unsigned rem = 0;
    for (size_t i = start; i < n; i++) {
      unsigned cur = rem << 8 | mag[i];
      mag[i] = (unsigned char)(cur / 10);
      rem = cur % 10;
    }
    digits[nd++] = (char)('0' + rem);
    while (start < n && !mag[start]) start++;
  }
  while (nd <= (size_t)scale) digits[nd++] = '0';
  out_char(out, '"');
  if (negative) out_char(out, '-');
  for (size_t i = nd; i-- > 0;) {
    out_char(out, digits[i]);
    if (i == (size_t)scale && scale) out_char(out, '.');
  }
  out_char(out, '"');
  sqlite3_free(mag);
  sqlite3_free(digits);
}

/* Multiplies the little-endian magnitude mag[0..cap) by 10 and adds digit. */
static void magnitude_push(unsigned char *mag, size_t cap, unsigned digit) {
  for (size_t i = 0; i < cap; i++) {
    unsigned v = mag[i] * 10u + digit;
    mag[i] = (unsigned char)v;
    digit = v >> 8;
  }
}

/* The unscaled big-endian two's complement bytes of decimal text at
** `scale` (the shortest form); NULL with *why when it is not a number or
** has more fractional digits than the scale. */
static unsigned char *decimal_bytes(const char *text, int scale, size_t *len, const char **why) {
  const char *p = text;
  int negative = *p == '-';
  if (*p == '-' || *p == '+') p++;
  size_t cap = (strlen(p) + (size_t)scale) / 2 + 2; /* a digit is under 4 bits */
  unsigned char *mag = sqlite3_malloc64(cap);
  if (!mag) return NULL;
  memset(mag, 0, cap);
  int frac = -1, digits = 0;
  *why = NULL;
  for (; *p && !*why; p++) {
    if (*p == '.' && frac < 0) { frac = 0; continue; }
    if (*p < '0' || *p > '9') *why = "is not a decimal number";
    else if (frac >= 0 && ++frac > scale) *why = "has more fractional digits than the decimal's scale";
    else { magnitude_push(mag, cap, (unsigned)(*p - '0')); digits++; }
  }
  if (!*why && !digits) *why = "is not a decimal number";
  for (int k = frac < 0 ? 0 : frac; !*why && k < scale; k++) magnitude_push(mag, cap, 0);
  if (*why) { sqlite3_free(mag); return NULL; }
  /* Two's complement, big-endian, then without redundant sign bytes. */
  unsigned carry = 1;
  for (size_t i = 0; i < cap; i++) {
    if (!negative) continue;
    unsigned b = (unsigned char)~mag[i] + carry;
    carry = b >> 8;
    mag[i] = (unsigned char)b;
  }
  for (size_t i = 0; i < cap / 2; i++) {
    unsigned char t = mag[i];
    mag[i] = mag[cap - 1 - i];
    mag[cap - 1 - i] = t;
  }
  size_t skip = 0;
  while (skip + 1 < cap && ((mag[skip] == 0 && !(mag[skip + 1] & 0x80)) ||
                            (mag[skip] == 0xFF && (mag[skip + 1] & 0x80))))
    skip++;
  memmove(mag, mag + skip, cap - skip);
  *len = cap - skip;
  return mag;
}

/* ------------------------------------------------------------- decode -- */

static void json_string(json_out *out, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  out_char(out, '"');
  size_t run = 0; /* characters that need no escape go in one append */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out_append(out, s + run, (int)(i - run));
    run = i + 1;
    if (c == '"' || c == '\\') {
      out_char(out, '\\');
      out_char(out, (char)c);
    } else {
      char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
      out_all(out, esc);
    }
  }
  out_append(out, s + run, (int)(n - run));
  out_char(out, '"');
}

static void json_hex(json_out *out, const unsigned char *b, size_t n) {
  static const char hex[] = "0123456789abcdef";
  out_char(out, '"');
  for (size_t i = 0; i < n; i++) {
    out_char(out, hex[b[i] >> 4]);
    out_char(out, hex[b[i] & 15]);
  }
  out_char(out, '"');
}

/* A text that reads back as the same double (or float, when single):
** 15 (6) significant digits when they do, else 17 (9). The C library
** prints it (SQLite's printf before 3.43 does not round-trip every
** double); a whole number keeps a ".0", a locale's decimal comma is a
** point. */
static void json_double(json_out *out, double d, int single) {
  if (!isfinite(d)) {
    out_all(out, "null");
    return;
  }
  char text[48];
  snprintf(text, sizeof text, "%.*g", single ? 6 : 15, d);
  double back = strtod(text, NULL);
  if (single ? (float)back != (float)d : back != d) snprintf(text, sizeof text, "%.*g", single ? 9 : 17, d);
  int fraction = 0;
  for (char *c = text; *c; c++) {
    if (*c == ',') *c = '.';
    fraction |= *c == '.' || *c == 'e';
  }
  out_all(out, text);
  if (!fraction) out_all(out, ".0");
}

static int to_json(const codec_schema *s, avro_value_t *v, const cJSON *node, json_out *out);

/* A record or map: an object, with each field's or entry's JSON. */
static int object_json(const codec_schema *s, avro_value_t *v, const cJSON *node, int record,
                       json_out *out) {
  size_t n;
  if (avro_value_get_size(v, &n)) return -1;
  out_char(out, '{');
  for (size_t i = 0; i < n; i++) {
    avro_value_t child;
    const char *name;
    if (avro_value_get_by_index(v, i, &child, &name)) return -1;
    if (i) out_char(out, ',');
    json_string(out, name, strlen(name));
    out_char(out, ':');
    const cJSON *f = record ? field_node(node, i) : NULL;
    const cJSON *type = record ? type_node(s, cJSON_GetObjectItemCaseSensitive(f, "type"))
                               : child_node(s, node, "values");
    if (to_json(s, &child, type, out)) return -1;
  }
  out_char(out, '}');
  return 0;
}

static int array_json(const codec_schema *s, avro_value_t *v, const cJSON *node, json_out *out) {
  size_t n;
  if (avro_value_get_size(v, &n)) return -1;
  const cJSON *items = child_node(s, node, "items");
  out_char(out, '[');
  for (size_t i = 0; i < n; i++) {
    avro_value_t child;
    if (avro_value_get_by_index(v, i, &child, NULL)) return -1;
    if (i) out_char(out, ',');
    if (to_json(s, &child, items, out)) return -1;
  }
  out_char(out, ']');
  return 0;
}

/* Appends the JSON of value v, whose schema's JSON node is `node` (NULL
** when unknown: logical types are then not applied). */
static int to_json(const codec_schema *s, avro_value_t *v, const cJSON *node, json_out *out) {
  const void *buf;
  size_t size;
  int32_t i32;
  int64_t i64;
  int b;
  float f;
  double d;
  switch (avro_value_get_type(v)) {
  case AVRO_NULL: out_all(out, "null"); return 0;
  case AVRO_BOOLEAN:
    if (avro_value_get_boolean(v, &b)) return -1;
    out_all(out, b ? "true" : "false");
    return 0;
  case AVRO_INT32:
    if (avro_value_get_int(v, &i32)) return -1;
    out_int(out, i32);
    return 0;
  case AVRO_INT64:
    if (avro_value_get_long(v, &i64)) return -1;
    out_int(out, i64);
    return 0;
  case AVRO_FLOAT:
    if (avro_value_get_float(v, &f)) return -1;
    json_double(out, f, 1);
    return 0;
  case AVRO_DOUBLE:
    if (avro_value_get_double(v, &d)) return -1;
    json_double(out, d, 0);
    return 0;
  case AVRO_STRING: /* the size counts the terminating NUL */
    if (avro_value_get_string(v, (const char **)&buf, &size)) return -1;
    json_string(out, buf, size ? size - 1 : 0);
    return 0;
  case AVRO_BYTES:
  case AVRO_FIXED:
    if (avro_value_get_type(v) == AVRO_BYTES ? avro_value_get_bytes(v, &buf, &size)
                                             : avro_value_get_fixed(v, &buf, &size))
      return -1;
    if (decimal_scale(node) >= 0) decimal_text(out, buf, size, decimal_scale(node));
    else json_hex(out, buf, size);
    return 0;
  case AVRO_ENUM: {
    if (avro_value_get_enum(v, &b)) return -1;
    const char *symbol = avro_schema_enum_get(avro_value_get_schema(v), b);
    if (!symbol) return -1;
    json_string(out, symbol, strlen(symbol));
    return 0;
  }
  case AVRO_RECORD: return object_json(s, v, node, 1, out);
  case AVRO_MAP: return object_json(s, v, node, 0, out);
  case AVRO_ARRAY: return array_json(s, v, node, out);
  case AVRO_UNION: {
    avro_value_t branch;
    if (avro_value_get_discriminant(v, &b) || avro_value_get_current_branch(v, &branch)) return -1;
    return to_json(s, &branch, cJSON_IsArray(node) ? type_node(s, cJSON_GetArrayItem(node, b)) : NULL, out);
  }
  default: return -1;
  }
}

/* ----------------------------------------------------------- bounds -- */

/* avro-c 1.11 allocates what a length in the data says before it reads
** the bytes (a corrupt or hostile message could ask for gigabytes, or a
** negative size): a payload is first walked against its writer schema
** checking every length, count and index against what is there. Nothing
** is decoded here; avro-c does that afterwards. */
typedef struct bounds {
  const unsigned char *p, *end;
  const char *why;
} bounds;

/* Zig-zag varint (Avro int and long). */
static int64_t read_varint(bounds *b) {
  uint64_t u = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (b->p >= b->end) {
      b->why = "truncated";
      return 0;
    }
    unsigned char c = *b->p++;
    u |= (uint64_t)(c & 0x7F) << shift;
    if (!(c & 0x80)) return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
  }
  b->why = "a varint longer than 10 bytes";
  return 0;
}

static void take(bounds *b, int64_t n) {
  if (b->why) return;
  if (n < 0) b->why = "a negative length";
  else if (n > b->end - b->p) b->why = "a length past the end of the message";
  else b->p += n;
}

static void check_value(bounds *b, avro_schema_t t, int depth);

/* Array and map blocks: count (negative: then the block's byte size). */
static void check_blocks(bounds *b, avro_schema_t items, int map, int depth) {
  for (;;) {
    int64_t count = read_varint(b);
    if (b->why || count == 0) return;
    if (count < 0) {
      count = count == INT64_MIN ? INT64_MAX : -count;
      read_varint(b);
    }
    /* An item takes a byte at least but for null and empty records. */
    if (count > (b->end - b->p) + 1024) b->why = "an item count past the end of the message";
    for (int64_t i = 0; i < count && !b->why; i++) {
      if (map) take(b, read_varint(b));
      if (!b->why) check_value(b, items, depth + 1);
    }
    if (b->why) return;
  }
}

/* A value of a type that holds no other (size: flat_field's); 0 when the
** type is not one. */
static int check_flat(bounds *b, avro_type_t type, int64_t size) {
  switch (type) {
  case AVRO_NULL: return 1;
  case AVRO_BOOLEAN: take(b, 1); return 1;
  case AVRO_INT32: case AVRO_INT64: read_varint(b); return 1;
  case AVRO_FLOAT: take(b, 4); return 1;
  case AVRO_DOUBLE: take(b, 8); return 1;
  case AVRO_STRING: case AVRO_BYTES: take(b, read_varint(b)); return 1;
  case AVRO_FIXED: take(b, size); return 1;
  case AVRO_ENUM: {
    int64_t symbol = read_varint(b);
    if (!b->why && (symbol < 0 || symbol >= size)) b->why = "an enum symbol out of range";
    return 1;
  }
  default: return 0;
  }
}

static void check_value(bounds *b, avro_schema_t t, int depth) {
  if (b->why) return;
  if (depth > 64) {
    b->why = "nested too deeply";
    return;
  }
  if (check_flat(b, avro_typeof(t), flat_size(t))) return;
  switch (avro_typeof(t)) {
  case AVRO_UNION: {
    int64_t branch = read_varint(b);
    if (!b->why && (branch < 0 || branch >= (int64_t)avro_schema_union_size(t))) b->why = "a union branch out of range";
    else check_value(b, avro_schema_union_branch(t, (int)branch), depth + 1);
    return;
  }
  case AVRO_RECORD:
    for (size_t i = 0; i < avro_schema_record_size(t) && !b->why; i++)
      check_value(b, avro_schema_record_field_get_by_index(t, (int)i), depth + 1);
    return;
  case AVRO_ARRAY: check_blocks(b, avro_schema_array_items(t), 0, depth); return;
  case AVRO_MAP: check_blocks(b, avro_schema_map_values(t), 1, depth); return;
  case AVRO_LINK: check_value(b, avro_schema_link_target(t), depth + 1); return;
  default: b->why = "a type that cannot be read";
  }
}

/* A value of the schema and a reader of data: the schema's scratch ones
** when no other thread holds them, else new ones. Returns 1 for scratch. */
static int scratch_take(const codec_schema *cs, const void *data, size_t len, avro_value_t *value,
                        avro_reader_t *reader) {
  codec_schema *s = (codec_schema *)cs; /* the scratch is guarded by its lock */
  if (s->reusable && !pthread_mutex_trylock(&s->lock)) {
    *value = s->spare;
    if (!data) avro_value_reset(value); /* avro_value_read() resets what it reads into */
    *reader = s->reader;
    avro_reader_memory_set_source(*reader, data, (int64_t)len);
    return 1;
  }
  *reader = NULL;
  if (avro_generic_value_new(s->iface, value)) return -1;
  if (data && !(*reader = avro_reader_memory(data, (int64_t)len))) {
    avro_value_decref(value);
    return -1;
  }
  return 0;
}

static void scratch_give(const codec_schema *cs, avro_value_t *value, avro_reader_t reader, int scratch) {
  if (scratch) {
    pthread_mutex_unlock(&((codec_schema *)cs)->lock);
    return;
  }
  if (reader) avro_reader_free(reader);
  avro_value_decref(value);
}

/* Reads a record of schema s from the payload into a value (the
** schema's scratch one, or a new one: give it back with scratch_give()).
** Returns what scratch_take() does, -1 when out of memory, or -2 with *why
** when the payload is no valid record of the schema. */
static int read_record(const codec_schema *s, const void *data, size_t len, avro_value_t *value,
                       avro_reader_t *reader, char **why) {
  bounds b = {data, (const unsigned char *)data + len, NULL};
  for (size_t i = 0; i < s->n_flat && !b.why; i++) check_flat(&b, s->flat[i].type, s->flat[i].size);
  if (!s->flat) check_value(&b, s->schema, 0);
  if (!b.why && b.p != b.end) b.why = "bytes left after the record";
  if (b.why) {
    *why = sqlite3_mprintf("not a valid Avro record of its schema: %s", b.why);
    return -2;
  }
  int scratch = scratch_take(s, data, len, value, reader);
  if (scratch < 0) return -1;
  if (avro_value_read(*reader, value)) {
    *why = sqlite3_mprintf("not a valid Avro record of its schema: %s", avro_strerror());
    scratch_give(s, value, *reader, scratch);
    return -2;
  }
  return scratch;
}

static int avro_decode(const codec_schema *s, const void *data, size_t len, char **json, char **why) {
  avro_value_t value;
  avro_reader_t reader;
  int scratch = read_record(s, data, len, &value, &reader, why);
  if (scratch < 0) return scratch == -1 ? SQLITE_NOMEM : SQLITE_ERROR;
  int rc = SQLITE_OK;
  json_out out = {NULL, 0, 0, 0};
  if (to_json(s, &value, s->logical ? type_node(s, s->json) : NULL, &out)) {
    *why = sqlite3_mprintf("Avro value cannot be shown as JSON");
    rc = SQLITE_ERROR;
  }
  if (!rc && (out.nomem || !out.p)) rc = SQLITE_NOMEM;
  if (rc) sqlite3_free(out.p);
  else *json = out.p;
  scratch_give(s, &value, reader, scratch);
  return rc;
}

/* ----------------------------------------------------- decode_columns -- */

/* The field a typed column's path names at the top level ("$.name", a
** plain Avro name), or NULL when the path is anything else. */
static const char *top_level_field(const char *path) {
  if (path[0] != '$' || path[1] != '.' || !path[2]) return NULL;
  for (const char *p = path + 2; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
      return NULL;
  return path + 2;
}

/* The field of a decoded record called name; look first at index hint
** (the columns CREATE learned are the fields in order). Non-zero when the
** record has no such field. */
static int record_field(avro_value_t *record, const char *name, size_t hint, avro_value_t *field,
                        size_t *index) {
  const char *at_hint;
  if (!avro_value_get_by_index(record, hint, field, &at_hint) && !strcmp(at_hint, name)) {
    *index = hint;
    return 0;
  }
  return avro_value_get_by_name(record, name, field, index);
}

/* v (zeroed) = value a as json_extract() reads it in decode's JSON, by
** making that JSON: for the types whose text is not theirs as it is. */
static int cell_from_json(const codec_schema *s, avro_value_t *a, const cJSON *node, sql_value *v) {
  json_out out = {NULL, 0, 0, 0};
  if (to_json(s, a, node, &out)) {
    sqlite3_free(out.p);
    return -1;
  }
  if (out.nomem || !out.p) return SQLITE_NOMEM;
  format_json_value(out.p, out.len, v);
  if (v->type == SQLITE_TEXT && !v->owned) { /* borrowed from out: keep it there */
    memmove(out.p, v->text, v->len);
    v->text = v->owned = out.p;
  } else {
    sqlite3_free(out.p);
  }
  return 0;
}

/* v = a copy of the n bytes at text. */
static int cell_text(const char *text, size_t n, sql_value *v) {
  if (!(v->owned = sqlite3_malloc64(n + 1))) return SQLITE_NOMEM;
  memcpy(v->owned, text, n);
  v->owned[n] = 0;
  v->type = SQLITE_TEXT;
  v->text = v->owned;
  v->len = n;
  return 0;
}

/* v (zeroed) = value a, whose schema's JSON node is `node`, as
** json_extract() reads it in the JSON text decode makes of it. The common
** types directly; the others through their JSON text. */
static int cell_value(const codec_schema *s, avro_value_t *a, const cJSON *node, sql_value *v) {
  const char *text;
  size_t size;
  int32_t i32;
  int64_t i64;
  int b;
  double d;
  switch (avro_value_get_type(a)) {
  case AVRO_NULL: return 0;
  case AVRO_BOOLEAN:
    if (avro_value_get_boolean(a, &b)) return -1;
    v->type = SQLITE_INTEGER;
    v->i = b != 0;
    return 0;
  case AVRO_INT32:
    if (avro_value_get_int(a, &i32)) return -1;
    v->type = SQLITE_INTEGER;
    v->i = i32;
    return 0;
  case AVRO_INT64:
    if (avro_value_get_long(a, &i64)) return -1;
    v->type = SQLITE_INTEGER;
    v->i = i64;
    return 0;
  case AVRO_DOUBLE: /* decode's text reads back as the same double */
    if (avro_value_get_double(a, &d)) return -1;
    v->type = isfinite(d) ? SQLITE_FLOAT : SQLITE_NULL;
    v->r = d;
    return 0;
  case AVRO_STRING: /* the size counts the terminating NUL */
    if (avro_value_get_string(a, &text, &size)) return -1;
    size = size ? size - 1 : 0;
    if (memchr(text, 0, size)) break; /* JSON's \u0000 ends the text json_extract() reads */
    return cell_text(text, size, v);
  case AVRO_ENUM:
    if (avro_value_get_enum(a, &b)) return -1;
    text = avro_schema_enum_get(avro_value_get_schema(a), b);
    return text ? cell_text(text, strlen(text), v) : -1;
  case AVRO_UNION: {
    avro_value_t branch;
    if (avro_value_get_discriminant(a, &b) || avro_value_get_current_branch(a, &branch)) return -1;
    return cell_value(s, &branch, cJSON_IsArray(node) ? type_node(s, cJSON_GetArrayItem(node, b)) : NULL, v);
  }
  default: break; /* float (its text is its value), bytes, fixed, decimal, record, array, map */
  }
  return cell_from_json(s, a, node, v);
}

/* The cells of the wanted columns (each at a top-level path) from a
** decoded record (a field the writer lacks stays NULL; so do all when the
** record is no record, as in decode's JSON). */
static int record_cells(const codec_schema *s, avro_value_t *record, const typed_column *cols, int n,
                        const unsigned char *wanted, sql_value *out) {
  if (avro_value_get_type(record) != AVRO_RECORD) return 0;
  const cJSON *root = s->logical ? type_node(s, s->json) : NULL;
  for (int i = 0; i < n; i++) {
    if (wanted && !wanted[i]) continue;
    avro_value_t field;
    size_t index;
    if (record_field(record, cols[i].path + 2, (size_t)i, &field, &index)) continue;
    const cJSON *node = root ? type_node(s, cJSON_GetObjectItemCaseSensitive(field_node(root, index), "type")) : NULL;
    int rc = cell_value(s, &field, node, &out[i]);
    if (rc) return rc;
  }
  return 0;
}

static int avro_decode_columns(const codec_schema *s, const void *data, size_t len, const typed_column *cols,
                               int n, const unsigned char *wanted, sql_value *out, char **why) {
  for (int i = 0; i < n; i++)
    if ((!wanted || wanted[i]) && !top_level_field(cols[i].path)) return SQLITE_NOTFOUND;
  avro_value_t value;
  avro_reader_t reader;
  int scratch = read_record(s, data, len, &value, &reader, why);
  if (scratch < 0) return scratch == -1 ? SQLITE_NOMEM : SQLITE_ERROR;
  int rc = record_cells(s, &value, cols, n, wanted, out);
  if (rc < 0) *why = sqlite3_mprintf("Avro value cannot be shown as JSON");
  scratch_give(s, &value, reader, scratch);
  return rc < 0 ? SQLITE_ERROR : rc;
}

/* ------------------------------------------------------------- encode -- */

/* Where in the record a value goes, for errors: a chain up to the root. */
typedef struct value_path {
  const struct value_path *up;
  const char *name; /* field or map key; NULL for an array item */
  size_t index;
} value_path;

static void path_text(sqlite3_str *out, const value_path *p) {
  if (!p) return;
  path_text(out, p->up);
  if (!p->name) sqlite3_str_appendf(out, "[%llu]", (unsigned long long)p->index);
  else sqlite3_str_appendf(out, "%s%s", p->up ? "." : "", p->name);
}

/* Sets *err to "kafka: Avro field 'a.b': <why>" and returns SQLITE_ERROR. */
static int field_error(char **err, const value_path *p, const char *fmt, ...) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  if (p) {
    sqlite3_str_appendall(s, "kafka: Avro field '");
    path_text(s, p);
    sqlite3_str_appendall(s, "': ");
  } else {
    sqlite3_str_appendall(s, "kafka: Avro value: ");
  }
  va_list ap;
  va_start(ap, fmt);
  sqlite3_str_vappendf(s, fmt, ap);
  va_end(ap);
  sqlite3_free(*err);
  *err = sqlite3_str_finish(s);
  return SQLITE_ERROR;
}

static const char *json_kind(const cJSON *j) {
  return cJSON_IsRaw(j) ? "a large integer" : cJSON_IsNull(j) ? "null" : cJSON_IsBool(j) ? "a boolean" : cJSON_IsNumber(j) ? "a number"
       : cJSON_IsString(j) ? "a string" : cJSON_IsArray(j) ? "an array" : "an object";
}

static int from_json(const codec_schema *s, avro_value_t *v, const cJSON *j, const cJSON *node,
                     const value_path *p, char **err);

static int is_integral(const cJSON *j, double lo, double hi) {
  return cJSON_IsNumber(j) && j->valuedouble == floor(j->valuedouble) && j->valuedouble >= lo &&
         j->valuedouble <= hi;
}

/* A record, map or array given as JSON text in a string (what a TEXT
** typed column composes) is read as the JSON it holds. */
static int keep_big_integers(cJSON *node, const char **p, const char *end);

static cJSON *container_json(const cJSON *j, cJSON **parsed) {
  *parsed = cJSON_IsString(j) ? cJSON_Parse(j->valuestring) : NULL;
  const char *text = *parsed ? j->valuestring : NULL;
  if (text && keep_big_integers(*parsed, &text, text + strlen(text))) {
    cJSON_Delete(*parsed);
    *parsed = NULL;
  }
  return *parsed ? *parsed : (cJSON *)j;
}

static int record_from_json(const codec_schema *s, avro_value_t *v, const cJSON *j,
                            const cJSON *node, const value_path *p, char **err) {
  if (!cJSON_IsObject(j)) return field_error(err, p, "expected an object (a record), got %s", json_kind(j));
  avro_schema_t schema = avro_value_get_schema(v);
  for (const cJSON *item = j->child; item; item = item->next) {
    if (avro_schema_record_field_get_index(schema, item->string) >= 0) continue;
    value_path at = {p, item->string, 0};
    return field_error(err, &at, "not a field of record %s", avro_schema_name(schema));
  }
  size_t n = avro_schema_record_size(schema);
  for (size_t i = 0; i < n; i++) {
    const char *name = avro_schema_record_field_name(schema, (int)i);
    const cJSON *field = field_node(node, i);
    value_path at = {p, name, 0};
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(j, name);
    if (!item) item = cJSON_GetObjectItemCaseSensitive(field, "default");
    if (!item) return field_error(err, &at, "missing, and the schema gives no default");
    avro_value_t child;
    if (avro_value_get_by_index(v, i, &child, NULL)) return SQLITE_NOMEM;
    int rc = from_json(s, &child, item, type_node(s, cJSON_GetObjectItemCaseSensitive(field, "type")), &at, err);
    if (rc) return rc;
  }
  return SQLITE_OK;
}

static int array_from_json(const codec_schema *s, avro_value_t *v, const cJSON *j,
                           const cJSON *node, const value_path *p, char **err) {
  if (!cJSON_IsArray(j)) return field_error(err, p, "expected an array, got %s", json_kind(j));
  const cJSON *items = child_node(s, node, "items");
  size_t i = 0;
  for (const cJSON *item = j->child; item; item = item->next, i++) {
    avro_value_t child;
    value_path at = {p, NULL, i};
    if (avro_value_append(v, &child, NULL)) return SQLITE_NOMEM;
    int rc = from_json(s, &child, item, items, &at, err);
    if (rc) return rc;
  }
  return SQLITE_OK;
}

static int map_from_json(const codec_schema *s, avro_value_t *v, const cJSON *j,
                         const cJSON *node, const value_path *p, char **err) {
  if (!cJSON_IsObject(j)) return field_error(err, p, "expected an object (a map), got %s", json_kind(j));
  const cJSON *values = child_node(s, node, "values");
  for (const cJSON *item = j->child; item; item = item->next) {
    avro_value_t child;
    value_path at = {p, item->string, 0};
    if (avro_value_add(v, item->string, &child, NULL, NULL)) return SQLITE_NOMEM;
    int rc = from_json(s, &child, item, values, &at, err);
    if (rc) return rc;
  }
  return SQLITE_OK;
}

/* Non-zero when JSON value j can be written as Avro type t (for unions). */
static int fits(const cJSON *j, avro_schema_t t, const cJSON *node) {
  switch (avro_typeof(t)) {
  case AVRO_NULL: return cJSON_IsNull(j);
  case AVRO_BOOLEAN: return cJSON_IsBool(j);
  case AVRO_INT32: return is_integral(j, -2147483648.0, 2147483647.0);
  case AVRO_INT64: return is_integral(j, -9.2e18, 9.2e18) || cJSON_IsRaw(j);
  case AVRO_FLOAT: case AVRO_DOUBLE: return cJSON_IsNumber(j) || cJSON_IsRaw(j);
  case AVRO_STRING: return cJSON_IsString(j);
  case AVRO_ENUM: return cJSON_IsString(j) && avro_schema_enum_get_by_name(t, j->valuestring) >= 0;
  case AVRO_BYTES: case AVRO_FIXED: return cJSON_IsString(j) || (cJSON_IsNumber(j) && decimal_scale(node) >= 0);
  case AVRO_RECORD: case AVRO_MAP: return cJSON_IsObject(j);
  case AVRO_ARRAY: return cJSON_IsArray(j);
  case AVRO_LINK: return fits(j, avro_schema_link_target(t), node);
  default: return 0;
  }
}

static int union_from_json(const codec_schema *s, avro_value_t *v, const cJSON *j,
                           const cJSON *node, const value_path *p, char **err) {
  avro_schema_t schema = avro_value_get_schema(v);
  for (size_t i = 0; i < avro_schema_union_size(schema); i++) {
    const cJSON *branch_node = cJSON_IsArray(node) ? type_node(s, cJSON_GetArrayItem(node, (int)i)) : NULL;
    if (!fits(j, avro_schema_union_branch(schema, (int)i), branch_node)) continue;
    avro_value_t branch;
    if (avro_value_set_branch(v, (int)i, &branch)) return SQLITE_NOMEM;
    return from_json(s, &branch, j, branch_node, p, err);
  }
  return field_error(err, p, "%s fits no branch of its union", json_kind(j));
}

/* Bytes, fixed or a decimal: hex text, or the decimal's number. */
static int bytes_from_json(avro_value_t *v, const cJSON *j, const cJSON *node, const value_path *p,
                           char **err) {
  int scale = decimal_scale(node);
  avro_schema_t schema = avro_value_get_schema(v);
  unsigned char *bytes = NULL;
  size_t n = 0;
  const char *why = NULL;
  if (scale >= 0 && cJSON_IsNumber(j)) {
    char text[64];
    snprintf(text, sizeof text, "%.*f", scale, j->valuedouble);
    bytes = decimal_bytes(text, scale, &n, &why);
  } else if (scale >= 0 && cJSON_IsString(j)) {
    bytes = decimal_bytes(j->valuestring, scale, &n, &why);
  } else if (cJSON_IsString(j)) {
    size_t len = strlen(j->valuestring);
    bytes = sqlite3_malloc64(len / 2 + 1);
    if (bytes && format_hex_decode(j->valuestring, len, bytes)) why = "is not hex digits (two per byte)";
    n = len / 2;
  } else {
    return field_error(err, p, "expected a string of hex digits, got %s", json_kind(j));
  }
  int rc = SQLITE_OK;
  if (why) rc = field_error(err, p, "'%s' %s", cJSON_IsString(j) ? j->valuestring : "number", why);
  else if (!bytes) rc = SQLITE_NOMEM;
  else if (avro_typeof(schema) == AVRO_FIXED && (int64_t)n != avro_schema_fixed_size(schema)) {
    if (scale >= 0 && (int64_t)n < avro_schema_fixed_size(schema)) { /* sign-extend */
      size_t size = (size_t)avro_schema_fixed_size(schema);
      unsigned char *wide = sqlite3_malloc64(size);
      if (!wide) rc = SQLITE_NOMEM;
      else {
        memset(wide, n && (bytes[0] & 0x80) ? 0xFF : 0, size - n);
        memcpy(wide + size - n, bytes, n);
        sqlite3_free(bytes);
        bytes = wide;
        n = size;
      }
    } else {
      rc = field_error(err, p, "%llu bytes do not fit fixed %s of %lld bytes", (unsigned long long)n,
                       avro_schema_name(schema), (long long)avro_schema_fixed_size(schema));
    }
  }
  if (!rc) rc = avro_typeof(schema) == AVRO_FIXED ? avro_value_set_fixed(v, bytes, n)
                                                   : avro_value_set_bytes(v, bytes, n);
  sqlite3_free(bytes);
  return rc == 0 || rc == SQLITE_ERROR ? rc : SQLITE_NOMEM;
}

static int scalar_from_json(avro_value_t *v, const cJSON *j, const value_path *p, char **err) {
  avro_schema_t schema = avro_value_get_schema(v);
  switch (avro_typeof(schema)) {
  case AVRO_NULL:
    if (!cJSON_IsNull(j)) return field_error(err, p, "expected null, got %s", json_kind(j));
    return avro_value_set_null(v);
  case AVRO_BOOLEAN: /* a boolean's INTEGER column composes 0 or 1 */
    if (cJSON_IsBool(j)) return avro_value_set_boolean(v, cJSON_IsTrue(j));
    if (is_integral(j, 0, 1)) return avro_value_set_boolean(v, j->valuedouble != 0);
    return field_error(err, p, "expected a boolean, got %s", json_kind(j));
  case AVRO_INT64:
    if (cJSON_IsRaw(j)) { /* an integer past 2^53, exact */
      errno = 0;
      long long n = strtoll(j->valuestring, NULL, 10);
      if (errno) return field_error(err, p, "%s is out of range for long", j->valuestring);
      return avro_value_set_long(v, n);
    }
    /* fall through */
  case AVRO_INT32: {
    int is_int = avro_typeof(schema) == AVRO_INT32;
    if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble))
      return field_error(err, p, "expected an integer (%s), got %s", is_int ? "int" : "long",
                         cJSON_IsNumber(j) ? "a fraction" : json_kind(j));
    if (!is_integral(j, is_int ? -2147483648.0 : -9223372036854775808.0,
                     is_int ? 2147483647.0 : 9223372036854774784.0))
      return field_error(err, p, "%.17g is out of range for %s", j->valuedouble, is_int ? "int" : "long");
    return is_int ? avro_value_set_int(v, (int32_t)j->valuedouble)
                  : avro_value_set_long(v, (int64_t)j->valuedouble);
  }
  case AVRO_FLOAT:
  case AVRO_DOUBLE: {
    if (!cJSON_IsNumber(j) && !cJSON_IsRaw(j)) return field_error(err, p, "expected a number, got %s", json_kind(j));
    double d = cJSON_IsRaw(j) ? strtod(j->valuestring, NULL) : j->valuedouble;
    return avro_typeof(schema) == AVRO_FLOAT ? avro_value_set_float(v, (float)d) : avro_value_set_double(v, d);
  }
  case AVRO_STRING:
    if (!cJSON_IsString(j)) return field_error(err, p, "expected a string, got %s", json_kind(j));
    return avro_value_set_string(v, j->valuestring);
  case AVRO_ENUM: {
    int symbol = cJSON_IsString(j) ? avro_schema_enum_get_by_name(schema, j->valuestring) : -1;
    if (!cJSON_IsString(j)) return field_error(err, p, "expected an enum symbol, got %s", json_kind(j));
    if (symbol < 0)
      return field_error(err, p, "'%s' is not a symbol of enum %s", j->valuestring, avro_schema_name(schema));
    return avro_value_set_enum(v, symbol);
  }
  default: return field_error(err, p, "type %s cannot be written", avro_schema_type_name(schema));
  }
}

static int from_json(const codec_schema *s, avro_value_t *v, const cJSON *j, const cJSON *node,
                     const value_path *p, char **err) {
  cJSON *parsed = NULL;
  int rc;
  /* A raw number (a typed column's, exact) is a plain one unless it is an
  ** integer past 2^53, which only long takes (exactly). */
  cJSON number;
  if (cJSON_IsRaw(j) && fabs(strtod(j->valuestring, NULL)) < 9007199254740992.0) {
    memset(&number, 0, sizeof number);
    number.type = cJSON_Number;
    number.valuedouble = strtod(j->valuestring, NULL);
    j = &number;
  }
  switch (avro_typeof(avro_value_get_schema(v))) {
  case AVRO_RECORD: rc = record_from_json(s, v, container_json(j, &parsed), node, p, err); break;
  case AVRO_ARRAY: rc = array_from_json(s, v, container_json(j, &parsed), node, p, err); break;
  case AVRO_MAP: rc = map_from_json(s, v, container_json(j, &parsed), node, p, err); break;
  case AVRO_UNION: rc = union_from_json(s, v, j, node, p, err); break;
  case AVRO_BYTES: case AVRO_FIXED: rc = bytes_from_json(v, j, node, p, err); break;
  default:
    rc = scalar_from_json(v, j, p, err);
    if (rc && !*err) rc = SQLITE_NOMEM;
  }
  cJSON_Delete(parsed);
  return rc;
}

/* The next number token of JSON text at *p (strings skipped), or NULL. */
static const char *next_number(const char **p, const char *end, size_t *len) {
  for (const char *s = *p; s < end; s++) {
    if (*s == '"') {
      for (s++; s < end && *s != '"'; s++) s += *s == '\\';
      continue;
    }
    if (*s != '-' && (*s < '0' || *s > '9')) continue;
    const char *start = s;
    while (s < end && strchr("+-.eE0123456789", *s)) s++;
    *len = (size_t)(s - start);
    *p = s;
    return start;
  }
  return NULL;
}

/* cJSON keeps numbers as doubles, and an integer past 2^53 would lose
** digits: such nodes become cJSON_Raw nodes holding their text. The
** text's number tokens and the tree's number nodes pair up in document
** order. */
static int keep_big_integers(cJSON *node, const char **p, const char *end) {
  for (; node; node = node->next) {
    if (node->child && keep_big_integers(node->child, p, end)) return SQLITE_NOMEM;
    if (!cJSON_IsNumber(node)) continue;
    size_t n;
    const char *token = next_number(p, end, &n);
    if (!token || fabs(node->valuedouble) < 9007199254740992.0 || memchr(token, '.', n) ||
        memchr(token, 'e', n) || memchr(token, 'E', n))
      continue;
    char *text = cJSON_malloc(n + 1);
    if (!text) return SQLITE_NOMEM;
    memcpy(text, token, n);
    text[n] = 0;
    node->type = cJSON_Raw;
    node->valuestring = text;
  }
  return SQLITE_OK;
}

/* Writes a filled value into buf (size bytes); its length, or -1 when it
** does not fit (or out of memory). */
static int64_t value_write(avro_value_t *value, char *buf, size_t size) {
  avro_writer_t writer = avro_writer_memory(buf, (int64_t)size);
  if (!writer) return -1;
  int64_t len = avro_value_write(writer, value) ? -1 : avro_writer_tell(writer);
  avro_writer_free(writer);
  return len;
}

/* The binary encoding of a filled value (sqlite3_malloc'd). Most records
** fit a buffer on the stack: written there, they need no sizing pass. */
static int value_bytes(avro_value_t *value, void **out, size_t *out_len) {
  char small[1024] = {0};
  int64_t len = value_write(value, small, sizeof small);
  size_t size = len < 0 ? 0 : (size_t)len;
  if (len < 0 && avro_value_sizeof(value, &size)) return SQLITE_NOMEM;
  char *buf = sqlite3_malloc64(size ? size : 1);
  if (!buf) return SQLITE_NOMEM;
  if (len >= 0) memcpy(buf, small, size);
  else if (value_write(value, buf, size) != (int64_t)size) {
    sqlite3_free(buf);
    return SQLITE_NOMEM;
  }
  *out = buf;
  *out_len = size;
  return SQLITE_OK;
}

/* The typed column of a record field: the column whose path is $.<name>. */
static int column_of(const typed_column *cols, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (cols[i].path[0] == '$' && cols[i].path[1] == '.' && !strcmp(cols[i].path + 2, name)) return i;
  return -1;
}

/* A field straight from its column's SQL value when both are plain: an
** INTEGER column's integer into int, long or boolean, a REAL column's
** number into float or double, a TEXT column's text into string or enum.
** SQLITE_NOTFOUND otherwise: the value goes through its JSON node (which
** applies the column's affinity), with the same result. */
static int field_from_value(avro_value_t *v, const typed_column *col, sqlite3_value *value,
                            const value_path *at, char **err) {
  avro_schema_t t = avro_value_get_schema(v);
  int type = sqlite3_value_type(value);
  if (col->affinity == SQLITE_INTEGER && type == SQLITE_INTEGER) {
    sqlite3_int64 n = sqlite3_value_int64(value);
    switch (avro_typeof(t)) {
    case AVRO_INT64: return avro_value_set_long(v, n) ? SQLITE_NOMEM : SQLITE_OK;
    case AVRO_INT32:
      if (n < INT32_MIN || n > INT32_MAX) return field_error(err, at, "%lld is out of range for int", (long long)n);
      return avro_value_set_int(v, (int32_t)n) ? SQLITE_NOMEM : SQLITE_OK;
    case AVRO_BOOLEAN:
      if (n != 0 && n != 1) return SQLITE_NOTFOUND;
      return avro_value_set_boolean(v, (int)n) ? SQLITE_NOMEM : SQLITE_OK;
    default: return SQLITE_NOTFOUND;
    }
  }
  if (col->affinity == SQLITE_FLOAT && (type == SQLITE_FLOAT || type == SQLITE_INTEGER)) {
    double d = sqlite3_value_double(value);
    if (!isfinite(d)) return SQLITE_NOTFOUND;
    if (avro_typeof(t) == AVRO_DOUBLE) return avro_value_set_double(v, d) ? SQLITE_NOMEM : SQLITE_OK;
    if (avro_typeof(t) == AVRO_FLOAT) return avro_value_set_float(v, (float)d) ? SQLITE_NOMEM : SQLITE_OK;
    return SQLITE_NOTFOUND;
  }
  if (col->affinity == SQLITE_TEXT && type == SQLITE_TEXT && avro_typeof(t) == AVRO_STRING) {
    /* The text as it is, without the terminated copy sqlite3_value_text()
    ** makes of a function's result: avro-c writes a string's size - 1
    ** bytes, and a wrapped buffer it does not own is never freed. */
    size_t len = (size_t)sqlite3_value_bytes(value);
    const char *text = sqlite3_value_blob(value);
    avro_wrapped_buffer_t wrapped;
    if (!text || memchr(text, 0, len) || !utf8_valid((const unsigned char *)text, len)) return SQLITE_NOTFOUND;
    if (avro_wrapped_buffer_new(&wrapped, text, len + 1)) return SQLITE_NOMEM;
    return avro_value_give_string_len(v, &wrapped) ? SQLITE_NOMEM : SQLITE_OK;
  }
  if (col->affinity == SQLITE_TEXT && type == SQLITE_TEXT) {
    const char *text = (const char *)sqlite3_value_text(value);
    size_t len = (size_t)sqlite3_value_bytes(value);
    if (!text || memchr(text, 0, len) || !utf8_valid((const unsigned char *)text, len)) return SQLITE_NOTFOUND;
    if (avro_typeof(t) != AVRO_ENUM) return SQLITE_NOTFOUND;
    int symbol = avro_schema_enum_get_by_name(t, text);
    if (symbol < 0) return field_error(err, at, "'%s' is not a symbol of enum %s", text, avro_schema_name(t));
    return avro_value_set_enum(v, symbol) ? SQLITE_NOMEM : SQLITE_OK;
  }
  return SQLITE_NOTFOUND;
}

/* Non-zero when the columns are the record's fields, in order, each at
** its own $.<name> (the columns CREATE learned): column f is field f, with
** no lookup by name. */
static int columns_are_fields(avro_schema_t record, const typed_column *cols, int n) {
  if ((size_t)n != avro_schema_record_size(record)) return 0;
  for (int i = 0; i < n; i++)
    if (cols[i].path[0] != '$' || cols[i].path[1] != '.' ||
        strcmp(cols[i].path + 2, avro_schema_record_field_name(record, i)))
      return 0;
  return 1;
}

/* Fills a record from typed columns: each field from its column's value
** (directly, or as format_typed_json makes it), else its default.
** aligned: columns_are_fields() said so. */
static int record_from_columns(const codec_schema *s, avro_value_t *v, const typed_column *cols,
                               sqlite3_value **values, int n, int aligned, char **err) {
  for (int i = 0; i < n && !aligned; i++) {
    int field = avro_schema_record_field_get_index(s->schema, cols[i].path + 2);
    if (field >= 0 && column_of(cols, n, cols[i].path + 2) == i) continue;
    if (sqlite3_value_type(values[i]) == SQLITE_NULL) continue;
    value_path at = {NULL, cols[i].path + 2, 0};
    return field_error(err, &at, "not a field of record %s (column %s)", avro_schema_name(s->schema), cols[i].name);
  }
  size_t fields = avro_schema_record_size(s->schema);
  const cJSON *root = type_node(s, s->json);
  for (size_t f = 0; f < fields; f++) {
    const char *name = avro_schema_record_field_name(s->schema, (int)f);
    value_path at = {NULL, name, 0};
    int c = aligned ? (int)f : column_of(cols, n, name);
    avro_value_t child;
    if (avro_value_get_by_index(v, f, &child, NULL)) return SQLITE_NOMEM;
    if (c >= 0 && sqlite3_value_type(values[c]) != SQLITE_NULL) {
      int rc = field_from_value(&child, &cols[c], values[c], &at, err);
      if (rc != SQLITE_NOTFOUND) {
        if (rc) return rc;
        continue;
      }
    }
    const cJSON *field = field_node(root, f);
    cJSON *made = NULL;
    const cJSON *item;
    if (c >= 0 && sqlite3_value_type(values[c]) != SQLITE_NULL) {
      if (!(made = format_typed_json(&cols[c], values[c], err))) return *err ? SQLITE_ERROR : SQLITE_NOMEM;
      item = made;
    } else if (!(item = cJSON_GetObjectItemCaseSensitive(field, "default"))) {
      return field_error(err, &at, "missing, and the schema gives no default");
    }
    int rc = from_json(s, &child, item, type_node(s, cJSON_GetObjectItemCaseSensitive(field, "type")), &at, err);
    cJSON_Delete(made);
    if (rc) return rc;
  }
  return SQLITE_OK;
}

static int avro_encode_columns(const codec_schema *s, const typed_column *cols, sqlite3_value **values,
                               int n, void **out, size_t *out_len, char **err) {
  if (avro_typeof(s->schema) != AVRO_RECORD) return SQLITE_NOTFOUND;
  int aligned = columns_are_fields(s->schema, cols, n);
  for (int i = 0; i < n && !aligned; i++)
    if (cols[i].path[0] != '$' || cols[i].path[1] != '.' || strpbrk(cols[i].path + 2, ".[\"")) return SQLITE_NOTFOUND;
  avro_value_t value;
  avro_reader_t unused;
  int scratch = scratch_take(s, NULL, 0, &value, &unused);
  if (scratch < 0) return SQLITE_NOMEM;
  int rc = record_from_columns(s, &value, cols, values, n, aligned, err);
  if (!rc) rc = value_bytes(&value, out, out_len);
  scratch_give(s, &value, unused, scratch);
  return rc;
}

static int avro_encode(const codec_schema *s, const char *json, size_t len, void **out,
                       size_t *out_len, char **err) {
  cJSON *root = cJSON_ParseWithLength(json, len);
  const char *scan = json;
  if (root && keep_big_integers(root, &scan, json + len)) {
    cJSON_Delete(root);
    return SQLITE_NOMEM;
  }
  if (!root) {
    *err = sqlite3_mprintf("kafka: the value to encode as Avro is not JSON");
    return SQLITE_ERROR;
  }
  avro_value_t value;
  avro_reader_t unused;
  int scratch = scratch_take(s, NULL, 0, &value, &unused);
  if (scratch < 0) {
    cJSON_Delete(root);
    return SQLITE_NOMEM;
  }
  int rc = from_json(s, &value, root, type_node(s, s->json), NULL, err);
  if (!rc) rc = value_bytes(&value, out, out_len);
  scratch_give(s, &value, unused, scratch);
  cJSON_Delete(root);
  return rc;
}

const codec avro_codec = {
    .name = "avro",
    .registry_type = "AVRO",
    .parse = avro_parse,
    .release = avro_release,
    .columns = avro_columns,
    .decode = avro_decode,
    .encode = avro_encode,
    .encode_columns = avro_encode_columns,
    .decode_columns = avro_decode_columns,
};
