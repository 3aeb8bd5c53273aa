/*
** Formats (ext/format.c): how Kafka bytes map to SQL values and back.
** Keys and values are text, blob or json; headers are a JSON object;
** typed columns are read from and composed into a JSON value.
*/
#ifndef KAFKA_FORMAT_H
#define KAFKA_FORMAT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "kafka_ext.h"
#include "jsontext.h"

/* The marker of a header value that is not UTF-8: {"hex": "00ff"}. */
#define HEADER_HEX_KEY "hex"

/* Non-zero when the n bytes at s are valid UTF-8 with no NUL byte. */
int utf8_valid(const unsigned char *s, size_t n);

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

#endif
