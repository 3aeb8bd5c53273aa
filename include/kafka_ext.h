/*
** sqlite-kafka: the types shared by the extension's source files.
**
** One sqlite3_vtab struct (kafka_vtab) and one cursor struct (kafka_cursor)
** for the `kafka` module; each concern (options, client, planning, scanning,
** producing, formats) lives in its own file with its prototypes in its own
** header.
*/
#ifndef KAFKA_EXT_H
#define KAFKA_EXT_H

#include <sqlite3ext.h>
#include <librdkafka/rdkafka.h>

#include "options.h"

#define KAFKA_EXT_VERSION "0.1.0"

/* The oldest SQLite the extension loads into (sqlite3_vtab_in() is 3.38). */
#define KAFKA_MIN_SQLITE "3.38.0"
#define KAFKA_MIN_SQLITE_VERSION 3038000

/* Column numbers of the `kafka` module's fixed columns; typed columns from
** the `columns` option follow from KAFKA_COL_TYPED on. */
enum kafka_column {
  KAFKA_COL_PARTITION = 0,
  KAFKA_COL_OFFSET,
  KAFKA_COL_TIMESTAMP,
  KAFKA_COL_KEY,
  KAFKA_COL_VALUE,
  KAFKA_COL_HEADERS,
  KAFKA_COL_ERROR,  /* hidden: why decoding failed */
  KAFKA_COL_FOLLOW, /* hidden: follow-mode quiet period in ms (a parameter) */
  KAFKA_COL_SCHEMA_ID, /* hidden: the registry schema id a message was written with */
  KAFKA_COL_TYPED
};

struct kafka_producer;
struct kafka_client;
struct txn_coord;
struct table_schemas;

typedef struct kafka_vtab {
  sqlite3_vtab base;               /* must come first */
  sqlite3 *db;
  kafka_options opts;
  struct kafka_producer *producer; /* created on the first INSERT */
  struct kafka_client *idle;       /* a consumer kept for the next scan */
  struct kafka_client *idle_point; /* one kept for positioned reads (scan.c) */
  struct txn_coord *txn;           /* the connection's transaction coordination */
  struct table_schemas *schemas;   /* registry formats (schemas.c), or NULL */
  struct group_state *open_groups; /* group mode: its open cursors' states, newest first (group.c) */
  char *db_name, *table_name;      /* where the table is (its shadow table's place) */
} kafka_vtab;

/* Set the vtab's error message (freeing the old one); returns SQLITE_ERROR. */
int vtab_error(sqlite3_vtab *vtab, const char *fmt, ...);

#endif
