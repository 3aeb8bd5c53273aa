/*
** What a connection's statements are doing: SQLite gives a virtual table no
** statement boundaries, but the busy statements of its connection say which
** are running and whether they write.
*/
#include "base.h"

SQLITE_EXTENSION_INIT3

sqlite3_stmt *statement_writing(sqlite3 *db) {
  for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s))
    if (sqlite3_stmt_busy(s) && !sqlite3_stmt_readonly(s)) return s;
  return NULL;
}

int statement_writers(sqlite3 *db) {
  int n = 0;
  for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s))
    n += sqlite3_stmt_busy(s) && !sqlite3_stmt_readonly(s);
  return n;
}
