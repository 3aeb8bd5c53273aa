/*
** Codecs: which codec serves a format, and the Confluent wire format's
** framing (magic byte 0, then the schema id, 4 bytes big-endian) around
** every codec payload.
*/
#include "base.h"
#include "codec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

extern const codec avro_codec;
extern const codec jsonschema_codec;
extern const codec protobuf_codec; /* ext/codec/protobuf_codec.c */
extern const codec msgpack_codec;

const codec *codec_for(kafka_format f) {
  switch (f) {
  case KAFKA_FORMAT_AVRO: return &avro_codec;
  case KAFKA_FORMAT_JSONSCHEMA: return &jsonschema_codec;
  case KAFKA_FORMAT_PROTOBUF: return &protobuf_codec;
  case KAFKA_FORMAT_MSGPACK: return &msgpack_codec;
  default: return NULL;
  }
}

int codec_frame_read(const void *data, size_t len, int32_t *id, const void **payload,
                     size_t *payload_len, const char **why) {
  const unsigned char *p = data;
  if (!p || len < CODEC_FRAME_SIZE || p[0] != 0) {
    *why = !p || len == 0 ? "message is empty, not in the schema registry wire format"
           : p[0] != 0    ? "message is not in the schema registry wire format (first byte is not 0)"
                          : "message is shorter than the wire format's 5-byte header";
    return -1;
  }
  *id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4]);
  *payload = p + CODEC_FRAME_SIZE;
  *payload_len = len - CODEC_FRAME_SIZE;
  return 0;
}

unsigned char *codec_frame_write(int32_t id, const void *payload, size_t len) {
  unsigned char *out = sqlite3_malloc64(CODEC_FRAME_SIZE + len);
  if (!out) return NULL;
  uint32_t u = (uint32_t)id;
  out[0] = 0;
  out[1] = (unsigned char)(u >> 24);
  out[2] = (unsigned char)(u >> 16);
  out[3] = (unsigned char)(u >> 8);
  out[4] = (unsigned char)u;
  if (len) memcpy(out + CODEC_FRAME_SIZE, payload, len);
  return out;
}

static void path_text(sqlite3_str *out, const codec_path *p) {
  if (!p) return;
  path_text(out, p->up);
  if (!p->name) sqlite3_str_appendf(out, "[%llu]", (unsigned long long)p->index);
  else sqlite3_str_appendf(out, "%s%s", p->up ? "." : "", p->name);
}

int codec_field_error(char **err, const char *codec, const codec_path *p, const char *fmt, ...) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  sqlite3_str_appendf(s, "kafka: %s %s", codec, p ? "field '" : "value: ");
  if (p) {
    path_text(s, p);
    sqlite3_str_appendall(s, "': ");
  }
  va_list ap;
  va_start(ap, fmt);
  sqlite3_str_vappendf(s, fmt, ap);
  va_end(ap);
  sqlite3_free(*err);
  *err = sqlite3_str_finish(s);
  return SQLITE_ERROR;
}

const char *codec_json_kind(const cJSON *j) {
  /* a raw node is a number kept as its exact text */
  return cJSON_IsNull(j) ? "null" : cJSON_IsBool(j) ? "a boolean" : cJSON_IsNumber(j) || cJSON_IsRaw(j) ? "a number"
       : cJSON_IsString(j) ? "a string" : cJSON_IsArray(j) ? "an array" : "an object";
}

/* A JSON number's text for an error: an exact integer's own digits, else
** the shortest that reads back as its double (a REAL column's raw text
** has 17 digits: 1e39 shows as 1e+39, not 9.9999999999999994e+38). */
const char *codec_number_text(const cJSON *j, char *buf, size_t size) {
  if (cJSON_IsRaw(j) && !strpbrk(j->valuestring, ".eE")) return j->valuestring;
  double d = cJSON_IsRaw(j) ? strtod(j->valuestring, NULL) : j->valuedouble;
  if (d == floor(d) && fabs(d) < 1e17 && !cJSON_IsRaw(j)) { /* a whole number as its digits */
    snprintf(buf, size, "%.0f", d);
    return buf;
  }
  snprintf(buf, size, "%.15g", d);
  if (strtod(buf, NULL) != d) snprintf(buf, size, "%.17g", d);
  return buf;
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
int codec_keep_big_integers(cJSON *node, const char **p, const char *end) {
  for (; node; node = node->next) {
    if (node->child && codec_keep_big_integers(node->child, p, end)) return SQLITE_NOMEM;
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
