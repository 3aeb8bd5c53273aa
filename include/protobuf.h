/*
** Protobuf schemas (ext/codec/protobuf.cc, the project's only C++): .proto text
** compiled at run time with libprotobuf's parser, messages decoded to JSON
** text and encoded from it (and top-level fields read from and written to
** messages without that JSON, for typed columns), and the message-index
** array that the Confluent wire format puts before a Protobuf message.
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
#include <stdint.h>

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

/* Plain Protobuf (a schema from a .proto file, no registry: SPEC section
** 13): from this call on, pb_decode and pb_decode_fields read every
** payload as a message of type `message` (one of the schema's) without
** a message-index array, and pb_encode and pb_encode_fields write none.
** Called once, before the schema is used. */
void pb_schema_plain(pb_schema *schema, const pb_message *message);

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

/* A top-level field's value as a typed column reads it in pb_decode's JSON
** (SQLite's json_extract() of member `name`): a field the JSON leaves out
** (or the message type lacks) is NULL; integers, booleans (0, 1), enum
** numbers no name has and Timestamps (milliseconds) INTEGER; floats and
** doubles as their JSON text reads (REAL, an INTEGER when written without
** a point, TEXT for NaN and the infinities), uint64 past int64 REAL;
** strings up to a NUL character (json_extract() ends them at \u0000), enum
** names and bytes' hex digits TEXT; a wrapper as its value; lists, maps,
** messages and the library's well-known types as the JSON text pb_decode
** writes for them, to be read as json_extract() reads it. */
typedef enum pb_value_kind {
  PB_VALUE_NULL,
  PB_VALUE_INTEGER, /* i */
  PB_VALUE_REAL,    /* r */
  PB_VALUE_TEXT,    /* text, len: the text itself */
  PB_VALUE_JSON,    /* text, len: one JSON value, as pb_decode writes it */
  PB_VALUE_BLOB     /* text, len: bytes (pb_encode_fields only) */
} pb_value_kind;

typedef struct pb_value {
  pb_value_kind kind;
  int64_t i;
  double r;
  const char *text; /* not terminated; valid only while pb_value_fn runs */
  size_t len;
} pb_value;

/* A top-level field by name (len bytes, not terminated); name NULL: none. */
typedef struct pb_field_name {
  const char *name;
  size_t len;
} pb_field_name;

/* Takes the value of fields[i]; non-zero stops the decoding. */
typedef int (*pb_value_fn)(void *arg, int i, const pb_value *value);

/* Decodes a wire-format payload as pb_decode does (failing where it fails,
** with the same *err), then gives take the value of each field named in
** fields (n of them) in the message the payload holds, without writing its
** JSON. Returns 0, -1 with *err, or what take returned to stop. */
int pb_decode_fields(const pb_schema *schema, const void *payload, size_t len, const pb_field_name *fields, int n,
                     pb_value_fn take, void *arg, char **err);

/* Encodes JSON text as a message of the type into a wire-format payload
** (the message-index array, then the message). Accepts what pb_decode
** writes and the library's JSON mapping (Timestamp as RFC 3339 text, 64-bit
** integers as strings, camelCase names), a nested field also as a string of
** JSON text (what a TEXT column gives), booleans also as 0 and 1. NULL
** with *err naming the field when the value does not fit. */
unsigned char *pb_encode(const pb_message *message, const char *json, size_t len, pb_alloc_fn alloc,
                         size_t *out_len, char **err);

/* Encodes a message of the type from values[i] for the top-level fields
** fields[i] (name NULL: left out), as pb_encode would encode the JSON
** object of those values, when every value is plain for its field
** (INTEGER into an integer, bool (0, 1) or Timestamp (milliseconds) field
** in range, REAL into double or float, TEXT into string or an enum's
** name, BLOB into bytes). NULL when one is not, or a name is no field of
** the type, or on any other doubt: pb_encode then says what does not fit. */
unsigned char *pb_encode_fields(const pb_message *message, const pb_field_name *fields, const pb_value *values,
                                int n, pb_alloc_fn alloc, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif
