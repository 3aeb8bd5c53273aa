/*
** Options of `CREATE VIRTUAL TABLE t USING kafka(name = 'value', ...)`:
** parsed and validated in one place (ext/options.c).
*/
#ifndef KAFKA_OPTIONS_H
#define KAFKA_OPTIONS_H

typedef enum kafka_format {
  KAFKA_FORMAT_TEXT = 0,
  KAFKA_FORMAT_BLOB,
  KAFKA_FORMAT_JSON
} kafka_format;

/* How the topic's producers chose a partition for a key (option
** `partitioner`): lets `key =` / `key IN` read only those partitions. */
typedef enum kafka_partitioner {
  KAFKA_PARTITIONER_NONE = 0,          /* unset: keys say nothing about partitions */
  KAFKA_PARTITIONER_MURMUR2,           /* Java, kafka-python, this extension */
  KAFKA_PARTITIONER_CRC32,             /* librdkafka's `consistent` */
  KAFKA_PARTITIONER_CONSISTENT_RANDOM  /* librdkafka's and kcat's default */
} kafka_partitioner;
/* NUMERIC affinity (no SQLITE_ type names it). */
#define KAFKA_AFFINITY_NUMERIC 0

/* One typed column of the `columns` option: `name TYPE [json-path]`. */
typedef struct typed_column {
  char *name;
  char *type;     /* declared SQL type, as written */
  char *path;     /* JSON path, "$.name" when not given */
  char affinity;  /* as a table column of that type has it (datatype3.html,
                  ** 3.1): SQLITE_INTEGER, SQLITE_FLOAT (REAL), SQLITE_TEXT,
                  ** SQLITE_BLOB (none) or KAFKA_AFFINITY_NUMERIC */
} typed_column;

/* One `rdkafka.<property>` passed through to librdkafka. */
typedef struct rdkafka_property {
  char *name;     /* without the `rdkafka.` prefix */
  char *value;
} rdkafka_property;

typedef struct kafka_options {
  char *brokers;
  char *topic;
  kafka_format key_format;
  kafka_format value_format;
  typed_column *columns;
  int n_columns;
  char *group;             /* NULL: no consumer group */
  int start_latest;        /* `start = latest` */
  char *transactional_id;  /* NULL: not transactional */
  int partitions;          /* 0: do not create the topic */
  int replication;         /* -1: broker default */
  int timeout_ms;
  int on_error_fail;       /* `on_error = fail` */
  int read_uncommitted;    /* `isolation = read_uncommitted` */
  kafka_partitioner partitioner;
  rdkafka_property *rdkafka;
  int n_rdkafka;
} kafka_options;

/* The defaults: no brokers or topic, text formats, timeout_ms 10000. */
void options_init(kafka_options *opts);

/* Parses the module arguments argv[0..argc-1] (each `name = value`) into
** *opts. On error returns SQLITE_ERROR with *err set (sqlite3_mprintf);
** *opts must be released with options_free() either way. */
int options_parse(kafka_options *opts, int argc, const char *const *argv,
                  char **err);
void options_free(kafka_options *opts);

/* Parses arguments into *opts like options_parse() without resetting it
** first or requiring any option (for the catalog and admin functions). */
int options_parse_args(kafka_options *opts, int argc, const char *const *argv, char **err);

/* The CREATE TABLE statement declaring the table's columns. */
char *options_schema(const kafka_options *opts);

/* Non-zero when a librdkafka property holds a secret that must never be
** shown (passwords, keys, tokens). */
int option_is_secret(const char *property);

#endif
