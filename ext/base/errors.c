/*
** The error helper every layer uses, and the SQLite API pointer of a
** loadable extension (SQLITE_EXTENSION_INIT1): both at the bottom layer so
** that no file reaches up to the entry point for them.
*/
#include "base.h"

#include <stdarg.h>

SQLITE_EXTENSION_INIT1

int vtab_error(sqlite3_vtab *vtab, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sqlite3_free(vtab->zErrMsg);
  vtab->zErrMsg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  return SQLITE_ERROR;
}

int connection_read_only(sqlite3 *db) {
  return sqlite3_db_readonly(db, "main") == 1;
}

char *read_only_error(const char *what) {
  return sqlite3_mprintf("%s: refused: the connection is read-only (its main database was opened "
                         "read-only: sqlite3 -readonly, ?mode=ro, immutable=1, or a Datasette "
                         "query), and this would change the cluster or the registry", what);
}
