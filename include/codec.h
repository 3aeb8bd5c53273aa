/*
** sqlite-kafka: the codec layer (ext/codec/): Avro, JSON Schema, Protobuf and MessagePack payloads, schema
** references and schema files.
**
** One header per layer; a layer includes the header of the layer below it
** and never one above (tests/test_layers.py checks it).
*/
#ifndef KAFKA_CODEC_H
#define KAFKA_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"

/* ==== codec ==== */
/*
** Codecs (ext/codec/codec.c): the key and value formats whose schemas live in a
** Schema Registry: `avro` (ext/codec/avro.c), `jsonschema` (ext/codec/jsonschema.c) and
** `protobuf` (a C++ translation unit behind a C header, issue 16); and
** `msgpack` (ext/codec/msgpack.c), which has no schema.
**
** Every codec message of a registry is framed in the Confluent wire format: byte 0 = 0,
** bytes 1-4 = the schema id (big-endian), then the codec's payload. The
** framing is done here, once; a codec sees only its payload (Protobuf's
** message-index varints belong to its payload: its decode reads them, its
** encode writes them). Without a registry (SPEC section 13) a message is a
** plain payload of one schema, the table's own (parse_plain), and msgpack's
** always is.
**
** A codec is a table of functions over a parsed schema (codec_schema, which
** each codec defines). The rest of the extension speaks JSON to a codec:
** decode turns a payload into the record as JSON text with plain values,
** encode turns JSON text into a payload. Typed columns are read from that
** JSON by path (ext/base/format.c), and an INSERT's typed columns compose JSON
** that encode takes, so a codec needs nothing else to get typed columns.
** Two optional members skip the JSON where it costs: decode_columns reads
** typed columns straight from a payload, encode_columns writes one from
** an INSERT's typed columns.
**
** To plug in a format: write the functions below, define a `const codec`
** named <format>_codec with designated initializers (optional members
** left out are NULL), add a kafka_format for it (include/base.h) and
** return it from codec_for() (ext/codec/codec.c).
*/

#ifdef __cplusplus
extern "C" {
#endif

/* The Confluent wire format's header: magic byte 0 and a 4-byte id. */
#define CODEC_FRAME_SIZE 5

/* A parsed schema. Immutable once parsed: a codec_schema is shared by
** every table and thread of the process (writer schemas are cached by id),
** so decode and encode must not change it. */
typedef struct codec_schema codec_schema;

/* How a codec reaches the schemas a schema references by name (Protobuf's
** imports; the registry's `references`): resolve sets *text
** (sqlite3_malloc'd) to the text of the schema called `name`, or returns
** SQLITE_ERROR with *err (sqlite3_mprintf) saying why. */
typedef struct codec_imports {
  int (*resolve)(void *arg, const char *name, char **text, char **err);
  void *arg;
} codec_imports;

/* Receives one typed column of a schema: its name and SQL type. Returns
** SQLITE_OK or an error code that stops the listing. */
typedef int (*codec_column_fn)(void *arg, const char *name, const char *sql_type);

typedef struct codec {
  const char *name;          /* the option value: "avro" */
  const char *registry_type; /* the registry's schemaType: "AVRO", "JSON", "PROTOBUF";
                             ** NULL: no schema (msgpack), never in a registry */
  const char *bytes_member;  /* NULL: bytes are hex digits in decode's JSON; else the
                             ** one member of an object holding them ({"$bin": "hex"}) */

  /* Parses a schema text. `message` selects a message type (Protobuf's
  ** value_message; NULL: the codec's default); `imports` finds the schemas
  ** it references (NULL: it has none). On error *err says why
  ** (sqlite3_mprintf, without a "kafka: " prefix: the caller says which
  ** schema) and *out is untouched. */
  int (*parse)(const char *text, const char *message, const codec_imports *imports,
               codec_schema **out, char **err);
  void (*release)(codec_schema *schema);

  /* Optional: parses a schema kept outside a registry (a file, or an
  ** option's text: SPEC section 13) for plain payloads: no framing, and
  ** nothing of the wire format inside them (Protobuf's message indexes).
  ** `name` is the file name errors give; the rest as parse. NULL: parse
  ** serves, the payloads being alike (Avro). A codec without a schema
  ** (registry_type NULL: msgpack) parses NULL text. */
  int (*parse_plain)(const char *name, const char *text, const char *message, const codec_imports *imports,
                     codec_schema **out, char **err);

  /* Lists the schema's top-level fields as typed columns, in order, with
  ** the SQL types of SPEC section 7 (INTEGER, REAL, TEXT, BLOB, or "" for
  ** none). *err is a whole message ("kafka: ..."). */
  int (*columns)(const codec_schema *schema, codec_column_fn add, void *arg, char **err);

  /* Decodes a payload written with `writer` into the record as JSON text
  ** (*json, sqlite3_malloc'd). When the payload is not a valid record,
  ** returns SQLITE_ERROR with *why (sqlite3_mprintf, no prefix: the
  ** caller adds the schema id) saying why. */
  int (*decode)(const codec_schema *writer, const void *data, size_t len, char **json,
                char **why);

  /* Encodes JSON text into a payload for `schema` (*out, sqlite3_malloc'd).
  ** A value that does not fit is SQLITE_ERROR with *err naming the field
  ** and why (missing, wrong type, out of range, unknown symbol); *err is a
  ** whole message ("kafka: ..."). */
  int (*encode)(const codec_schema *schema, const char *json, size_t len, void **out,
                size_t *out_len, char **err);

  /* Optional (NULL: the columns compose JSON for encode). Encodes straight
  ** from an INSERT's typed columns (values[i] for cols[i], SQL NULL for
  ** left out), as encode would the JSON they compose; SQLITE_NOTFOUND when
  ** it cannot (a column path below the top level): then JSON is used. */
  int (*encode_columns)(const codec_schema *schema, const typed_column *cols, sqlite3_value **values,
                        int n, void **out, size_t *out_len, char **err);

  /* Optional (NULL: typed columns are read by path from decode's JSON).
  ** Decodes a payload written with `writer`, as decode would, into the
  ** typed columns cols[i] for which wanted[i] is non-zero (wanted NULL:
  ** all): out[i] (zeroed by the caller) is the value SQLite's
  ** json_extract() reads at cols[i].path in the JSON text decode makes,
  ** before the column's affinity: integers exact, reals, text (decimal's
  ** exact number, bytes and fixed as decode's hex digits, enum symbols),
  ** records, arrays and maps as decode's JSON text, NULL for null and for
  ** a field the writer lacks. Text is owned: out[i].text is
  ** out[i].owned (sqlite3_malloc'd), freed by the caller with
  ** sql_value_clear(); out[i] of columns not wanted stay NULL.
  ** A payload that is not a valid record is SQLITE_ERROR with *why exactly
  ** as decode says it (the error column shows the same text either way).
  ** SQLITE_NOTFOUND, before anything is decoded, when it cannot read the
  ** wanted columns (a path below the top level): an answer that depends
  ** on them only (not on the payload), so a caller may stop asking;
  ** decode and the path are used. */
  int (*decode_columns)(const codec_schema *writer, const void *data, size_t len,
                        const typed_column *cols, int n, const unsigned char *wanted,
                        sql_value *out, char **why);
} codec;

/* The codec of a key or value format; NULL for text, blob and json. */
const codec *codec_for(kafka_format f);

/* Reads the wire format's header: *id and the payload after it. Returns 0,
** or -1 with *why (static text) when the bytes are not in the wire format. */
int codec_frame_read(const void *data, size_t len, int32_t *id, const void **payload,
                     size_t *payload_len, const char **why);

/* The framed message of a payload written with schema `id`
** (sqlite3_malloc'd, CODEC_FRAME_SIZE + len bytes); NULL when out of memory. */
unsigned char *codec_frame_write(int32_t id, const void *payload, size_t len);

/* The text of top-level member `name` of the JSON object text a decode
** made (*value_len bytes), or NULL when it has none: typed columns read
** one member without parsing the whole record. */
const char *codec_json_member(const char *json, size_t len, const char *name, size_t *value_len);

#ifdef __cplusplus
}
#endif

/* ==== references ==== */
/*
** Schema references (ext/codec/references.c): the schemas a registry schema
** refers to by name (Protobuf's imports, the registry's `references`),
** fetched from the registry when a codec asks for one (include/codec.h's
** codec_imports). A fetched schema's own references join the known ones,
** so imports of imports resolve too.
*/

typedef struct schema_references {
  codec_imports imports;             /* what a codec's parse takes */
  const registry_options *registry;
  cJSON *known;                      /* every {"name", "subject", "version"} seen */
} schema_references;

/* Starts with a schema's references (an array, or NULL for none). */
int references_init(schema_references *refs, const registry_options *registry, const cJSON *references);
void references_clear(schema_references *refs);

/* ==== schema_files ==== */
/*
** Schemas in files (ext/codec/schema_files.c), for topics without a
** registry (SPEC section 13): a schema file's text, and the imports of a
** .proto file found in its import directories (each file read once and
** kept, so that the texts can be stored with the table and a reopened
** database needs no file), or among texts stored before.
*/

typedef struct schema_files {
  codec_imports imports; /* what a codec's parse takes */
  char *dirs;            /* import directories, colon-separated; NULL: only `known` */
  cJSON *known;          /* {"import name": "text"} of every import read or given */
} schema_files;

/* Reads a whole schema file (*text, sqlite3_malloc'd, NUL-terminated); an
** error says which file and why, as "option <option> '<path>': ...". */
int schema_file_read(const char *option, const char *path, char **text, char **err);

/* Starts with import directories dirs (colon-separated, NULL: none). */
int schema_files_init(schema_files *files, const char *dirs);

/* Adds an import's text under its import name (as stored before). */
int schema_files_add(schema_files *files, const char *name, const char *text);

void schema_files_clear(schema_files *files);

/* The directory part of path ("." when it has none), sqlite3_malloc'd. */
char *schema_file_dir(const char *path);

/* The name a schema file goes by among its imports: path relative to the
** first of dirs holding it, else its last component (sqlite3_malloc'd). */
char *schema_file_import_name(const char *path, const char *dirs);

#endif
