/*
** sqlite-kafka: the bottom layer (ext/base/): options, JSON text, formats, the error helper.
**
** One header per layer; a layer includes the header of the layer below it
** and never one above (tests/test_layers.py checks it).
*/
#ifndef KAFKA_BASE_H
#define KAFKA_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3ext.h>
#include <librdkafka/rdkafka.h>
#include <cjson/cJSON.h>


/* ==== options ==== */
/*
** Options of `CREATE VIRTUAL TABLE t USING kafka(name = 'value', ...)`:
** parsed and validated in one place (ext/base/options.c).
*/

typedef enum kafka_format {
  KAFKA_FORMAT_TEXT = 0,
  KAFKA_FORMAT_BLOB,
  KAFKA_FORMAT_JSON,
  /* Schema Registry formats (include/codec.h), framed in the wire format. */
  KAFKA_FORMAT_AVRO,
  KAFKA_FORMAT_JSONSCHEMA,
  KAFKA_FORMAT_PROTOBUF,
  /* MessagePack (ext/codec/msgpack.c): a codec format with no schema. */
  KAFKA_FORMAT_MSGPACK,
  KAFKA_FORMAT_COUNT /* the number of formats: keep it last */
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
  sqlite3 *db;       /* whose sqlite3_interrupt() ends a request (NULL: none) */
} registry_options;

typedef struct kafka_options {
  char *brokers;
  char *config;            /* a client properties file (config_file.c), or NULL */
  char *topic;
  kafka_format key_format;
  kafka_format value_format;
  typed_column *columns;
  int n_columns;
  char *group;             /* NULL: no consumer group */
  int start_latest;        /* `start = latest` */
  int join;                /* `join = 1`: the table is a member of its group (member.c) */
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
  /* Schemas outside a registry (SPEC section 13): the plain payloads of
  ** avro and protobuf when schema_registry is not given. value_schema
  ** (above) and key_schema are then the schema's text. */
  char *key_schema;
  char *key_message;
  char *value_schema_file, *key_schema_file; /* Avro: an .avsc file */
  char *value_proto_file, *key_proto_file;   /* Protobuf: a .proto file */
  char *value_proto_path, *key_proto_path;   /* its import directories, colon-separated */
  int progress;            /* the shell's progress line: -1 auto (default), 0 never, 1 always */
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

/* Sets option name (as in CREATE, e.g. "brokers", "rdkafka.acks") to value. */
int options_set(kafka_options *opts, const char *name, const char *value, char **err);

/* Adds librdkafka property name (without `rdkafka.`), checked by
** librdkafka and against the properties the extension sets itself. */
int options_add_rdkafka(kafka_options *opts, const char *name, const char *value, char **err);

/* Adds typed columns given in the `columns` option's syntax (as learned
** from a registry schema at CREATE and kept in the table's shadow table). */
int options_add_columns(kafka_options *opts, const char *spec, char **err);

/* Non-zero when a column of that name exists (fixed or typed). */
int options_column_name_taken(const kafka_options *opts, const char *name);

/* The name of the hidden column KAFKA_COL_TIME: `time`, or `kafka_time`
** when a typed column is named time (tables made before the column
** existed may have one: a registry schema's field, say). */
const char *options_time_column(const kafka_options *opts);

/* The CREATE TABLE statement declaring the table's columns. */
char *options_schema(const kafka_options *opts);

/* url as errors show it (sqlite3_mprintf): without anything that may be
** credentials (up to the last '@', as user:password@ may hold '/', '@',
** ':' unencoded) and without its query ("?..."). */
char *url_shown(const char *url);

/* Non-zero when a librdkafka property holds a secret that must never be
** shown (passwords, keys, tokens). */
int option_is_secret(const char *property);

/* ==== config_file ==== */

/* Applies one property name = value of a file; on error returns
** SQLITE_ERROR with *why (sqlite3_mprintf'd) saying what is wrong. */
typedef int config_apply(void *arg, const char *name, const char *value, char **why);

/* Reads the properties file at path, calling apply for each property in
** order. Errors name the file and the line, never a value. */
int config_file_read(const char *path, config_apply *apply, void *arg, char **err);

/* ==== jsontext ==== */
/*
** JSON text without a tree (ext/base/jsontext.c): a strict RFC 8259 check, the
** JSON paths of typed columns, and finding the value at a path by scanning
** the text, so that a row's typed columns never build a tree of every
** field. Everything works on counted bytes.
*/

/* Non-zero when the n bytes at s are valid UTF-8 with no NUL byte: the
** text primitive every format and the JSON check share. */
int utf8_valid(const unsigned char *s, size_t n);

/* How deep arrays and objects may nest (cJSON's limit, which INSERT's
** headers parser shares). */
#define JSON_NESTING_LIMIT 1000

/* -1 when the len bytes at data are one JSON text (RFC 8259, UTF-8 with no
** NUL byte), else the byte offset where they stop being one. */
long long json_error_at(const void *data, size_t len);

/* Where the members of a JSON object are, noted while checking it: a typed
** column's first step is then found without scanning the text again. */
#define JSON_INDEX_MEMBERS 32
typedef struct json_member {
  unsigned key, key_end;     /* the name's string token, quotes included */
  unsigned value, value_end; /* the value's token(s) */
  int escaped;               /* the name holds an escape */
} json_member;

typedef struct json_index {
  int n; /* members noted; -1 when not an object or when they do not fit */
  json_member member[JSON_INDEX_MEMBERS];
} json_index;

/* json_error_at() that also fills *index (when the text is JSON). */
long long json_error_indexed(const void *data, size_t len, json_index *index);

/* One step of a JSON path: a member name (.name, ."name", ["name"]) or an
** array index ([n]); name points into the path and is not terminated. */
typedef struct json_step {
  const char *name; /* NULL for an index */
  size_t len;
  long index;
} json_step;

/* Reads the step at *path and moves *path past it: 1 for a step, 0 at the
** end of the path, -1 when the text there is not a step. A path is `$`
** followed by steps. */
int json_path_step(const char **path, json_step *step);

/* NULL when path is a JSON path typed columns take, else what is wrong
** with it (static text). */
const char *json_path_error(const char *path);

/* The value at path in the JSON text [data, data + len), which
** json_error_indexed() accepted (index: what it noted, or NULL): its first
** byte, with *end one past its last; NULL when nothing is there. The first
** of repeated names counts. */
const unsigned char *json_locate(const unsigned char *data, size_t len, const json_index *index,
                                 const char *path, const unsigned char **end);

/* Decodes the JSON string token [s, end) (quotes included) into out, which
** has room for end - s bytes; returns the length. Like SQLite's JSON
** functions, \u0000 ends the string; a lone surrogate becomes U+FFFD so that
** the result stays UTF-8. */
size_t json_string_decode(const unsigned char *s, const unsigned char *end, char *out);

/* Copies the JSON value [s, end) into out (room for end - s bytes) without
** the white space between tokens, as SQLite's json_extract() shows objects
** and arrays; returns the length. */
size_t json_minify(const unsigned char *s, const unsigned char *end, char *out);

/* ==== errors (ext/base/errors.c) ==== */

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
  KAFKA_COL_TIME,   /* hidden: the timestamp as ISO-8601 UTC text (format_iso_time) */
  KAFKA_COL_TYPED
};

/* Set the vtab's error message (freeing the old one); returns SQLITE_ERROR. */
int vtab_error(sqlite3_vtab *vtab, const char *fmt, ...);

/* Non-zero when db's main database is read-only (sqlite3 -readonly,
** ?mode=ro, immutable=1, Datasette's query connections): whoever runs SQL
** there may read topics and the cluster but change nothing (SPEC 11). */
int connection_read_only(sqlite3 *db);

/* The error of a write refused on such a connection: "what: refused: the
** connection is read-only ..." (sqlite3_mprintf). */
char *read_only_error(const char *what);

/* ==== format ==== */
/*
** Formats (ext/base/format.c): how Kafka bytes map to SQL values and back.
** Keys and values are text, blob or json; headers are a JSON object;
** typed columns are read from and composed into a JSON value.
*/

/* The marker of a header value that is not UTF-8: {"hex": "00ff"}. */
#define HEADER_HEX_KEY "hex"


/* Sets the result to bytes of a key or value in format f: TEXT for text
** and json when they are valid UTF-8, else a BLOB (never mangled); NULL
** when data is NULL. */
void format_result(sqlite3_context *ctx, kafka_format f, const void *data, size_t len);

/* The headers as the JSON text the headers column shows (NULL when there
** are none); a repeated name becomes an array of its values in order. */
char *format_headers_json(rd_kafka_headers_t *headers);

/* Parses headers JSON (the same form) into new librdkafka headers. */
int format_headers_parse(const char *json, rd_kafka_headers_t **out, char **err);

/* NULL when the len bytes at data are one JSON text (strict RFC 8259,
** UTF-8), else why not (static text, for the error column). Checked once
** per row; nothing is built but *index (NULL: none), the top-level members
** for format_typed_result(). */
const char *format_check_value(const void *data, size_t len, json_index *index);

/* The `time` column: a timestamp (ms since the epoch) as ISO-8601 UTC
** text with milliseconds, 2026-12-07T07:00:00.123Z: always FORMAT_TIME_LEN
** characters, so that text order is time order. */
#define FORMAT_TIME_LEN 24
#define FORMAT_TIME_MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */

/* Writes the text of ms into out (FORMAT_TIME_LEN + 1 bytes); returns 0,
** writing nothing, when ms is outside [0, FORMAT_TIME_MAX_MS]: a year of
** five digits would break the order (the column is NULL there). */
int format_iso_time(int64_t ms, char *out);

/* Decodes n hex digits (n even) into out (n / 2 bytes); 0, or -1 when
** they are not hex digits. */
int format_hex_decode(const char *hex, size_t n, unsigned char *out);

/* A SQL value on its way between JSON and a typed column: what SQLite's
** json_extract() gives, then what a table column of the declared type
** stores (datatype3.html, 3.4). Text is counted (no terminator needed);
** `owned` (NULL, or the text itself) is freed with sqlite3_free by
** whoever takes the value (sql_value_clear()). */
typedef struct sql_value {
  int type; /* SQLITE_NULL (or 0: a zeroed sql_value), SQLITE_INTEGER, SQLITE_FLOAT,
            ** SQLITE_TEXT, SQLITE_BLOB */
  sqlite3_int64 i;
  double r;
  const char *text;
  size_t len;
  char *owned;
} sql_value;

/* Sets v to the one JSON value text [json, json + len) (valid, no white
** space around) as json_extract() gives it: integers exact in int64 (past
** it REAL), strings decoded (text borrowed from json when nothing needed
** decoding), objects and arrays as minified JSON text. */
void format_json_value(const char *json, size_t len, sql_value *v);

/* Frees v's owned text; v becomes NULL. */
void sql_value_clear(sql_value *v);

/* Sets the result to typed column col's value, given as json_extract()
** reads it at the column's path: a registry format's hex digits become
** the BLOB of a hex_blob column, then the column's affinity applies as a
** table column of the declared type applies it. v is not changed (its
** text is copied). */
void format_value_result(sqlite3_context *ctx, const typed_column *col, const sql_value *v);

/* Sets the result to a typed column's value in the JSON text [json,
** json + len), which format_check_value() accepted (NULL: the result is
** NULL): the value at the column's path as SQLite's json_extract() reads
** it, under the column's affinity as a table column of the declared type
** applies it. Only the path is scanned (index, from format_check_value(),
** finds the first step; NULL: scanned too); no tree is built. */
void format_typed_result(sqlite3_context *ctx, const typed_column *col, const void *json, size_t len,
                         const json_index *index);

/* The bytes an INSERT gives for a key or value in format f, checking that
** json is valid JSON. *data is NULL for SQL NULL. `what` names the column
** in errors. */
int format_bytes(sqlite3_value *v, kafka_format f, const char *what, const void **data,
                 size_t *len, char **err);

/* The JSON node of one typed column's SQL value on INSERT, under the
** column's affinity (integers and reals as cJSON_Raw text, exact); NULL
** with *err set when it cannot go into JSON (or out of memory). */
cJSON *format_typed_json(const typed_column *col, sqlite3_value *v, char **err);

/* Composes the JSON value of an INSERT from the typed columns' values
** (values[i] for opts->columns[i]); NULL values are left out. */
int format_compose_value(const kafka_options *opts, sqlite3_value **values, char **json,
                         char **err);

/* Milliseconds since the epoch of an ISO 8601 UTC time
** ('2026-01-01T00:00:00Z', '2026-01-01 00:00:00.250+02:00', '2026-01-01';
** no zone means UTC). Returns 0 when text is not one. */
int format_parse_time(const char *text, sqlite3_int64 *ms);


/* ==== statements (ext/base/statements.c) ==== */

/* A busy statement of the connection that writes (NULL: none): with its run
** count (SQLITE_STMTSTATUS_RUN) it tells one statement run from the next. */
sqlite3_stmt *statement_writing(sqlite3 *db);

/* How many busy statements of the connection write. */
int statement_writers(sqlite3 *db);

#endif
