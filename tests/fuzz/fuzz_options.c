/*
** libFuzzer target: option parsing (ext/base/options.c). The input is the
** module arguments of one CREATE VIRTUAL TABLE, one per line, as SQLite
** hands them to xCreate. Whatever options_parse() accepts must give a
** schema SQLite accepts too: kafka_init() passes it to
** sqlite3_declare_vtab(), whose failure would be a CREATE error naming
** nothing. No error may show the value of a secret property.
*/
#include "base.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 64

static sqlite3 *db;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc; (void)argv;
  return sqlite3_open(":memory:", &db);
}

/* Prepares the schema as a plain CREATE TABLE: the same parser that
** sqlite3_declare_vtab() uses. */
static void check_schema(const char *schema) {
  sqlite3_stmt *stmt = NULL;
  if (sqlite3_prepare_v2(db, schema, -1, &stmt, NULL) != SQLITE_OK) {
    fprintf(stderr, "accepted options give a bad schema: %s\n%s\n", sqlite3_errmsg(db), schema);
    abort();
  }
  sqlite3_finalize(stmt);
}

/* Secrets are never echoed: with the value of a secret rdkafka.* argument
** changed (letters and digits shifted, the shape kept), every error text
** stays the same. The name is what comes before `=`, or without one the
** first word. */
static void check_no_secret(const char *err, int argc, const char **argv) {
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i], *eq = strchr(arg, '=');
    size_t start = strspn(arg, " \t");
    size_t n = eq ? (size_t)(eq - arg) : start + strcspn(arg + start, " \t\n\r\f\v'\"");
    char *name = sqlite3_mprintf("%.*s", (int)(n - start), arg + start);
    int secret = name && !strncmp(name, "rdkafka.", 8) && option_is_secret(name + 8);
    sqlite3_free(name);
    if (!secret) continue;
    char *changed = sqlite3_mprintf("%s", arg);
    for (char *c = changed + n; *c; c++)
      *c = *c == 'z' ? 'a' : *c == 'Z' ? 'A' : *c == '9' ? '0' : isalnum((unsigned char)*c) ? *c + 1 : *c;
    argv[i] = changed;
    kafka_options opts;
    char *err2 = NULL;
    options_parse(&opts, argc, argv, &err2);
    options_free(&opts);
    argv[i] = arg;
    if ((!err != !err2) || (err && strcmp(err, err2))) {
      fprintf(stderr, "an error depends on the value of a secret:\n%s\n%s\n", err, err2);
      abort();
    }
    sqlite3_free(err2);
    sqlite3_free(changed);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = 0;
  const char *argv[MAX_ARGS];
  int argc = 0;
  for (char *line = text; line && argc < MAX_ARGS; argc++) {
    argv[argc] = line;
    line = strchr(line, '\n');
    if (line) *line++ = 0;
  }
  kafka_options opts;
  char *err = NULL;
  int rc = options_parse(&opts, argc, argv, &err);
  if (rc == SQLITE_OK) {
    if (err) abort(); /* success with an error message */
    char *schema = options_schema(&opts);
    check_schema(schema);
    sqlite3_free(schema);
  } else if (rc == SQLITE_ERROR && !err) {
    abort(); /* an error that names nothing */
  }
  check_no_secret(err, argc, argv);
  sqlite3_free(err);
  options_free(&opts);
  free(text);
  return 0;
}
