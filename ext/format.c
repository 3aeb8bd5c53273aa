/*
** Formats: Kafka bytes to SQL values on SELECT, SQL values to bytes on
** INSERT. Nothing is ever mangled: bytes that are not valid UTF-8 come back
** as a BLOB, and header values that are not UTF-8 as {"hex": "..."}.
*/
#include "kafka_ext.h"
#include "format.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* Non-zero when one of the eight bytes of w is 0. */
static int has_zero_byte(unsigned long long w) {
  return ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL) != 0;
}

int utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    /* Eight ASCII bytes at a time: most keys and values are ASCII. */
    while (i + 8 <= n) {
      unsigned long long w;
      memcpy(&w, s + i, 8);
      if ((w & 0x8080808080808080ULL) || has_zero_byte(w)) break;
      i += 8;
    }
    if (i >= n) break;
    unsigned char c = s[i];
    if (c == 0) return 0;
    if (c < 0x80) { i++; continue; }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!len || c > 0xF4 || i + len > n) return 0;
    for (size_t k = 1; k < len; k++)
      if ((s[i + k] & 0xC0) != 0x80) return 0;
    /* Overlong forms, surrogates and code points past U+10FFFF. */
    if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) ||
        (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
      return 0;
    i += len;
  }
  return 1;
}

/* Text goes to SQLite NUL-terminated, in a buffer it takes over: a copy
** SQLite makes of counted text is copied once more, to add the
** terminator, as soon as the caller reads it with sqlite3_column_text().
** Text holding a NUL character can only be given counted. */
static void result_text(sqlite3_context *ctx, const void *data, size_t len) {
  char *text = len < INT_MAX && !memchr(data, 0, len) ? malloc(len + 1) : NULL;
  if (!text) {
    sqlite3_result_text64(ctx, data, len, SQLITE_TRANSIENT, SQLITE_UTF8);
    return;
  }
  memcpy(text, data, len);
  text[len] = 0;
  sqlite3_result_text(ctx, text, -1, free);
}

void format_result(sqlite3_context *ctx, kafka_format f, const void *data, size_t len) {
  if (!data) sqlite3_result_null(ctx);
  else if (f != KAFKA_FORMAT_BLOB && utf8_valid(data, len)) result_text(ctx, data, len);
  else sqlite3_result_blob64(ctx, data, len, SQLITE_TRANSIENT);
}

/* A header value as JSON: a string, null, or {"hex": "..."}. */
static cJSON *header_value_json(const void *value, size_t len) {
  if (!value) return cJSON_CreateNull();
  if (utf8_valid(value, len)) {
    char *text = sqlite3_mprintf("%.*s", (int)len, (const char *)value);
    cJSON *s = text ? cJSON_CreateString(text) : NULL;
    sqlite3_free(text);
    return s;
  }
  static const char digits[] = "0123456789abcdef";
  char *hex = sqlite3_malloc64(len * 2 + 1);
  if (!hex) return NULL;
  for (size_t i = 0; i < len; i++) {
    hex[2 * i] = digits[((const unsigned char *)value)[i] >> 4];
    hex[2 * i + 1] = digits[((const unsigned char *)value)[i] & 15];
  }
  hex[len * 2] = 0;
  cJSON *obj = cJSON_CreateObject();
  if (obj && !cJSON_AddStringToObject(obj, HEADER_HEX_KEY, hex)) {
    cJSON_Delete(obj);
    obj = NULL;
  }
  sqlite3_free(hex);
  return obj;
}

/* The JSON of every value of header `name`, in order: the value itself
** when there is one, else an array of them. */
static cJSON *header_values_json(rd_kafka_headers_t *headers, const char *name) {
  const void *value;
  size_t len;
  if (rd_kafka_header_get(headers, 1, name, &value, &len)) {
    rd_kafka_header_get(headers, 0, name, &value, &len);
    return header_value_json(value, len);
  }
  cJSON *array = cJSON_CreateArray();
  for (size_t i = 0; array && !rd_kafka_header_get(headers, i, name, &value, &len); i++) {
    cJSON *item = header_value_json(value, len);
    if (!item || !cJSON_AddItemToArray(array, item)) {
      cJSON_Delete(item);
      cJSON_Delete(array);
      array = NULL;
    }
  }
  return array;
}

char *format_headers_json(rd_kafka_headers_t *headers) {
  if (!headers || !rd_kafka_header_cnt(headers)) return NULL;
  cJSON *root = cJSON_CreateObject();
  const char *name;
  const void *value;
  size_t len;
  for (size_t i = 0; root && !rd_kafka_header_get_all(headers, i, &name, &value, &len); i++) {
    if (cJSON_GetObjectItemCaseSensitive(root, name)) continue; /* a repeat: already in */
    cJSON *item = header_values_json(headers, name);
    if (!item || !cJSON_AddItemToObject(root, name, item)) {
      cJSON_Delete(item);
      cJSON_Delete(root);
      root = NULL;
    }
  }
  char *text = root ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!text) return NULL;
  char *out = sqlite3_mprintf("%s", text);
  cJSON_free(text);
  return out;
}

static int hex_digit(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Adds one header from a JSON string, null, number, boolean or {"hex"}. */
static int header_from_json(rd_kafka_headers_t *hdrs, const char *name, const cJSON *v, char **err) {
  if (cJSON_IsNull(v)) return rd_kafka_header_add(hdrs, name, -1, NULL, 0) ? SQLITE_ERROR : SQLITE_OK;
  if (cJSON_IsString(v)) return rd_kafka_header_add(hdrs, name, -1, v->valuestring, strlen(v->valuestring)) ? SQLITE_ERROR : SQLITE_OK;
  const cJSON *hex = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, HEADER_HEX_KEY) : NULL;
  if (hex && cJSON_IsString(hex) && !v->child->next) {
    size_t n = strlen(hex->valuestring);
    unsigned char *bytes = sqlite3_malloc64(n / 2 + 1);
    int ok = bytes && n % 2 == 0;
    for (size_t i = 0; ok && i < n / 2; i++) {
      int hi = hex_digit(hex->valuestring[2 * i]), lo = hex_digit(hex->valuestring[2 * i + 1]);
      ok = hi >= 0 && lo >= 0;
      if (ok) bytes[i] = (unsigned char)(hi << 4 | lo);
    }
    if (ok) rd_kafka_header_add(hdrs, name, -1, bytes, n / 2);
    sqlite3_free(bytes);
    if (ok) return SQLITE_OK;
    *err = sqlite3_mprintf("kafka: headers: \"%s\": {\"hex\": ...} must be an even number of hex digits", name);
    return SQLITE_ERROR;
  }
  if (cJSON_IsNumber(v) || cJSON_IsBool(v)) {
    char *text = cJSON_PrintUnformatted(v);
    if (text) rd_kafka_header_add(hdrs, name, -1, text, strlen(text));
    cJSON_free(text);
    return text ? SQLITE_OK : SQLITE_NOMEM;
  }
  *err = sqlite3_mprintf("kafka: headers: \"%s\" must be a string, null, {\"hex\": \"...\"} or an "
                         "array of them", name);
  return SQLITE_ERROR;
}

int format_headers_parse(const char *json, rd_kafka_headers_t **out, char **err) {
  cJSON *root = cJSON_Parse(json);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    *err = sqlite3_mprintf("kafka: headers must be a JSON object like {\"name\": \"value\"}");
    return SQLITE_ERROR;
  }
  rd_kafka_headers_t *hdrs = rd_kafka_headers_new(8);
  int rc = SQLITE_OK;
  for (const cJSON *item = root->child; item && !rc; item = item->next) {
    if (!cJSON_IsArray(item)) {
      rc = header_from_json(hdrs, item->string, item, err);
      continue;
    }
    for (const cJSON *v = item->child; v && !rc; v = v->next) rc = header_from_json(hdrs, item->string, v, err);
  }
  cJSON_Delete(root);
  if (rc) {
    rd_kafka_headers_destroy(hdrs);
    return rc;
  }
  *out = hdrs;
  return SQLITE_OK;
}

cJSON *format_parse_value(const void *data, size_t len, const char **why) {
  if (!data) return NULL;
  cJSON *root = cJSON_ParseWithLength(data, len);
  if (!root) *why = "value is not valid JSON";
  return root;
}

/* Follows a JSON path: $, .name, ."quoted name", [index], ["name"]. */
static const cJSON *json_at(const cJSON *node, const char *path) {
  if (*path++ != '$') return NULL;
  char name[256];
  while (node && *path) {
    size_t n = 0;
    if (*path == '.' && path[1] == '"') {
      path += 2;
      while (*path && *path != '"' && n + 1 < sizeof name) name[n++] = *path++;
      if (*path++ != '"') return NULL;
    } else if (*path == '.') {
      path++;
      while (*path && *path != '.' && *path != '[' && n + 1 < sizeof name) name[n++] = *path++;
    } else if (*path == '[' && path[1] == '"') {
      path += 2;
      while (*path && *path != '"' && n + 1 < sizeof name) name[n++] = *path++;
      if (*path++ != '"' || *path++ != ']') return NULL;
    } else if (*path == '[') {
      char *end;
      long i = strtol(path + 1, &end, 10);
      if (*end != ']' || i < 0) return NULL;
      node = cJSON_IsArray(node) ? cJSON_GetArrayItem(node, (int)i) : NULL;
      path = end + 1;
      continue;
    } else {
      return NULL;
    }
    name[n] = 0;
    node = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, name) : NULL;
  }
  return node;
}

/* json_extract(json, path) run by SQLite, whose JSON keeps every integer
** exact: for the values cJSON's doubles cannot hold (integers past 2^53).
** Rare, so a statement is prepared each time. The statement stands on its
** row (finalize it), or NULL. */
static sqlite3_stmt *exact_extract(sqlite3_context *ctx, const void *json, size_t len, const char *path) {
  sqlite3_stmt *stmt;
  if (sqlite3_prepare_v2(sqlite3_context_db_handle(ctx), "SELECT json_extract(?1, ?2)", -1, &stmt, NULL))
    return NULL;
  sqlite3_bind_text64(stmt, 1, json, len, SQLITE_STATIC, SQLITE_UTF8);
  sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);
  if (sqlite3_step(stmt) == SQLITE_ROW) return stmt;
  sqlite3_finalize(stmt);
  return NULL;
}

/* The exact integer at path in the JSON text (SQLite reads it as a 64-bit
** integer). */
static int exact_integer(sqlite3_context *ctx, const void *json, size_t len, const char *path,
                         sqlite3_int64 *out) {
  sqlite3_stmt *stmt = exact_extract(ctx, json, len, path);
  int exact = stmt && sqlite3_column_type(stmt, 0) == SQLITE_INTEGER;
  if (exact) *out = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return exact;
}

/* Whether JSON nodes (and what they hold) have a number cJSON may have
** rounded: printing them again would change it. */
static int holds_big_number(const cJSON *node) {
  for (; node; node = node->next)
    if ((cJSON_IsNumber(node) && fabs(node->valuedouble) >= 9007199254740992.0) || holds_big_number(node->child))
      return 1;
  return 0;
}

/* A JSON number under the column's affinity; an integer past 2^53 is
** read again from the text (cJSON keeps numbers as doubles). */
static void number_result(sqlite3_context *ctx, const typed_column *col, double d,
                          const void *json, size_t len) {
  int integral = d == floor(d) && fabs(d) < 9.2e18;
  sqlite3_int64 n = integral ? (sqlite3_int64)d : 0;
  if (integral && fabs(d) >= 9007199254740992.0 && json) exact_integer(ctx, json, len, col->path, &n);
  if (col->affinity == SQLITE_TEXT) {
    char *text = integral ? sqlite3_mprintf("%lld", n) : sqlite3_mprintf("%!.17g", d);
    sqlite3_result_text(ctx, text, -1, sqlite3_free);
  } else if (integral && col->affinity != SQLITE_FLOAT) {
    sqlite3_result_int64(ctx, n);
  } else {
    sqlite3_result_double(ctx, d);
  }
}

int format_hex_decode(const char *hex, size_t n, unsigned char *out) {
  if (n % 2) return -1;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return 0;
}

/* The bytes of a registry format's BLOB column: hex in the JSON. */
static int hex_blob_result(sqlite3_context *ctx, const char *text) {
  size_t n = strlen(text);
  unsigned char *bytes = sqlite3_malloc64(n / 2 + 1);
  if (!bytes || format_hex_decode(text, n, bytes)) {
    sqlite3_free(bytes);
    return 0;
  }
  sqlite3_result_blob64(ctx, bytes, n / 2, sqlite3_free);
  return 1;
}

/* A JSON string under the column's affinity: like SQLite's own INTEGER
** and REAL columns, text that is a whole number becomes one. */
static void string_result(sqlite3_context *ctx, const typed_column *col, const char *text) {
  if (col->hex_blob && hex_blob_result(ctx, text)) return;
  if (col->affinity == SQLITE_INTEGER || col->affinity == SQLITE_FLOAT) {
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (*text && !*end && !errno && col->affinity == SQLITE_INTEGER) { sqlite3_result_int64(ctx, n); return; }
    double d = strtod(text, &end);
    if (*text && !*end && isfinite(d)) { number_result(ctx, col, d, NULL, 0); return; }
  }
  sqlite3_result_text(ctx, text, -1, SQLITE_TRANSIENT);
}

void format_typed_result(sqlite3_context *ctx, const typed_column *col, const cJSON *root,
                         const void *json, size_t len) {
  format_typed_node_result(ctx, col, root ? json_at(root, col->path) : NULL, json, len);
}

void format_typed_node_result(sqlite3_context *ctx, const typed_column *col, const cJSON *v,
                              const void *json, size_t len) {
  if (!v || cJSON_IsNull(v)) {
    sqlite3_result_null(ctx);
  } else if (cJSON_IsNumber(v)) {
    number_result(ctx, col, v->valuedouble, json, len);
  } else if (cJSON_IsBool(v)) {
    if (col->affinity == SQLITE_TEXT) sqlite3_result_text(ctx, cJSON_IsTrue(v) ? "true" : "false", -1, SQLITE_STATIC);
    else sqlite3_result_int(ctx, cJSON_IsTrue(v));
  } else if (cJSON_IsString(v)) {
    string_result(ctx, col, v->valuestring);
  } else { /* an object or array: its text, from SQLite when cJSON may have rounded a number */
    sqlite3_stmt *stmt = json && holds_big_number(v->child) ? exact_extract(ctx, json, len, col->path) : NULL;
    char *text = stmt ? NULL : cJSON_PrintUnformatted(v); /* SQLite refuses what cJSON lets pass */
    if (stmt) sqlite3_result_value(ctx, sqlite3_column_value(stmt, 0));
    else if (text) sqlite3_result_text(ctx, text, -1, SQLITE_TRANSIENT);
    else sqlite3_result_error_nomem(ctx);
    sqlite3_finalize(stmt);
    cJSON_free(text);
  }
}

/* A strict RFC 8259 check for what INSERT produces as json: cJSON's parser
** is lenient (text after the value, 01, +1, .5, 1.) and a value a table
** calls JSON must be readable by every consumer. Nesting is limited like
** cJSON's, so that whatever is accepted can be read back. */
typedef struct json_cursor {
  const unsigned char *p, *end;
  int depth;
} json_cursor;

static int json_value(json_cursor *c);

static int json_peek(const json_cursor *c) { return c->p < c->end ? *c->p : -1; }

static int json_take(json_cursor *c) { return c->p < c->end ? *c->p++ : -1; }

static void json_space(json_cursor *c) {
  while (json_peek(c) == ' ' || json_peek(c) == '\t' || json_peek(c) == '\n' || json_peek(c) == '\r') c->p++;
}

static int json_literal(json_cursor *c, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n)) return 0;
  c->p += n;
  return 1;
}

static int json_digits(json_cursor *c) {
  const unsigned char *start = c->p;
  while (json_peek(c) >= '0' && json_peek(c) <= '9') c->p++;
  return c->p > start;
}

static int json_number(json_cursor *c) {
  if (json_peek(c) == '-') c->p++;
  if (json_peek(c) == '0') c->p++;
  else if (!json_digits(c)) return 0;
  if (json_peek(c) == '.') {
    c->p++;
    if (!json_digits(c)) return 0;
  }
  if (json_peek(c) != 'e' && json_peek(c) != 'E') return 1;
  c->p++;
  if (json_peek(c) == '+' || json_peek(c) == '-') c->p++;
  return json_digits(c);
}

static int json_string(json_cursor *c) {
  for (c->p++; c->p < c->end;) {
    unsigned char ch = *c->p++;
    if (ch == '"') return 1;
    if (ch < 0x20) return 0;
    if (ch != '\\') continue;
    int esc = json_take(c);
    if (esc == 'u') {
      for (int i = 0; i < 4; i++) {
        int h = json_take(c);
        if (h < 0 || hex_digit((char)h) < 0) return 0;
      }
    } else if (esc <= 0 || !strchr("\"\\/bfnrt", esc)) {
      return 0;
    }
  }
  return 0;
}

/* An object (keyed) or an array, from its opening bracket. */
static int json_container(json_cursor *c, int close, int keyed) {
  if (++c->depth > CJSON_NESTING_LIMIT) return 0;
  c->p++;
  json_space(c);
  if (json_peek(c) == close) {
    c->p++;
    c->depth--;
    return 1;
  }
  for (;;) {
    if (keyed) {
      if (json_peek(c) != '"' || !json_string(c)) return 0;
      json_space(c);
      if (json_peek(c) != ':') return 0;
      c->p++;
      json_space(c);
    }
    if (!json_value(c)) return 0;
    json_space(c);
    int next = json_take(c);
    if (next == close) break;
    if (next != ',') return 0;
    json_space(c);
  }
  c->depth--;
  return 1;
}

static int json_value(json_cursor *c) {
  switch (json_peek(c)) {
  case '{': return json_container(c, '}', 1);
  case '[': return json_container(c, ']', 0);
  case '"': return json_string(c);
  case 't': return json_literal(c, "true");
  case 'f': return json_literal(c, "false");
  case 'n': return json_literal(c, "null");
  default: return json_number(c);
  }
}

/* -1 when data is valid JSON text, else the offset where it is not. */
static long long json_error_at(const void *data, size_t len) {
  json_cursor c = {data, (const unsigned char *)data + len, 0};
  json_space(&c);
  int ok = json_value(&c);
  json_space(&c);
  if (ok && c.p == c.end) return utf8_valid(data, len) ? -1 : 0;
  return c.p < c.end ? c.p - (const unsigned char *)data : (long long)len;
}

int format_bytes(sqlite3_value *v, kafka_format f, const char *what, const void **data,
                 size_t *len, char **err) {
  int type = sqlite3_value_type(v);
  if (type == SQLITE_NULL) {
    *data = NULL;
    *len = 0;
    return SQLITE_OK;
  }
  if (f == KAFKA_FORMAT_BLOB || type == SQLITE_BLOB) {
    *data = sqlite3_value_blob(v);
    *len = (size_t)sqlite3_value_bytes(v);
  } else {
    *data = sqlite3_value_text(v);
    *len = (size_t)sqlite3_value_bytes(v);
  }
  if (!*data && *len == 0) *data = "";
  long long at = f == KAFKA_FORMAT_JSON ? json_error_at(*data, *len) : -1;
  if (at < 0) return SQLITE_OK;
  *err = sqlite3_mprintf("kafka: %s is not valid JSON (the table's %s format is json): error at "
                         "byte %lld of %lld", what, what, at, (long long)*len);
  return SQLITE_ERROR;
}

/* The SQL type a typed column's value goes into JSON as: the column's
** affinity applies as SQLite applies it to a table column (which it does
** not do for a virtual table's INSERT): INTEGER and REAL turn numeric text
** into numbers, TEXT turns numbers into text; other types keep theirs. */
static int typed_type(const typed_column *col, sqlite3_value *v) {
  int type = sqlite3_value_type(v);
  int numeric = col->affinity == SQLITE_INTEGER || col->affinity == SQLITE_FLOAT;
  if (type == SQLITE_TEXT && numeric) type = sqlite3_value_numeric_type(v);
  if (type == SQLITE_FLOAT && col->affinity == SQLITE_INTEGER) {
    double d = sqlite3_value_double(v);
    if (d == floor(d) && fabs(d) < 9.2e18) type = SQLITE_INTEGER;
  }
  if (type == SQLITE_INTEGER && col->affinity == SQLITE_FLOAT) type = SQLITE_FLOAT;
  if ((type == SQLITE_INTEGER || type == SQLITE_FLOAT) && col->affinity == SQLITE_TEXT) type = SQLITE_TEXT;
  return type;
}

/* A BLOB for a registry format's bytes: hex digits in the JSON. */
static cJSON *hex_json(sqlite3_value *v) {
  static const char digits[] = "0123456789abcdef";
  const unsigned char *b = sqlite3_value_blob(v);
  size_t n = (size_t)sqlite3_value_bytes(v);
  char *hex = sqlite3_malloc64(n * 2 + 1);
  if (!hex) return NULL;
  for (size_t i = 0; i < n; i++) {
    hex[2 * i] = digits[b[i] >> 4];
    hex[2 * i + 1] = digits[b[i] & 15];
  }
  hex[2 * n] = 0;
  cJSON *node = cJSON_CreateString(hex);
  sqlite3_free(hex);
  return node;
}

/* The JSON node for one typed column's SQL value (see format.h). */
cJSON *format_typed_json(const typed_column *col, sqlite3_value *v, char **err) {
  const char *why = "a BLOB";
  if (col->hex_blob && sqlite3_value_type(v) == SQLITE_BLOB) return hex_json(v);
  switch (typed_type(col, v)) {
  case SQLITE_INTEGER: {
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)sqlite3_value_int64(v));
    return cJSON_CreateRaw(text);
  }
  case SQLITE_FLOAT: {
    double d = sqlite3_value_double(v);
    why = "a non-finite REAL";
    if (!isfinite(d)) break;
    char *text = sqlite3_mprintf("%!.17g", d);
    cJSON *node = text ? cJSON_CreateRaw(text) : NULL;
    sqlite3_free(text);
    return node;
  }
  case SQLITE_TEXT: {
    const unsigned char *text = sqlite3_value_text(v);
    why = "text that is not UTF-8";
    if (text && utf8_valid(text, (size_t)sqlite3_value_bytes(v))) return cJSON_CreateString((const char *)text);
  }
  }
  *err = sqlite3_mprintf("kafka: column %s: %s cannot go into a JSON value", col->name, why);
  return NULL;
}

/* The object under which path's last step goes, created as needed; *leaf
** is that last step's name. Only object steps ($.a.b) can be composed. */
static cJSON *compose_parent(cJSON *root, const char *path, char *leaf, size_t size) {
  if (*path++ != '$' || *path != '.') return NULL;
  cJSON *node = root;
  while (*path == '.') {
    path++;
    size_t n = strcspn(path, ".[");
    if (!n || n >= size || path[n] == '[') return NULL;
    snprintf(leaf, size, "%.*s", (int)n, path);
    path += n;
    if (!*path) return node;
    cJSON *child = cJSON_GetObjectItemCaseSensitive(node, leaf);
    if (!child) child = cJSON_AddObjectToObject(node, leaf);
    if (!cJSON_IsObject(child)) return NULL;
    node = child;
  }
  return NULL;
}

int format_compose_value(const kafka_options *opts, sqlite3_value **values, char **json,
                         char **err) {
  cJSON *root = cJSON_CreateObject();
  int rc = root ? SQLITE_OK : SQLITE_NOMEM;
  for (int i = 0; i < opts->n_columns && !rc; i++) {
    const typed_column *col = &opts->columns[i];
    if (sqlite3_value_type(values[i]) == SQLITE_NULL) continue;
    char leaf[256];
    cJSON *parent = compose_parent(root, col->path, leaf, sizeof leaf);
    if (!parent) {
      *err = sqlite3_mprintf("kafka: column %s: cannot compose a value at path %s (only $.a.b "
                             "object paths)", col->name, col->path);
      rc = SQLITE_ERROR;
      break;
    }
    cJSON *node = format_typed_json(col, values[i], err);
    if (!node) rc = *err ? SQLITE_ERROR : SQLITE_NOMEM;
    else cJSON_AddItemToObject(parent, leaf, node);
  }
  char *text = rc ? NULL : cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  if (rc) return rc;
  if (!text) return SQLITE_NOMEM;
  *json = sqlite3_mprintf("%s", text);
  cJSON_free(text);
  return *json ? SQLITE_OK : SQLITE_NOMEM;
}
