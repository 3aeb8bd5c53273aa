/*
** Formats: Kafka bytes to SQL values on SELECT, SQL values to bytes on
** INSERT. Nothing is ever mangled: bytes that are not valid UTF-8 come back
** as a BLOB, and header values that are not UTF-8 as {"hex": "..."}.
*/
#include "base.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

#define BYTES_01 0x0101010101010101ULL
#define BYTES_80 0x8080808080808080ULL

/* Non-zero when one of the eight bytes at s is 0 or above 0x7F. A borrow
** of the subtraction starts only at a zero byte, so the answer is exact. */
static unsigned long long word_not_ascii(const unsigned char *s) {
  unsigned long long w;
  memcpy(&w, s, 8);
  return (w | (w - BYTES_01)) & BYTES_80;
}

/* How many leading bytes of the n at s are known to be ASCII without NUL:
** words are checked 32 bytes at a time, with no branch inside, and the
** last bytes by a word that overlaps the ones before (values of 8 bytes or
** more are ASCII most of the time, and then checked whole here). */
static size_t ascii_prefix(const unsigned char *s, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    if (word_not_ascii(s + i) | word_not_ascii(s + i + 8) | word_not_ascii(s + i + 16) |
        word_not_ascii(s + i + 24))
      return i;
  for (; i + 8 <= n; i += 8)
    if (word_not_ascii(s + i)) return i;
  return i < n && n >= 8 && !word_not_ascii(s + n - 8) ? n : i;
}

int utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    i += ascii_prefix(s + i, n - i);
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

/* Text shorter than this is copied on the stack (see result_text). */
#define STACK_TEXT_BYTES 4096

/* Text goes to SQLite NUL-terminated and with length -1, so that SQLite
** marks it terminated: counted text (sqlite3_result_text64) is grown by a
** realloc() to add the terminator as soon as the caller reads it with
** sqlite3_column_text(), as the shell and Python do (measured with
** callgrind: 1005 instructions per value against 655 with a malloc()ed
** copy SQLite takes over). A short value is terminated in a stack buffer
** and copied by SQLite (SQLITE_TRANSIENT) into its register's own buffer,
** which a register keeps from row to row: no malloc() and free() per value
** (callgrind, 100 B values and 12 B keys: 470 instructions a value in
** format_result() before, 310 now, the UTF-8 check included). The
** text holds no NUL byte: utf8_valid() said so. */
static void result_text(sqlite3_context *ctx, const void *data, size_t len) {
  if (len < STACK_TEXT_BYTES) {
    char text[STACK_TEXT_BYTES];
    memcpy(text, data, len);
    text[len] = 0;
    sqlite3_result_text(ctx, text, -1, SQLITE_TRANSIENT);
    return;
  }
  char *text = len < INT_MAX ? malloc(len + 1) : NULL;
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

/* The civil date (proleptic Gregorian) of a day count since 1970-01-01,
** days >= 0 (Howard Hinnant's civil_from_days). */
static void civil_from_days(int64_t days, int *y, int *m, int *d) {
  int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* Writes v as n decimal digits at out. */
static char *put_digits(char *out, int v, int n) {
  for (int i = n - 1; i >= 0; i--, v /= 10) out[i] = (char)('0' + v % 10);
  return out + n;
}

int format_iso_time(int64_t ms, char *out) {
  if (ms < 0 || ms > FORMAT_TIME_MAX_MS) return 0;
  int y, mo, d, day_ms = (int)(ms % 86400000);
  civil_from_days(ms / 86400000, &y, &mo, &d);
  const int fields[][3] = {{y, 4, '-'}, {mo, 2, '-'}, {d, 2, 'T'}, {day_ms / 3600000, 2, ':'},
                           {day_ms / 60000 % 60, 2, ':'}, {day_ms / 1000 % 60, 2, '.'}, {day_ms % 1000, 3, 'Z'}};
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
    out = put_digits(out, fields[i][0], fields[i][1]);
    *out++ = (char)fields[i][2];
  }
  *out = 0;
  return 1;
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

const char *format_check_value(const void *data, size_t len, json_index *index) {
  return json_error_indexed(data, len, index) < 0 ? NULL : "value is not valid JSON";
}


/* White space as SQLite's number parsing skips it (\v included). */
static int sql_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* The exact integer the n bytes at z spell (white space around, a sign,
** decimal digits): 1 and *out when it is within int64, else 0. */
static int parse_int64(const char *z, size_t n, sqlite3_int64 *out) {
  const char *end = z + n;
  while (z < end && sql_space(*z)) z++;
  while (end > z && sql_space(end[-1])) end--;
  int negative = z < end && *z == '-';
  if (z < end && (*z == '-' || *z == '+')) z++;
  if (z == end) return 0;
  /* Accumulated negative: -9223372036854775808 has no positive twin. */
  sqlite3_int64 v = 0;
  for (; z < end; z++) {
    if (*z < '0' || *z > '9') return 0;
    int digit = *z - '0';
    if (v < (INT64_MIN + digit) / 10) return 0;
    v = v * 10 - digit;
  }
  if (!negative && v == INT64_MIN) return 0;
  *out = negative ? v : -v;
  return 1;
}

/* What SQLite's sqlite3AtoF() makes of text under numeric affinity: 0 when
** it is no number (it stays text, like '0x10' or '5x'), 1 when it is
** written as an integer, 2 as a real. White space around is allowed ('5 '
** is 5). */
static int numeric_text_kind(const char *z, size_t n) {
  const char *end = z + n;
  while (z < end && sql_space(*z)) z++;
  if (z < end && (*z == '-' || *z == '+')) z++;
  int digits = 0, kind = 1;
  for (; z < end && *z >= '0' && *z <= '9'; z++) digits++;
  if (z < end && *z == '.') {
    kind = 2;
    for (z++; z < end && *z >= '0' && *z <= '9'; z++) digits++;
  }
  if (z < end && (*z == 'e' || *z == 'E')) {
    kind = 2;
    z++;
    if (z < end && (*z == '-' || *z == '+')) z++;
    const char *exponent = z;
    while (z < end && *z >= '0' && *z <= '9') z++;
    if (z == exponent) return 0;
  }
  while (z < end && sql_space(*z)) z++;
  return z == end && digits ? kind : 0;
}

/* Exact powers of ten as doubles (10^22 is the last one). */
static const double exact_powers_of_ten[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                             1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                             1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* A plain decimal (-12.5, 3e-2) by Clinger's fast path: a significand
** below 2^53 and a power of ten up to 10^22 are both exact doubles, so
** one multiplication or division rounds correctly, as strtod() would.
** 0 when the text is not such a number. */
static int fast_decimal(const char *z, size_t n, double *out) {
  const char *p = z, *end = z + n;
  int negative = p < end && *p == '-';
  if (negative) p++;
  unsigned long long significand = 0;
  int exponent = 0, digits = 0;
  for (int fraction = 0; p < end; p++) {
    if (*p == '.' && !fraction) { fraction = 1; continue; }
    if (*p < '0' || *p > '9') break;
    if (significand >= (1ULL << 53) / 10) return 0;
    significand = significand * 10 + (unsigned)(*p - '0');
    exponent -= fraction;
    digits++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    int sign = ++p < end && *p == '-' ? -1 : 1;
    if (p < end && (*p == '-' || *p == '+')) p++;
    int e = 0;
    const char *exponent_digits = p;
    for (; p < end && *p >= '0' && *p <= '9' && e < 1000; p++) e = e * 10 + (*p - '0');
    if (p == exponent_digits) return 0;
    exponent += sign * e;
  }
  if (p != end || !digits || exponent < -22 || exponent > 22) return 0;
  double d = (double)significand;
  d = exponent < 0 ? d / exact_powers_of_ten[-exponent] : d * exact_powers_of_ten[exponent];
  *out = negative ? -d : d;
  return 1;
}

/* The double counted text spells (strtod(), on a copy for the terminator
** it needs, when the fast path cannot say). */
static double text_double(const char *z, size_t n) {
  double d;
  if (fast_decimal(z, n, &d)) return d;
  char small[64];
  char *copy = n < sizeof small ? small : sqlite3_malloc64(n + 1);
  if (!copy) return 0;
  memcpy(copy, z, n);
  copy[n] = 0;
  d = strtod(copy, NULL);
  if (copy != small) sqlite3_free(copy);
  return d;
}

/* A REAL that is a whole number inside int64 becomes an INTEGER (SQLite's
** sqlite3VdbeIntegerAffinity(): the two ends of the range stay REAL). */
static void integer_affinity(sql_value *v) {
  if (v->type != SQLITE_FLOAT || !(v->r > -9223372036854775808.0 && v->r < 9223372036854775808.0))
    return;
  sqlite3_int64 i = (sqlite3_int64)v->r;
  if ((double)i == v->r && i > INT64_MIN && i < INT64_MAX) {
    v->type = SQLITE_INTEGER;
    v->i = i;
  }
}

static void set_owned_text(sql_value *v, char *text) {
  sqlite3_free(v->owned);
  v->type = text ? SQLITE_TEXT : SQLITE_NULL;
  v->owned = text;
  v->text = text;
  v->len = text ? strlen(text) : 0;
}

/* Numeric affinity on text (SQLite's applyNumericAffinity()). */
static void numeric_affinity(sql_value *v) {
  int kind = v->type == SQLITE_TEXT ? numeric_text_kind(v->text, v->len) : 0;
  if (!kind) return;
  sqlite3_int64 i;
  if (kind == 1 && parse_int64(v->text, v->len, &i)) {
    v->type = SQLITE_INTEGER;
    v->i = i;
  } else {
    v->type = SQLITE_FLOAT;
    v->r = text_double(v->text, v->len);
  }
  sqlite3_free(v->owned);
  v->owned = NULL;
}

/* The column's affinity, as SQLite applies it when a table column of the
** declared type receives the value. */
static void apply_affinity(char affinity, sql_value *v) {
  switch (affinity) {
  case SQLITE_TEXT:
    if (v->type == SQLITE_INTEGER) set_owned_text(v, sqlite3_mprintf("%lld", v->i));
    else if (v->type == SQLITE_FLOAT) set_owned_text(v, sqlite3_mprintf("%!.15g", v->r));
    break;
  case SQLITE_FLOAT:
    numeric_affinity(v);
    if (v->type == SQLITE_INTEGER) {
      v->type = SQLITE_FLOAT;
      v->r = (double)v->i;
    }
    break;
  case SQLITE_INTEGER:
  case KAFKA_AFFINITY_NUMERIC:
    numeric_affinity(v);
    integer_affinity(v);
    break;
  default: /* SQLITE_BLOB: none */
    break;
  }
}

/* format_json_value() over [s, end). */
static void json_sql_value(const unsigned char *s, const unsigned char *end, sql_value *v) {
  size_t n = (size_t)(end - s);
  memset(v, 0, sizeof *v);
  if (*s == 'n') {
    v->type = SQLITE_NULL;
  } else if (*s == 't' || *s == 'f') {
    v->type = SQLITE_INTEGER;
    v->i = *s == 't';
  } else if (*s == '"' && !memchr(s, '\\', n)) {
    v->type = SQLITE_TEXT; /* borrowed: nothing to decode */
    v->text = (const char *)s + 1;
    v->len = n >= 2 ? n - 2 : 0;
  } else if (*s == '"' || *s == '{' || *s == '[') {
    v->owned = sqlite3_malloc64(n + 1);
    v->type = v->owned ? SQLITE_TEXT : SQLITE_NULL;
    if (!v->owned) return;
    v->len = *s == '"' ? json_string_decode(s, end, v->owned) : json_minify(s, end, v->owned);
    v->owned[v->len] = 0;
    v->text = v->owned;
  } else if (!memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'E', n) &&
             parse_int64((const char *)s, n, &v->i)) {
    v->type = SQLITE_INTEGER;
  } else {
    v->type = SQLITE_FLOAT;
    v->r = text_double((const char *)s, n);
  }
}

/* Sets the result to v and takes its text. */
static void sql_value_result(sqlite3_context *ctx, sql_value *v) {
  switch (v->type) {
  case SQLITE_INTEGER: sqlite3_result_int64(ctx, v->i); break;
  case SQLITE_FLOAT: sqlite3_result_double(ctx, v->r); break;
  case SQLITE_TEXT:
    if (v->owned) sqlite3_result_text64(ctx, v->owned, v->len, sqlite3_free, SQLITE_UTF8);
    else sqlite3_result_text64(ctx, v->text, v->len, SQLITE_TRANSIENT, SQLITE_UTF8);
    v->owned = NULL;
    break;
  default: sqlite3_result_null(ctx);
  }
  sqlite3_free(v->owned);
}

/* A registry format's BLOB column: its bytes are hex digits in the JSON.
** 0 (and no result) when the text is not hex digits. */
static int hex_blob_result(sqlite3_context *ctx, sql_value *v) {
  unsigned char *bytes = sqlite3_malloc64(v->len / 2 + 1);
  int hex = bytes && !format_hex_decode(v->text, v->len, bytes);
  if (hex) sqlite3_result_blob64(ctx, bytes, v->len / 2, sqlite3_free);
  else sqlite3_free(bytes);
  if (hex) sqlite3_free(v->owned);
  return hex;
}

void format_json_value(const char *json, size_t len, sql_value *v) {
  json_sql_value((const unsigned char *)json, (const unsigned char *)json + len, v);
}

void sql_value_clear(sql_value *v) {
  sqlite3_free(v->owned);
  memset(v, 0, sizeof *v);
}

void format_value_result(sqlite3_context *ctx, const typed_column *col, const sql_value *value) {
  sql_value v = *value;
  v.owned = NULL; /* borrowed: the text stays the caller's */
  if (col->hex_blob && v.type == SQLITE_TEXT && hex_blob_result(ctx, &v)) return;
  apply_affinity(col->affinity, &v);
  sql_value_result(ctx, &v);
}

void format_typed_result(sqlite3_context *ctx, const typed_column *col, const void *json, size_t len,
                         const json_index *index) {
  const unsigned char *end, *at = json ? json_locate(json, len, index, col->path, &end) : NULL;
  if (!at) {
    sqlite3_result_null(ctx);
    return;
  }
  sql_value v;
  json_sql_value(at, end, &v);
  format_value_result(ctx, col, &v);
  sql_value_clear(&v);
}

/* The bytes of a TEXT value without the copy sqlite3_value_text() makes
** to add a terminator (the result of printf() and the like has none):
** sqlite3_value_bytes() first, which turns UTF-16 text into UTF-8. */
static const void *value_text_bytes(sqlite3_value *v, size_t *len) {
  if (sqlite3_value_type(v) != SQLITE_TEXT) {
    const void *text = sqlite3_value_text(v);
    *len = (size_t)sqlite3_value_bytes(v);
    return text;
  }
  *len = (size_t)sqlite3_value_bytes(v);
  return sqlite3_value_blob(v);
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
    *data = value_text_bytes(v, len);
  }
  if (!*data && *len == 0) *data = "";
  long long at = f == KAFKA_FORMAT_JSON ? json_error_at(*data, *len) : -1;
  if (at < 0) return SQLITE_OK;
  *err = sqlite3_mprintf("kafka: %s is not valid JSON (the table's %s format is json): error at "
                         "byte %lld of %lld", what, what, at, (long long)*len);
  return SQLITE_ERROR;
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

/* The JSON node for one typed column's SQL value (see format.h), under the
** column's affinity as SQLite applies it to a table column (which it does
** not do for a virtual table's INSERT). */
cJSON *format_typed_json(const typed_column *col, sqlite3_value *value, char **err) {
  if (col->hex_blob && sqlite3_value_type(value) == SQLITE_BLOB) return hex_json(value);
  sql_value v = {.type = sqlite3_value_type(value)};
  if (v.type == SQLITE_INTEGER) v.i = sqlite3_value_int64(value);
  else if (v.type == SQLITE_FLOAT) v.r = sqlite3_value_double(value);
  else if (v.type == SQLITE_TEXT) v.text = (const char *)sqlite3_value_text(value);
  if (v.type == SQLITE_TEXT) v.len = (size_t)sqlite3_value_bytes(value);
  apply_affinity(col->affinity, &v);
  const char *why = "a BLOB"; /* NULL once the value can go into JSON */
  char number[32];
  cJSON *node = NULL;
  switch (v.type) {
  case SQLITE_INTEGER:
    why = NULL;
    snprintf(number, sizeof number, "%lld", (long long)v.i);
    node = cJSON_CreateRaw(number);
    break;
  case SQLITE_FLOAT:
    why = isfinite(v.r) ? NULL : "a non-finite REAL";
    sqlite3_snprintf(sizeof number, number, "%!.17g", v.r);
    if (!why) node = cJSON_CreateRaw(number);
    break;
  case SQLITE_TEXT:
    why = v.text && utf8_valid((const unsigned char *)v.text, v.len) ? NULL : "text that is not UTF-8";
    if (!why) node = cJSON_CreateString(v.text);
    break;
  }
  sqlite3_free(v.owned);
  if (why) *err = sqlite3_mprintf("kafka: column %s: %s cannot go into a JSON value", col->name, why);
  return node;
}

/* The object under which path's last step goes, created as needed; *leaf
** is that last step's name. Only member steps ($.a.b) can be composed. */
static cJSON *compose_parent(cJSON *root, const char *path, char *leaf, size_t size) {
  if (*path++ != '$') return NULL;
  cJSON *node = root;
  json_step step;
  int rc = json_path_step(&path, &step);
  while (rc > 0 && step.name && step.len < size) {
    snprintf(leaf, size, "%.*s", (int)step.len, step.name);
    if ((rc = json_path_step(&path, &step)) == 0) return node;
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
