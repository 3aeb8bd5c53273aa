/*
** A driver of ext/codec/protobuf.cc through its C header (include/protobuf.h),
** for tests/test_protobuf_unit.py: each run compiles one .proto file, its
** imports read from the same directory, and does one thing.
**
**   protobuf_unit columns DIR FILE [MESSAGE]      the message and its columns
**   protobuf_unit decode  DIR FILE HEX            the payload's JSON
**   protobuf_unit encode  DIR FILE MESSAGE JSON   the payload in hex ('-': first message)
**   protobuf_unit threads DIR FILE HEX N          decodes HEX N times on each of 4 threads
**
** Output goes to stdout; a failure prints "error: <why>" and exits 1.
*/
#include "protobuf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The import resolver: reads DIR/name; "missing" names are left out. */
static int read_import(void *dir, const char *name, char **text, char **err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", (const char *)dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    *err = strdup("no such subject reference");
    return -1;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  *text = calloc(1, (size_t)n + 1);
  size_t got = fread(*text, 1, (size_t)n, f);
  fclose(f);
  (*text)[got] = 0;
  return 0;
}

static int failed(char *err) {
  printf("error: %s\n", err ? err : "(no reason given)");
  free(err);
  return 1;
}

static unsigned char *from_hex(const char *hex, size_t *len) {
  *len = strlen(hex) / 2;
  unsigned char *bytes = malloc(*len + 1);
  for (size_t i = 0; i < *len; i++) {
    unsigned int byte;
    sscanf(hex + 2 * i, "%2x", &byte);
    bytes[i] = (unsigned char)byte;
  }
  return bytes;
}

static int columns(const pb_schema *schema, const char *name) {
  char *err = NULL;
  const pb_message *m = pb_schema_message(schema, name, &err);
  if (!m) return failed(err);
  printf("%s\n", pb_message_name(m));
  for (int i = 0; i < pb_message_field_count(m); i++)
    printf("%s %s\n", pb_message_field_name(m, i), pb_message_field_sql_type(m, i));
  return 0;
}

static int decode(const pb_schema *schema, const char *hex) {
  size_t len, json_len;
  char *err = NULL;
  unsigned char *payload = from_hex(hex, &len);
  char *json = pb_decode(schema, payload, len, NULL, &json_len, &err);
  free(payload);
  if (!json) return failed(err);
  printf("%s\n", json);
  int ok = strlen(json) == json_len;
  free(json);
  return ok ? 0 : failed(strdup("json_len is not the JSON's length"));
}

static int encode(const pb_schema *schema, const char *name, const char *json) {
  char *err = NULL;
  const pb_message *m = pb_schema_message(schema, strcmp(name, "-") ? name : NULL, &err);
  if (!m) return failed(err);
  size_t len;
  unsigned char *payload = pb_encode(m, json, strlen(json), NULL, &len, &err);
  if (!payload) return failed(err);
  for (size_t i = 0; i < len; i++) printf("%02x", payload[i]);
  printf("\n");
  free(payload);
  return 0;
}

typedef struct decode_job {
  const pb_schema *schema;
  const unsigned char *payload;
  size_t len;
  int times;
  char *first; /* the first JSON, that every other must equal */
  int mismatches;
} decode_job;

static void *decode_many(void *arg) {
  decode_job *job = arg;
  for (int i = 0; i < job->times; i++) {
    size_t n;
    char *err = NULL;
    char *json = pb_decode(job->schema, job->payload, job->len, NULL, &n, &err);
    if (!json || strcmp(json, job->first)) job->mismatches++;
    free(json);
    free(err);
  }
  return NULL;
}

/* The schema is shared by every thread of the process: decoding on four
** threads at once must give the same JSON every time. */
static int threads(const pb_schema *schema, const char *hex, int times) {
  size_t len, n;
  char *err = NULL;
  unsigned char *payload = from_hex(hex, &len);
  char *first = pb_decode(schema, payload, len, NULL, &n, &err);
  if (!first) return failed(err);
  decode_job jobs[4];
  pthread_t ids[4];
  for (int t = 0; t < 4; t++) {
    jobs[t] = (decode_job){schema, payload, len, times, first, 0};
    pthread_create(&ids[t], NULL, decode_many, &jobs[t]);
  }
  int mismatches = 0;
  for (int t = 0; t < 4; t++) {
    pthread_join(ids[t], NULL);
    mismatches += jobs[t].mismatches;
  }
  printf("%d decodes, %d mismatches\n", 4 * times, mismatches);
  free(first);
  free(payload);
  return mismatches != 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s columns|decode|encode|threads DIR FILE ...\n", argv[0]);
    return 2;
  }
  char *text = NULL, *err = NULL;
  if (read_import(argv[2], argv[3], &text, &err)) return failed(err);
  pb_schema *schema = pb_schema_compile(argv[3], text, read_import, argv[2], &err);
  free(text);
  if (!schema) return failed(err);
  int rc = 2;
  const char *cmd = argv[1];
  if (!strcmp(cmd, "columns")) rc = columns(schema, argc > 4 ? argv[4] : NULL);
  else if (!strcmp(cmd, "decode") && argc == 5) rc = decode(schema, argv[4]);
  else if (!strcmp(cmd, "encode") && argc == 6) rc = encode(schema, argv[4], argv[5]);
  else if (!strcmp(cmd, "threads") && argc == 6) rc = threads(schema, argv[4], atoi(argv[5]));
  pb_schema_free(schema);
  return rc;
}
