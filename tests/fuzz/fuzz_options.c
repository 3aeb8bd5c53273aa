/*
** libFuzzer target: option parsing (ext/options.c). The input is the
** module arguments of one CREATE VIRTUAL TABLE, one per line, as SQLite
** hands them to xCreate. Whatever options_parse() accepts must give a
** schema SQLite accepts too: kafka_init() passes it to
** sqlite3_declare_vtab(), whose failure would be a CREATE error naming
** nothing. No error may show the value of a secret property.
*/
#include "kafka_ext.h"

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

/* Secrets are never echoed: when argument i names a secret property, its
** value (8 bytes or more, found in no other argument) is not in err. */
static void check_no_secret(const char *err, int argc, const char *const *argv) {
  for (int i = 0; err && i < argc; i++) {
    const char *name = argv[i];
    while (*name == ' ' || *name == '\t') name++;
    size_t n = strcspn(name, "= \t\n\r\f\v'\"");
    char *property = sqlite3_mprintf("%.*s", (int)n, name);
    const char *value = name + n + strspn(name + n, "= \t\n\r\f\v'\"");
    size_t len = strcspn(value, "'\"");
    int secret = property && option_is_secret(property) && len >= 8;
    for (int j = 0; secret && j < argc; j++)
      if (j != i && memmem(argv[j], strlen(argv[j]), value, len)) secret = 0;
    if (secret && memmem(err, strlen(err), value, len)) {
      fprintf(stderr, "an error shows the value of %s: %s\n", property, err);
      abort();
    }
    sqlite3_free(property);
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
