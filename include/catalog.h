/*
** The cluster catalog (ext/catalog.c): kafka_topics, kafka_partitions,
** kafka_groups and kafka_group_offsets, eponymous-only virtual tables used
** as table-valued functions; and the machinery other files use to add
** tables of the same kind (ext/acl.c, ext/configs.c), over a cluster or
** over another source (ext/registry_catalog.c: a Schema Registry).
*/
#ifndef KAFKA_CATALOG_H
#define KAFKA_CATALOG_H

#include "kafka_ext.h"
#include "client.h"

typedef struct catalog_cell {
  int type; /* SQLITE_NULL, SQLITE_INTEGER or SQLITE_TEXT */
  sqlite3_int64 i;
  char *text;
} catalog_cell;

/* The rows of one call, row after row, n_columns cells each. */
typedef struct catalog_rows {
  int n_columns;
  catalog_cell *cells;
  int n_cells, n_alloc;
  int nomem;
} catalog_rows;

/* What a table's fill function works with. */
typedef struct catalog_call {
  const char *func;
  kafka_client *client;
  const kafka_options *opts;
  const char *arg; /* the argument after brokers as text, NULL for none */
  catalog_rows *rows;
} catalog_call;

/* How a table takes the argument after brokers. */
enum catalog_arg_kind {
  CATALOG_ARG_TEXT = 0,     /* a required non-empty text */
  CATALOG_ARG_OPTIONAL,     /* a text or NULL (absent: call->arg is NULL) */
  CATALOG_ARG_INTEGER       /* a required integer (call->arg is its text) */
};

typedef struct catalog_table {
  const char *name;
  const char *columns; /* the visible columns of the schema */
  int n_columns;
  const char *arg;     /* the argument after brokers, or NULL */
  int (*fill)(catalog_call *call, char **err);
  enum catalog_arg_kind arg_kind;
} catalog_table;

/* A table over another source than a cluster: its first argument, named
** `source`, is the value of option `option` (a Schema Registry URL for
** schema_registry), which the fill reads in call->opts. No options
** argument and no client (call->client is NULL); the source argument never
** reads back (it may hold credentials). */
typedef struct catalog_source_table {
  catalog_table table; /* must come first */
  const char *source;
  const char *option;
} catalog_source_table;

/* Appending cells to the current row: an integer; an integer where v < 0
** (no such offset or broker) is NULL; text made by sqlite3_mprintf()
** (taken); text (copied); broker ids as a JSON array [1,2,3]. */
void catalog_put_int(catalog_rows *rows, sqlite3_int64 v);
void catalog_put_known(catalog_rows *rows, sqlite3_int64 v);
void catalog_put_owned(catalog_rows *rows, char *text);
void catalog_put_text(catalog_rows *rows, const char *text);
void catalog_put_ids(catalog_rows *rows, const int32_t *ids, int n);

/* Metadata of one topic, or of every topic when topic is NULL, within
** timeout_ms; *md is released with rd_kafka_metadata_destroy(). */
int catalog_metadata(catalog_call *call, const char *topic, const struct rd_kafka_metadata **md,
                     char **err);

/* The number of partitions of topic, or an error naming it ("func: topic
** 'x' does not exist on brokers '...'"). */
int catalog_topic_partitions(catalog_call *call, const char *topic, int *n, char **err);

/* The committed offsets (ListConsumerGroupOffsets) of the group named by
** call->arg: of every partition it committed, or of those in `only`. */
int catalog_committed_offsets(catalog_call *call, const rd_kafka_topic_partition_list_t *only,
                              rd_kafka_topic_partition_list_t **out, char **err);

/* Registers n tables (static storage) on db. */
int catalog_register_tables(sqlite3 *db, const catalog_table *tables, size_t n);
int catalog_register_source_tables(sqlite3 *db, const catalog_source_table *tables, size_t n);

/* Registers the catalog tables on db. */
int catalog_register(sqlite3 *db);

#endif
