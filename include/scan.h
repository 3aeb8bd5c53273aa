/*
** Scanning (ext/scan.c): the `kafka` module's cursor, reading partitions
** through a librdkafka consumer.
*/
#ifndef KAFKA_SCAN_H
#define KAFKA_SCAN_H

#include <stdint.h>

#include "kafka_ext.h"

/* One partition of a scan: what it reads and how far it got. */
typedef struct partition_scan {
  int32_t partition;
  int64_t start;  /* first offset to read */
  int64_t end;    /* offset to stop before; INT64_MAX when following */
  int64_t stop;   /* offset IN: where the partition's last run must end */
  int64_t next;   /* offset after the last message read; -1 before any */
  int done;
} partition_scan;

int scan_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **cursor);
int scan_close(sqlite3_vtab_cursor *cursor);
int scan_filter(sqlite3_vtab_cursor *cursor, int idx_num, const char *idx_str, int argc,
                sqlite3_value **argv);
int scan_next(sqlite3_vtab_cursor *cursor);
int scan_eof(sqlite3_vtab_cursor *cursor);
int scan_column(sqlite3_vtab_cursor *cursor, sqlite3_context *ctx, int column);
int scan_rowid(sqlite3_vtab_cursor *cursor, sqlite3_int64 *rowid);

/* Releases the table's idle consumer (at disconnect). */
void scan_release_idle(kafka_vtab *vtab);

#endif
