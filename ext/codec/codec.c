/*
** Codecs: which codec serves a format, and the Confluent wire format's
** framing (magic byte 0, then the schema id, 4 bytes big-endian) around
** every codec payload.
*/
#include "base.h"
#include "codec.h"

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

/* The end of the JSON value at p: the ',' or closing bracket after it
** at its level (the text is well-formed: a decode made it). */
static const char *skip_value(const char *p, const char *end) {
  int depth = 0;
  for (; p < end; p++) {
    if (*p == '"') {
      for (p++; p < end && *p != '"'; p++) p += *p == '\\';
    } else if (*p == '{' || *p == '[') {
      depth++;
    } else if (*p == '}' || *p == ']') {
      if (depth-- == 0) return p;
    } else if (*p == ',' && depth == 0) {
      return p;
    }
  }
  return end;
}

const char *codec_json_member(const char *json, size_t len, const char *name, size_t *value_len) {
  const char *p = json, *end = json + len;
  size_t n = strlen(name);
  while (p < end && *p != '{') p++;
  for (p++; p < end;) {
    while (p < end && *p != '"' && *p != '}') p++;
    if (p >= end || *p == '}') return NULL;
    const char *key = ++p;
    while (p < end && *p != '"') p += (*p == '\\') + 1;
    int match = (size_t)(p - key) == n && !memcmp(key, name, n);
    for (p++; p < end && *p != ':'; p++) {}
    const char *value = ++p;
    while (value < end && (*value == ' ' || *value == '\n' || *value == '\t' || *value == '\r')) value++;
    p = skip_value(value, end);
    if (match) {
      const char *last = p;
      while (last > value && (last[-1] == ' ' || last[-1] == '\n' || last[-1] == '\t' || last[-1] == '\r')) last--;
      *value_len = (size_t)(last - value);
      return value;
    }
    if (p < end && *p == ',') p++;
  }
  return NULL;
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
