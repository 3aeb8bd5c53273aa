/*
** A table's registry schemas (ext/schemas.c): what CREATE learns from the
** Schema Registry (the value subject's typed columns, kept in the table's
** shadow table <name>_registry so that reopening the database does not
** need the registry), the writer schemas of messages (fetched by id and
** cached for the process: ids are immutable), and the framed encoding and
** decoding of keys and values in the codec formats (include/codec.h).
*/
#ifndef KAFKA_SCHEMAS_H
#define KAFKA_SCHEMAS_H

#include <stddef.h>
#include <stdint.h>

#include "kafka_ext.h"
#include "format.h"

/* The shadow table's name suffix: <table>_registry. */
#define SCHEMAS_SHADOW "registry"

/* xCreate: registers value_schema, checks the subjects, learns the typed
** columns when none are declared and stores them in the shadow table. */
int schemas_create(kafka_vtab *vtab, const char *db, const char *table, char **err);

/* xConnect: the typed columns CREATE learned, from the shadow table. */
int schemas_connect(kafka_vtab *vtab, const char *db, const char *table, char **err);

/* xDestroy: drops the shadow table. */
int schemas_destroy(kafka_vtab *vtab, const char *db, const char *table);

/* xRename: renames the shadow table with its table. */
int schemas_rename(kafka_vtab *vtab, const char *new_name);

/* Non-zero when a table name suffix is the shadow table's (xShadowName). */
int schemas_shadow_name(const char *suffix);

/* Decodes a framed key (key != 0) or value into JSON text (*json,
** sqlite3_malloc'd) and its schema id. On failure returns SQLITE_ERROR
** with *why (sqlite3_mprintf) saying why, with the schema id when known. */
int schemas_decode(kafka_vtab *vtab, int key, const void *data, size_t len, char **json,
                   int32_t *id, char **why);

/* Decodes a framed value straight into the typed columns the statement
** wants (codec decode_columns: opts.columns, wanted and out as there).
** SQLITE_NOTFOUND when its codec cannot (no decode_columns, or these
** columns); on failure SQLITE_ERROR with *why as schemas_decode says it. */
int schemas_decode_columns(kafka_vtab *vtab, const void *data, size_t len,
                           const unsigned char *wanted, sql_value *out, char **why);

/* Encodes JSON text as a framed key or value (*out, sqlite3_malloc'd)
** with the subject's latest schema (value_schema_id, or the schema
** registered at CREATE, when given). */
int schemas_encode(kafka_vtab *vtab, int key, const char *json, size_t len, void **out,
                   size_t *out_len, char **err);

/* Encodes an INSERT's typed columns (values[i] for the table's column i)
** as a framed value: straight from the columns when the codec can, else
** through the JSON they compose. */
int schemas_encode_columns(kafka_vtab *vtab, sqlite3_value **values, void **out, size_t *out_len,
                           char **err);

/* Releases the table's state (at disconnect). */
void schemas_free(kafka_vtab *vtab);

#endif
