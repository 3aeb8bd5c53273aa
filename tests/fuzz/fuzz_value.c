/*
** libFuzzer target: decoding a message value (ext/format.c). The input is
** a `columns` option on its first line and the value's bytes after it.
** The value goes through what a SELECT does with it, inside a real
** in-memory SQLite (typed columns need a sqlite3_context and may run
** json_extract() on the connection): utf8_valid() against a byte-at-a-time
** reference, format_result() in each format, format_parse_value() and
** format_typed_result() for each typed column.
*/
#include "format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sqlite3 *db;
static sqlite3_stmt *decode;
static kafka_options opts;

/* The length of the UTF-8 sequence at s[0..n-1] (RFC 3629, no NUL), or 0. */
static size_t utf8_char(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len = c == 0 ? 0 : c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
  if (!len || len > n) return 0;
  unsigned cp = len == 1 ? c : c & (0x7F >> len);
  for (size_t k = 1; k < len; k++) {
    if ((s[k] & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (s[k] & 0x3F);
  }
  static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

static int utf8_reference(const unsigned char *s, size_t n) {
  for (size_t i = 0, len; i < n; i += len)
    if (!(len = utf8_char(s + i, n - i))) return 0;
  return 1;
}

/* fz_decode(value, how): how < 0 is format_result() in format -how - 1,
** how >= 0 is typed column number how. */
static void fz_decode(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const void *value = sqlite3_value_blob(argv[0]);
  size_t len = (size_t)sqlite3_value_bytes(argv[0]);
  int how = sqlite3_value_int(argv[1]);
  if (how < 0) {
    format_result(ctx, (kafka_format)(-how - 1), value ? value : "", len);
    return;
  }
  const char *why = NULL;
  cJSON *root = format_parse_value(value ? value : "", len, &why);
  if (!root && !why) abort(); /* not JSON, and no reason in the error column */
  format_typed_result(ctx, &opts.columns[how], root, value, len);
  cJSON_Delete(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc; (void)argv;
  if (sqlite3_open(":memory:", &db) ||
      sqlite3_create_function(db, "fz_decode", 2, SQLITE_UTF8, NULL, fz_decode, NULL, NULL) ||
      sqlite3_prepare_v2(db, "SELECT fz_decode(?1, ?2)", -1, &decode, NULL))
    abort();
  return 0;
}

static int run(const uint8_t *value, size_t len, int how) {
  sqlite3_bind_blob64(decode, 1, value, len, SQLITE_STATIC);
  sqlite3_bind_int(decode, 2, how);
  if (sqlite3_step(decode) != SQLITE_ROW) abort();
  return sqlite3_column_type(decode, 0);
}

static void check_format_result(const uint8_t *value, size_t len, kafka_format f, int valid) {
  int type = run(value, len, -(int)f - 1);
  int want = f != KAFKA_FORMAT_BLOB && valid ? SQLITE_TEXT : SQLITE_BLOB;
  const void *got = type == SQLITE_TEXT ? (const void *)sqlite3_column_text(decode, 0) : sqlite3_column_blob(decode, 0);
  /* Never mangled: the same bytes, as TEXT exactly when they are UTF-8. */
  if (type != want || (size_t)sqlite3_column_bytes(decode, 0) != len || (len && memcmp(got, value, len))) abort();
  sqlite3_reset(decode);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int valid = utf8_valid(data, size);
  if (valid != utf8_reference(data, size)) {
    fprintf(stderr, "utf8_valid() says %d, the reference %d\n", valid, !valid);
    abort();
  }
  for (kafka_format f = KAFKA_FORMAT_TEXT; f <= KAFKA_FORMAT_JSON; f++)
    check_format_result(data, size, f, valid);

  const uint8_t *nl = memchr(data, '\n', size);
  if (!nl) return 0;
  char *arg = sqlite3_mprintf("columns=%.*s", (int)(nl - data), (const char *)data);
  const char *argv[] = {arg};
  char *err = NULL;
  options_init(&opts);
  if (!memchr(data, 0, (size_t)(nl - data)) && options_parse_args(&opts, 1, argv, &err) == SQLITE_OK) {
    const uint8_t *value = nl + 1;
    size_t len = size - (size_t)(value - data);
    for (int i = 0; i < opts.n_columns; i++) {
      int type = run(value, len, i);
      if (opts.columns[i].affinity == SQLITE_TEXT && type != SQLITE_TEXT && type != SQLITE_NULL) abort();
      sqlite3_reset(decode);
    }
  }
  sqlite3_free(err);
  sqlite3_free(arg);
  options_free(&opts);
  return 0;
}
