/*
** The msgpack codec (include/codec.h): MessagePack with msgpack-c, a
** format with no schema. A message is one MessagePack value, read as JSON
** text and written from it:
**   nil, boolean, string, array: themselves; integers exact (int64 and
**     uint64); floats (32 and 64 bits) as the shortest text that reads
**     back the same, NaN and the infinities as null (JSON has none);
**   a map whose keys are all strings: an object, unless its only key is
**     one of the markers below (then as a map of other keys);
**   bin: {"$bin": "<hex>"}, two hex digits a byte;
**   ext: {"$ext": [type, "<hex>"]};
**   any other map: {"$map": [[key, value], ...]}.
** Writing reverses it: each marker object gives back its bin, ext or map,
** integers go in the smallest form, other numbers as float 64. So a value
** read and written again gives the same MessagePack value (a float 32 comes
** back as a float 64 of the same number).
*/
#include "base.h"
#include "codec.h"

#include <msgpack.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

#define BIN_KEY "$bin"
#define EXT_KEY "$ext"
#define MAP_KEY "$map"

/* Deeper nesting is refused, as JSON's is (JSON_NESTING_LIMIT). */
#define MSGPACK_DEPTH JSON_NESTING_LIMIT

/* No schema: every table shares this one. */
struct codec_schema {
  int none;
};
static codec_schema no_schema;

static int msgpack_parse(const char *text, const char *message, const codec_imports *imports,
                         codec_schema **out, char **err) {
  (void)text, (void)message, (void)imports, (void)err;
  *out = &no_schema;
  return SQLITE_OK;
}

static int msgpack_parse_plain(const char *name, const char *text, const char *message,
                               const codec_imports *imports, codec_schema **out, char **err) {
  (void)name;
  return msgpack_parse(text, message, imports, out, err);
}

static void msgpack_release(codec_schema *s) { (void)s; }

static int msgpack_columns(const codec_schema *s, codec_column_fn add, void *arg, char **err) {
  (void)s, (void)add, (void)arg, (void)err;
  return SQLITE_OK;
}

/* ------------------------------------------------------ MessagePack to JSON -- */

static void hex_text(sqlite3_str *out, const char *bytes, size_t n) {
  static const char digits[] = "0123456789abcdef";
  sqlite3_str_appendchar(out, 1, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char b = (unsigned char)bytes[i];
    char pair[2] = {digits[b >> 4], digits[b & 15]};
    sqlite3_str_append(out, pair, 2);
  }
  sqlite3_str_appendchar(out, 1, '"');
}

/* A JSON string of UTF-8 text (checked by the caller). */
static void json_text(sqlite3_str *out, const char *s, size_t n) {
  static const char digits[] = "0123456789abcdef";
  sqlite3_str_appendchar(out, 1, '"');
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    sqlite3_str_append(out, s + run, (int)(i - run));
    run = i + 1;
    const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                      : c == '\t' ? "\\t" : NULL;
    if (esc) {
      sqlite3_str_appendall(out, esc);
    } else {
      char u[6] = {'\\', 'u', '0', '0', digits[c >> 4], digits[c & 15]};
      sqlite3_str_append(out, u, 6);
    }
  }
  sqlite3_str_append(out, s + run, (int)(n - run));
  sqlite3_str_appendchar(out, 1, '"');
}

/* The shortest text of a float that reads back as the same float. */
static void json_float(sqlite3_str *out, double v, int single) {
  if (!isfinite(v)) {
    sqlite3_str_appendall(out, "null");
    return;
  }
  char buf[40];
  for (int digits = single ? 6 : 15; digits <= 17; digits++) {
    snprintf(buf, sizeof buf, "%.*g", digits, v);
    double back = strtod(buf, NULL);
    if (single ? (float)back == (float)v : back == v) break;
  }
  /* A float stays a float: 1.0 is not written as the integer 1. */
  if (!strpbrk(buf, ".eEn")) strcat(buf, ".0");
  sqlite3_str_appendall(out, buf);
}

/* Non-zero when the map's keys are strings and none of them would read as a marker alone. */
static int plain_object(const msgpack_object_map *m) {
  for (uint32_t i = 0; i < m->size; i++)
    if (m->ptr[i].key.type != MSGPACK_OBJECT_STR) return 0;
  if (m->size != 1) return 1;
  const msgpack_object_str *k = &m->ptr[0].key.via.str;
  return !(k->size == 4 && (!memcmp(k->ptr, BIN_KEY, 4) || !memcmp(k->ptr, EXT_KEY, 4) || !memcmp(k->ptr, MAP_KEY, 4)));
}

/* Non-zero when the n bytes at s are UTF-8 (NUL characters allowed: JSON has \u0000). */
static int utf8_text(const char *s, size_t n) {
  for (const char *end = s + n; s && s < end;) {
    const char *nul = memchr(s, 0, (size_t)(end - s));
    size_t run = (size_t)((nul ? nul : end) - s);
    if (run && !utf8_valid((const unsigned char *)s, run)) return 0;
    s += run + (nul != NULL);
  }
  return 1;
}

static const char *to_json(sqlite3_str *out, const msgpack_object *o, int depth);

static const char *map_json(sqlite3_str *out, const msgpack_object_map *m, int depth) {
  int object = plain_object(m);
  sqlite3_str_appendall(out, object ? "{" : "{\"" MAP_KEY "\":[");
  for (uint32_t i = 0; i < m->size; i++) {
    if (i) sqlite3_str_appendchar(out, 1, ',');
    if (!object) sqlite3_str_appendchar(out, 1, '[');
    const char *why = to_json(out, &m->ptr[i].key, depth + 1);
    sqlite3_str_appendchar(out, 1, object ? ':' : ',');
    if (!why) why = to_json(out, &m->ptr[i].val, depth + 1);
    if (why) return why;
    if (!object) sqlite3_str_appendchar(out, 1, ']');
  }
  sqlite3_str_appendall(out, object ? "}" : "]}");
  return NULL;
}

/* Appends o as JSON; NULL, or why it cannot be (static text). */
static const char *to_json(sqlite3_str *out, const msgpack_object *o, int depth) {
  if (depth > MSGPACK_DEPTH) return "arrays and maps nest deeper than 1000 levels";
  switch (o->type) {
  case MSGPACK_OBJECT_NIL: sqlite3_str_appendall(out, "null"); return NULL;
  case MSGPACK_OBJECT_BOOLEAN: sqlite3_str_appendall(out, o->via.boolean ? "true" : "false"); return NULL;
  case MSGPACK_OBJECT_POSITIVE_INTEGER: sqlite3_str_appendf(out, "%llu", (unsigned long long)o->via.u64); return NULL;
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: sqlite3_str_appendf(out, "%lld", (long long)o->via.i64); return NULL;
  case MSGPACK_OBJECT_FLOAT32: json_float(out, o->via.f64, 1); return NULL;
  case MSGPACK_OBJECT_FLOAT64: json_float(out, o->via.f64, 0); return NULL;
  case MSGPACK_OBJECT_STR:
    if (!utf8_text(o->via.str.ptr, o->via.str.size)) return "a string is not UTF-8";
    json_text(out, o->via.str.ptr, o->via.str.size);
    return NULL;
  case MSGPACK_OBJECT_BIN:
    sqlite3_str_appendall(out, "{\"" BIN_KEY "\":");
    hex_text(out, o->via.bin.ptr, o->via.bin.size);
    sqlite3_str_appendchar(out, 1, '}');
    return NULL;
  case MSGPACK_OBJECT_EXT:
    sqlite3_str_appendf(out, "{\"" EXT_KEY "\":[%d,", (int)o->via.ext.type);
    hex_text(out, o->via.ext.ptr, o->via.ext.size);
    sqlite3_str_appendall(out, "]}");
    return NULL;
  case MSGPACK_OBJECT_ARRAY:
    sqlite3_str_appendchar(out, 1, '[');
    for (uint32_t i = 0; i < o->via.array.size; i++) {
      if (i) sqlite3_str_appendchar(out, 1, ',');
      const char *why = to_json(out, &o->via.array.ptr[i], depth + 1);
      if (why) return why;
    }
    sqlite3_str_appendchar(out, 1, ']');
    return NULL;
  case MSGPACK_OBJECT_MAP: return map_json(out, &o->via.map, depth);
  }
  return "an unknown MessagePack type";
}

/* Unpacks the one MessagePack value data holds into *u (destroyed by the
** caller either way); SQLITE_ERROR with *why (static) when it is not one. */
static int unpack_one(const void *data, size_t len, msgpack_unpacked *u, const char **why, size_t *used) {
  msgpack_unpacked_init(u);
  *used = 0;
  msgpack_unpack_return r = msgpack_unpack_next(u, data, len, used);
  *why = r == MSGPACK_UNPACK_NOMEM_ERROR ? "out of memory"
         : r == MSGPACK_UNPACK_CONTINUE  ? "not MessagePack: the value is cut short"
         : r != MSGPACK_UNPACK_SUCCESS   ? "not MessagePack"
                                         : NULL;
  return *why || *used != len ? SQLITE_ERROR : SQLITE_OK;
}

/* Why a message is not one MessagePack value (for unpack_one's failure). */
static char *unpack_error(const char *why, size_t used, size_t len) {
  if (why) return sqlite3_mprintf("%s", why);
  return sqlite3_mprintf("not one MessagePack value: %lld byte%s after the value at byte %lld",
                         (long long)(len - used), len - used == 1 ? "" : "s", (long long)used);
}

/* o as JSON text (sqlite3_malloc'd, *n bytes); NULL with *why. */
static char *json_of(const msgpack_object *o, size_t *n, const char **why) {
  sqlite3_str *out = sqlite3_str_new(NULL);
  *why = to_json(out, o, 0);
  if (!*why && sqlite3_str_errcode(out)) *why = "out of memory";
  *n = (size_t)sqlite3_str_length(out);
  char *text = sqlite3_str_finish(out);
  if (!*why) return text ? text : sqlite3_mprintf("");
  sqlite3_free(text);
  return NULL;
}

static int msgpack_decode(const codec_schema *writer, const void *data, size_t len, char **json, char **why) {
  (void)writer;
  msgpack_unpacked u;
  const char *bad;
  size_t used, n;
  int rc = unpack_one(data, len, &u, &bad, &used);
  if (rc) *why = unpack_error(bad, used, len);
  else if (!(*json = json_of(&u.data, &n, &bad))) *why = sqlite3_mprintf("%s", bad), rc = SQLITE_ERROR;
  msgpack_unpacked_destroy(&u);
  return rc;
}

/* ------------------------------------------------------ typed columns -- */

/* What to_json would refuse in o (NULL: nothing), without writing JSON. */
static const char *check(const msgpack_object *o, int depth) {
  if (depth > MSGPACK_DEPTH) return "arrays and maps nest deeper than 1000 levels";
  const char *why = NULL;
  if (o->type == MSGPACK_OBJECT_STR && !utf8_text(o->via.str.ptr, o->via.str.size)) return "a string is not UTF-8";
  for (uint32_t i = 0; o->type == MSGPACK_OBJECT_ARRAY && !why && i < o->via.array.size; i++)
    why = check(&o->via.array.ptr[i], depth + 1);
  for (uint32_t i = 0; o->type == MSGPACK_OBJECT_MAP && !why && i < o->via.map.size; i++)
    if (!(why = check(&o->via.map.ptr[i].key, depth + 1))) why = check(&o->via.map.ptr[i].val, depth + 1);
  return why;
}

/* The value of the first member `name` of a map shown as an object, or NULL. */
static const msgpack_object *member(const msgpack_object *o, const json_step *name) {
  if (o->type != MSGPACK_OBJECT_MAP || !plain_object(&o->via.map)) return NULL;
  for (uint32_t i = 0; i < o->via.map.size; i++) {
    const msgpack_object_str *k = &o->via.map.ptr[i].key.via.str;
    if (k->size == name->len && !memcmp(k->ptr, name->name, name->len)) return &o->via.map.ptr[i].val;
  }
  return NULL;
}

/* Sets *v to what json_extract() reads at path `rest` ("" or more steps)
** in o's JSON text; the text owned. */
static int cell(const msgpack_object *o, const char *rest, sql_value *v) {
  if (!*rest && o->type == MSGPACK_OBJECT_NIL) return SQLITE_OK;
  if (!*rest && (o->type == MSGPACK_OBJECT_BOOLEAN || o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
                 (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX))) {
    v->type = SQLITE_INTEGER;
    v->i = o->type == MSGPACK_OBJECT_BOOLEAN ? o->via.boolean : o->via.i64;
    return SQLITE_OK;
  }
  if (!*rest && o->type == MSGPACK_OBJECT_STR && !memchr(o->via.str.ptr, 0, o->via.str.size)) {
    v->owned = sqlite3_malloc64(o->via.str.size + 1);
    if (!v->owned) return SQLITE_NOMEM;
    if (o->via.str.size) memcpy(v->owned, o->via.str.ptr, o->via.str.size);
    v->owned[o->via.str.size] = 0;
    *v = (sql_value){.type = SQLITE_TEXT, .text = v->owned, .len = o->via.str.size, .owned = v->owned};
    return SQLITE_OK;
  }
  size_t n;
  const char *why;
  char *json = json_of(o, &n, &why), *path = sqlite3_mprintf("$%s", rest);
  const unsigned char *end = NULL, *at = json && path ? json_locate((unsigned char *)json, n, NULL, path, &end) : NULL;
  if (at) format_json_value((const char *)at, (size_t)(end - at), v);
  if (at && v->type == SQLITE_TEXT && !v->owned) { /* borrowed from json: copied */
    v->owned = sqlite3_malloc64(v->len + 1);
    if (v->owned) memcpy(v->owned, v->text, v->len), v->owned[v->len] = 0;
    v->text = v->owned;
  }
  int nomem = !json || !path || (v->type == SQLITE_TEXT && !v->owned);
  sqlite3_free(json);
  sqlite3_free(path);
  return nomem ? SQLITE_NOMEM : SQLITE_OK;
}

/* The wanted typed columns of a message: each column's first step found
** in the top-level map, the rest of its path (if any) in that member's
** JSON text alone (include/codec.h). */
static int msgpack_decode_columns(const codec_schema *writer, const void *data, size_t len, const typed_column *cols,
                                  int n, const unsigned char *wanted, sql_value *out, char **why) {
  (void)writer;
  json_step first[n > 0 ? n : 1];
  const char *rest[n > 0 ? n : 1];
  for (int i = 0; i < n; i++) {
    rest[i] = cols[i].path + 1;
    /* ($.x... only; not a marker's name: a map shown as a marker has it) */
    if (cols[i].path[0] != '$' || json_path_step(&rest[i], &first[i]) <= 0 || !first[i].name ||
        (first[i].len && first[i].name[0] == '$'))
      return SQLITE_NOTFOUND;
  }
  msgpack_unpacked u;
  const char *bad;
  size_t used;
  int rc = unpack_one(data, len, &u, &bad, &used);
  if (rc) *why = unpack_error(bad, used, len);
  else if ((bad = check(&u.data, 0))) *why = sqlite3_mprintf("%s", bad), rc = SQLITE_ERROR;
  for (int i = 0; i < n && !rc; i++) {
    const msgpack_object *o = wanted && !wanted[i] ? NULL : member(&u.data, &first[i]);
    if (o) rc = cell(o, rest[i], &out[i]);
  }
  msgpack_unpacked_destroy(&u);
  return rc;
}

/* ------------------------------------------------------ JSON to MessagePack -- */

/* A reader of JSON text that json_error_at() accepted. */
typedef struct json_reader {
  const unsigned char *p, *end;
  msgpack_packer pk;
  const char *why; /* a value that does not fit: static text */
} json_reader;

static void skip_space(json_reader *r) {
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static int write_bytes(void *data, const char *buf, size_t len) {
  sqlite3_str_append(data, buf, (int)len);
  return 0;
}

/* Decodes the JSON string at r->p (a valid token) into a new buffer of
** its UTF-8 bytes, NUL characters included. */
static char *read_string(json_reader *r, size_t *n) {
  const unsigned char *s = ++r->p;
  while (*r->p != '"') r->p += *r->p == '\\' ? 2 : 1;
  char *out = sqlite3_malloc64((size_t)(r->p - s) + 1);
  size_t len = 0;
  for (const unsigned char *q = s; out && q < r->p; q++) {
    if (*q != '\\') {
      out[len++] = (char)*q;
      continue;
    }
    q++;
    unsigned cp = 0;
    switch (*q) {
    case 'b': out[len++] = '\b'; continue;
    case 'f': out[len++] = '\f'; continue;
    case 'n': out[len++] = '\n'; continue;
    case 'r': out[len++] = '\r'; continue;
    case 't': out[len++] = '\t'; continue;
    case 'u': break;
    default: out[len++] = (char)*q; continue;
    }
    cp = (unsigned)strtoul((char[5]){(char)q[1], (char)q[2], (char)q[3], (char)q[4], 0}, NULL, 16);
    q += 4;
    if (cp >= 0xd800 && cp < 0xdc00 && q + 6 < r->p && q[1] == '\\' && q[2] == 'u') {
      unsigned lo = (unsigned)strtoul((char[5]){(char)q[3], (char)q[4], (char)q[5], (char)q[6], 0}, NULL, 16);
      if (lo >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        q += 6;
      }
    }
    if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd; /* a lone surrogate: as SQLite's JSON has it */
    if (cp < 0x80) {
      out[len++] = (char)cp;
    } else if (cp < 0x800) {
      out[len++] = (char)(0xc0 | cp >> 6);
      out[len++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out[len++] = (char)(0xe0 | cp >> 12);
      out[len++] = (char)(0x80 | ((cp >> 6) & 0x3f));
      out[len++] = (char)(0x80 | (cp & 0x3f));
    } else {
      out[len++] = (char)(0xf0 | cp >> 18);
      out[len++] = (char)(0x80 | ((cp >> 12) & 0x3f));
      out[len++] = (char)(0x80 | ((cp >> 6) & 0x3f));
      out[len++] = (char)(0x80 | (cp & 0x3f));
    }
  }
  r->p++;
  *n = len;
  if (!out) r->why = "out of memory";
  return out;
}

static void write_value(json_reader *r);

static void write_number(json_reader *r) {
  const unsigned char *s = r->p;
  while (r->p < r->end && strchr("+-0123456789.eE", *r->p)) r->p++;
  char buf[64] = {0}, *num = (size_t)(r->p - s) < sizeof buf ? buf : sqlite3_malloc64((size_t)(r->p - s) + 1);
  if (!num) {
    r->why = "out of memory";
    return;
  }
  memcpy(num, s, (size_t)(r->p - s));
  num[r->p - s] = 0;
  int integral = !strpbrk(num, ".eE");
  errno = 0;
  if (integral && *num == '-') {
    long long v = strtoll(num, NULL, 10);
    if (!errno) msgpack_pack_int64(&r->pk, v);
  } else if (integral) {
    unsigned long long v = strtoull(num, NULL, 10);
    if (!errno) msgpack_pack_uint64(&r->pk, v);
  }
  if (!integral || errno) msgpack_pack_double(&r->pk, strtod(num, NULL)); /* past 64 bits: a float, as JSON reads it */
  if (num != buf) sqlite3_free(num);
}

/* Hex digits (a JSON string token at r->p) as bytes; NULL with r->why. */
static unsigned char *read_hex(json_reader *r, size_t *n) {
  skip_space(r);
  if (r->p >= r->end || *r->p != '"') {
    r->why = "a marker's bytes must be a string of hex digits";
    return NULL;
  }
  size_t len;
  char *hex = read_string(r, &len);
  unsigned char *bytes = hex && len % 2 == 0 ? sqlite3_malloc64(len / 2 + 1) : NULL;
  if (hex && bytes && format_hex_decode(hex, len, bytes)) {
    sqlite3_free(bytes);
    bytes = NULL;
  }
  sqlite3_free(hex);
  if (!bytes && !r->why) r->why = "a marker's bytes must be a string of hex digits, two a byte";
  *n = len / 2;
  return bytes;
}

/* {"$bin": "hex"}, {"$ext": [type, "hex"]}, {"$map": [[k, v], ...]}: r->p
** is after the marker's colon. */
static void write_marker(json_reader *r, const char *marker) {
  size_t n = 0;
  if (!strcmp(marker, BIN_KEY)) {
    unsigned char *b = read_hex(r, &n);
    if (b) msgpack_pack_bin_with_body(&r->pk, b, n);
    sqlite3_free(b);
    return;
  }
  skip_space(r);
  if (r->p >= r->end || *r->p != '[') {
    r->why = !strcmp(marker, EXT_KEY) ? "{\"$ext\": ...} must hold [type, \"hex\"]" : "{\"$map\": ...} must hold [[key, value], ...]";
    return;
  }
  r->p++;
  skip_space(r);
  if (!strcmp(marker, EXT_KEY)) {
    char *end;
    long type = strtol((const char *)r->p, &end, 10);
    r->p = (const unsigned char *)end;
    skip_space(r);
    if (type < -128 || type > 127 || r->p >= r->end || *r->p != ',') {
      r->why = "{\"$ext\": [type, \"hex\"]}: type must be an integer from -128 to 127";
      return;
    }
    r->p++;
    unsigned char *b = read_hex(r, &n);
    if (b) msgpack_pack_ext_with_body(&r->pk, b, n, (int8_t)type);
    sqlite3_free(b);
    skip_space(r);
    if (!r->why && *r->p++ != ']') r->why = "{\"$ext\": [type, \"hex\"]} has more than two items";
    return;
  }
  /* $map: the pairs are packed aside, counted, then copied after the header */
  sqlite3_str *scratch = sqlite3_str_new(NULL);
  msgpack_packer outer = r->pk;
  msgpack_packer_init(&r->pk, scratch, write_bytes);
  uint32_t pairs = 0;
  while (!r->why && r->p < r->end && *r->p != ']') {
    if (*r->p != '[') {
      r->why = "{\"$map\": [[key, value], ...]}: each pair must be an array of two values";
      break;
    }
    r->p++;
    write_value(r);
    skip_space(r);
    if (!r->why && *r->p++ == ',') write_value(r);
    else if (!r->why) r->why = "{\"$map\": [[key, value], ...]}: a pair lacks its value";
    skip_space(r);
    if (!r->why && *r->p++ != ']') r->why = "{\"$map\": [[key, value], ...]}: a pair has more than two values";
    pairs++;
    skip_space(r);
    if (*r->p == ',') r->p++, skip_space(r);
  }
  r->p++;
  r->pk = outer;
  msgpack_pack_map(&r->pk, pairs);
  int n_bytes = sqlite3_str_length(scratch);
  char *bytes = sqlite3_str_finish(scratch);
  if (bytes) r->pk.callback(r->pk.data, bytes, (size_t)n_bytes);
  sqlite3_free(bytes);
}

/* The number of members or values of the object or array whose text
** (valid JSON) goes on at p, after its '{' or '['. */
static uint32_t count_items(const unsigned char *p, const unsigned char *end) {
  uint32_t commas = 0;
  int depth = 0, empty = 1;
  for (; p < end; p++) {
    if (*p == '"') {
      for (p++; *p != '"'; p++) p += *p == '\\';
    } else if (*p == '}' || *p == ']') {
      if (depth-- == 0) break;
    } else if (*p == ',' && depth == 0) {
      commas++;
    } else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
      continue;
    }
    depth += *p == '{' || *p == '[';
    empty = 0;
  }
  return empty ? 0 : commas + 1;
}

/* The marker an object starting at r->p (after '{') is, when its only member is one. */
static const char *marker_of(json_reader *r) {
  static const char *const markers[] = {BIN_KEY, EXT_KEY, MAP_KEY};
  const unsigned char *p = r->p;
  while (p < r->end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  for (size_t i = 0; i < sizeof markers / sizeof *markers; i++) {
    size_t n = strlen(markers[i]);
    if (p + n + 2 > r->end || p[0] != '"' || memcmp(p + 1, markers[i], n) || p[n + 1] != '"') continue;
    /* only member: the object ends after its value */
    json_reader probe = {p + n + 2, r->end, r->pk, NULL};
    skip_space(&probe);
    if (probe.p >= probe.end || *probe.p != ':' || count_items(r->p, r->end) != 1) return NULL;
    r->p = probe.p + 1;
    return markers[i];
  }
  return NULL;
}

static void write_object(json_reader *r) {
  const char *marker = marker_of(r);
  if (marker) {
    write_marker(r, marker);
    skip_space(r);
    r->p++; /* the object's '}' */
    return;
  }
  msgpack_pack_map(&r->pk, count_items(r->p, r->end));
  for (skip_space(r); !r->why && *r->p != '}';) {
    size_t len;
    char *name = read_string(r, &len);
    if (name) msgpack_pack_str_with_body(&r->pk, name, len);
    sqlite3_free(name);
    skip_space(r);
    r->p++; /* ':' */
    write_value(r);
    skip_space(r);
    if (*r->p == ',') r->p++, skip_space(r);
  }
  r->p++;
}

static void write_array(json_reader *r) {
  msgpack_pack_array(&r->pk, count_items(r->p, r->end));
  for (skip_space(r); !r->why && *r->p != ']';) {
    write_value(r);
    skip_space(r);
    if (*r->p == ',') r->p++, skip_space(r);
  }
  r->p++;
}

static void write_value(json_reader *r) {
  skip_space(r);
  if (r->why || r->p >= r->end) return;
  size_t len;
  char *s;
  switch (*r->p) {
  case '{': r->p++; write_object(r); return;
  case '[': r->p++; write_array(r); return;
  case '"':
    s = read_string(r, &len);
    if (s) msgpack_pack_str_with_body(&r->pk, s, len);
    sqlite3_free(s);
    return;
  case 't': r->p += 4; msgpack_pack_true(&r->pk); return;
  case 'f': r->p += 5; msgpack_pack_false(&r->pk); return;
  case 'n': r->p += 4; msgpack_pack_nil(&r->pk); return;
  default: write_number(r);
  }
}

static int msgpack_encode(const codec_schema *s, const char *json, size_t len, void **out, size_t *out_len,
                          char **err) {
  (void)s;
  long long at = json_error_at(json, len);
  if (at >= 0) {
    *err = sqlite3_mprintf("kafka: value is not valid JSON (error at byte %lld of %lld): format msgpack is "
                           "written from JSON", at, (long long)len);
    return SQLITE_ERROR;
  }
  sqlite3_str *bytes = sqlite3_str_new(NULL);
  json_reader r = {(const unsigned char *)json, (const unsigned char *)json + len, {0}, NULL};
  msgpack_packer_init(&r.pk, bytes, write_bytes);
  write_value(&r);
  int n = sqlite3_str_length(bytes);
  if (!r.why && sqlite3_str_errcode(bytes)) r.why = "out of memory";
  *out = sqlite3_str_finish(bytes);
  *out_len = (size_t)n;
  if (!r.why) return SQLITE_OK;
  sqlite3_free(*out);
  *out = NULL;
  *err = sqlite3_mprintf("kafka: MessagePack: %s", r.why);
  return SQLITE_ERROR;
}

const codec msgpack_codec = {
    .name = "msgpack",
    .registry_type = NULL,
    .bytes_member = BIN_KEY,
    .parse = msgpack_parse,
    .parse_plain = msgpack_parse_plain,
    .release = msgpack_release,
    .columns = msgpack_columns,
    .decode = msgpack_decode,
    .encode = msgpack_encode,
    .decode_columns = msgpack_decode_columns,
};
