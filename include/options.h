/*
** Options of `CREATE VIRTUAL TABLE t USING kafka(name = 'value', ...)`:
** parsed and validated in one place (ext/options.c).
*/
#ifndef KAFKA_OPTIONS_H
#define KAFKA_OPTIONS_H

typedef enum kafka_format {
  KAFKA_FORMAT_TEXT = 0,
  KAFKA_FORMAT_BLOB,
  KAFKA_FORMAT_JSON,
  /* Schema Registry formats (include/codec.h), framed in the wire format. */
  KAFKA_FORMAT_AVRO,
  KAFKA_FORMAT_JSONSCHEMA,
  KAFKA_FORMAT_PROTOBUF
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
  char affinity;  /* SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB
                  ** or 0 for none (NUMERIC and the like keep JSON's type) */
  char hex_blob;  /* a BLOB column of a registry format: JSON holds its bytes as hex */
} typed_column;

/* One `rdkafka.<property>` passed through to librdkafka. */
typedef struct rdkafka_property {
  char *name;     /* without the `rdkafka.` prefix */
  char *value;
} rdkafka_property;

/* How to reach a Schema Registry (the schema_registry.* options). */
typedef struct registry_options {
  char *url;         /* base URL, any path prefix; NULL: no registry */
  char *basic_auth;  /* `user:password`: a secret, never shown */
  char *ssl_ca;      /* schema_registry.ssl.ca.location */
  char *ssl_cert;    /* schema_registry.ssl.certificate.location */
  char *ssl_key;     /* schema_registry.ssl.key.location */
  int timeout_ms;    /* bound on every request (the table's timeout_ms) */
} registry_options;

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
  registry_options registry;
  char *value_subject;     /* NULL: <topic>-value */
  char *key_subject;       /* NULL: <topic>-key */
  int value_schema_id;     /* 0: the subject's latest */
  char *value_schema;      /* registered under the subject at CREATE */
  char *value_message;     /* Protobuf: the message type */
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

/* Adds typed columns given in the `columns` option's syntax (as learned
** from a registry schema at CREATE and kept in the table's shadow table). */
int options_add_columns(kafka_options *opts, const char *spec, char **err);

/* Non-zero when a column of that name exists (fixed or typed). */
int options_column_name_taken(const kafka_options *opts, const char *name);

/* The CREATE TABLE statement declaring the table's columns. */
char *options_schema(const kafka_options *opts);

/* Non-zero when a librdkafka property holds a secret that must never be
** shown (passwords, keys, tokens). */
int option_is_secret(const char *property);

#endif
