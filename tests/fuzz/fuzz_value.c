/*
** libFuzzer target: decoding a message value (ext/base/format.c, ext/base/jsontext.c).
** The input is a `columns` option on its first line and the value's bytes
** after it. The value goes through what a SELECT does with it, inside a
** real in-memory SQLite (results need a sqlite3_context): utf8_valid()
** against a byte-at-a-time reference, format_result() in each format,
** format_check_value() against SQLite's json_valid(), and
** format_typed_result() for each typed column against the oracle: SQLite's
** json_extract() of the same path stored in a plain table column of the
** same declared type.
*/
#include "base.h"

#include <math.h>

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
  /* With and without the index: the same answer. */
  json_index index;
  int json = !format_check_value(value, len, &index);
  format_typed_result(ctx, &opts.columns[how], json ? value : NULL, len, how % 2 ? &index : NULL);
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

/* The path in the form SQLite 3.40's json_extract() takes (."name" for
** ["name"]), or NULL. */
static char *oracle_path(const char *path) {
  sqlite3_str *out = sqlite3_str_new(NULL);
  sqlite3_str_appendall(out, "$");
  json_step step;
  int rc;
  path++;
  while ((rc = json_path_step(&path, &step)) > 0) {
    if (step.name) sqlite3_str_appendf(out, ".\"%.*s\"", (int)step.len, step.name);
    else sqlite3_str_appendf(out, "[%ld]", step.index);
  }
  char *text = sqlite3_str_finish(out);
  if (rc < 0) {
    sqlite3_free(text);
    return NULL;
  }
  return text;
}

static const char *sqlite3_type_name(int type) {
  static const char *const names[] = {"?", "INTEGER", "REAL", "TEXT", "BLOB", "NULL"};
  return names[type >= 1 && type <= 5 ? type : 0];
}

static int same_real(double a, double b) {
  return a == b || (isnan(a) && isnan(b)) || fabs(a - b) <= 1e-15 * fmax(fabs(a), fabs(b));
}

/* The decoded column (the current row of `decode`) against a plain table
** column of the same declared type receiving json_extract() of the path.
** SQLite's json_extract() is the reference where it answers; it differs
** by design on keys written with escapes (3.40 compares them undecoded)
** and on lone surrogates (it writes invalid UTF-8; the column gets U+FFFD),
** and its decimal conversion may differ in the last bit. */
static void check_against_oracle(const uint8_t *value, size_t len, const typed_column *col) {
  char *path = oracle_path(col->path);
  char *create = sqlite3_mprintf("DROP TABLE IF EXISTS temp.o; CREATE TEMP TABLE o(c %s)", col->type);
  sqlite3_stmt *insert = NULL, *select = NULL;
  if (path && !sqlite3_exec(db, create, NULL, NULL, NULL) &&
      !sqlite3_prepare_v2(db, "INSERT INTO o SELECT json_extract(?1, ?2)", -1, &insert, NULL) &&
      !sqlite3_bind_text64(insert, 1, (const char *)value, len, SQLITE_STATIC, SQLITE_UTF8) &&
      !sqlite3_bind_text(insert, 2, path, -1, SQLITE_STATIC) && sqlite3_step(insert) == SQLITE_DONE &&
      !sqlite3_prepare_v2(db, "SELECT c FROM o", -1, &select, NULL) && sqlite3_step(select) == SQLITE_ROW) {
    int want = sqlite3_column_type(select, 0), got = sqlite3_column_type(decode, 0);
    const unsigned char *text = sqlite3_column_text(select, 0);
    int escapes = memchr(value, '\\', len) != NULL;
    int same = want == got || (escapes && want == SQLITE_NULL) ||
               (want == SQLITE_TEXT && !utf8_valid(text, (size_t)sqlite3_column_bytes(select, 0)));
    if (same && want == got && want == SQLITE_INTEGER) same = sqlite3_column_int64(select, 0) == sqlite3_column_int64(decode, 0);
    if (same && want == got && want == SQLITE_FLOAT) same = same_real(sqlite3_column_double(select, 0), sqlite3_column_double(decode, 0));
    if (same && want == got && want == SQLITE_TEXT && utf8_valid(text, (size_t)sqlite3_column_bytes(select, 0))) {
      const char *a = (const char *)sqlite3_column_text(select, 0), *b = (const char *)sqlite3_column_text(decode, 0);
      same = !strcmp(a, b) || same_real(strtod(a, NULL), strtod(b, NULL));
    }
    if (!same) {
      fprintf(stderr, "column %s %s %s: a plain table gets %s '%s' from json_extract(), the column %s '%s'\n",
              col->name, col->type, col->path, sqlite3_type_name(want), text, sqlite3_type_name(got),
              sqlite3_column_text(decode, 0));
      abort();
    }
  }
  sqlite3_finalize(insert);
  sqlite3_finalize(select);
  sqlite3_free(create);
  sqlite3_free(path);
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
    int json = !format_check_value(value, len, NULL);
    for (int i = 0; i < opts.n_columns; i++) {
      int type = run(value, len, i);
      if (opts.columns[i].affinity == SQLITE_TEXT && type != SQLITE_TEXT && type != SQLITE_NULL) abort();
      if (json) check_against_oracle(value, len, &opts.columns[i]);
      sqlite3_reset(decode);
    }
  }
  sqlite3_free(err);
  sqlite3_free(arg);
  options_free(&opts);
  return 0;
}
