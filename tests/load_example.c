/*
** The extension from C: open a database, load the extension, run SQL
** given on the command line, print the rows.
**
**   cc -o kafka-example tests/load_example.c $(pkg-config --cflags --libs sqlite3)
**   ./kafka-example /usr/local/lib/sqlite3/kafka "SELECT kafka_version()"
*/
#include <sqlite3.h>
#include <stdio.h>

static int print_row(void *unused, int n, char **values, char **names) {
  (void)unused;
  (void)names;
  for (int i = 0; i < n; i++) printf("%s%s", i ? "|" : "", values[i] ? values[i] : "");
  printf("\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s EXTENSION [SQL...]\n", argv[0]);
    return 2;
  }
  sqlite3 *db = NULL;
  char *err = NULL;
  int rc = sqlite3_open(":memory:", &db);
  /* Enables sqlite3_load_extension() for C only, not SQL's load_extension(). */
  if (rc == SQLITE_OK) rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, NULL);
  /* NULL entry point: SQLite derives sqlite3_kafka_init from the file name. */
  if (rc == SQLITE_OK) rc = sqlite3_load_extension(db, argv[1], NULL, &err);
  for (int i = 2; rc == SQLITE_OK && i < argc; i++) rc = sqlite3_exec(db, argv[i], print_row, NULL, &err);
  if (rc != SQLITE_OK) fprintf(stderr, "error: %s\n", err ? err : sqlite3_errmsg(db));
  sqlite3_free(err);
  sqlite3_close(db);
  return rc == SQLITE_OK ? 0 : 1;
}
