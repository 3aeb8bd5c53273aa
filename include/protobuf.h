/*
** Protobuf schemas (ext/protobuf.cc, the project's only C++): .proto text
** compiled at run time with libprotobuf's parser, messages decoded to JSON
** text and encoded from it, and the message-index array that the Confluent
** wire format puts before a Protobuf message.
**
** C outside, C++ inside: no exception crosses this header. Decoded JSON and
** encoded payloads come in memory from the caller's allocator (malloc when
** it gives none); errors come back as *err, a malloc'd sentence saying
** what and where (free() it). A compiled schema is immutable:
** any number of threads may decode and encode with it at once.
**
** The JSON is Protobuf's JSON mapping with the project's plain values:
** field names as in the .proto, enums by name, 64-bit integers as exact
** JSON numbers, bytes as hex digits (two per byte, as the Avro codec has
** them), google.protobuf.Timestamp as an integer of milliseconds since the
** epoch, the wrappers (Int64Value, ...) as their value, Struct, Value,
** ListValue, Any, Duration and FieldMask as the mapping writes them. A field without presence (a proto3 scalar that is
** not `optional`) always appears, with its default when the message did not
** carry it (Protobuf cannot tell the two apart); a field with presence
** (message, `optional`, oneof member, proto2) appears only when set.
*/
#ifndef KAFKA_PROTOBUF_H
#define KAFKA_PROTOBUF_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pb_schema pb_schema;   /* a .proto file with its imports */
typedef struct pb_message pb_message; /* one message type of a schema */

/* The caller's allocator for what decode and encode give back (NULL: malloc). */
typedef void *(*pb_alloc_fn)(size_t size);

/* Finds the .proto text of an import (`import "name";`): sets *text
** (malloc'd) and returns 0, or returns -1 with *err (malloc'd) saying why.
** Imports of google/protobuf/ (the well-known types) never reach it. */
typedef int (*pb_import_fn)(void *arg, const char *name, char **text, char **err);

/* Compiles .proto text, or a serialized FileDescriptorProto in base64 (as
** some registries keep a schema); `name` is the file name errors give it
** (a FileDescriptorProto's own name is not used: imports know files by
** their import names). Imports are resolved through `resolve` (NULL: only
** the well-known types). NULL with *err when the text or an import does
** not compile. */
pb_schema *pb_schema_compile(const char *name, const char *text, pb_import_fn resolve, void *arg,
                             char **err);
void pb_schema_free(pb_schema *schema);

/* A message type of the schema by name: fully qualified ("pkg.Outer.Inner")
** or relative to the schema's package ("Outer.Inner"); the schema's first
** message when name is NULL. NULL with *err when there is none. */
const pb_message *pb_schema_message(const pb_schema *schema, const char *name, char **err);

/* The message type's fully qualified name. */
const char *pb_message_name(const pb_message *message);

/* The top-level fields of a message type, in .proto order: their names and
** SQL types (INTEGER, REAL, TEXT or BLOB; repeated, map and message fields
** are JSON text, so TEXT, except the well-known types above). */
int pb_message_field_count(const pb_message *message);
const char *pb_message_field_name(const pb_message *message, int i);
const char *pb_message_field_sql_type(const pb_message *message, int i);

/* Decodes a wire-format payload (what follows the schema id: the
** message-index array, then the message) into JSON text (*json_len bytes,
** NUL-terminated, from alloc). NULL with *err saying why the bytes are not
** a message of the schema. */
char *pb_decode(const pb_schema *schema, const void *payload, size_t len, pb_alloc_fn alloc,
                size_t *json_len, char **err);

/* Encodes JSON text as a message of the type into a wire-format payload
** (the message-index array, then the message). Accepts what pb_decode
** writes and the library's JSON mapping (Timestamp as RFC 3339 text, 64-bit
** integers as strings, camelCase names), a nested field also as a string of
** JSON text (what a TEXT column gives), booleans also as 0 and 1. NULL
** with *err naming the field when the value does not fit. */
unsigned char *pb_encode(const pb_message *message, const char *json, size_t len, pb_alloc_fn alloc,
                         size_t *out_len, char **err);

#ifdef __cplusplus
}
#endif

#endif
