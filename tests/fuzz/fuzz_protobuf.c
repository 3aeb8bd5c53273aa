/*
** libFuzzer target: Protobuf payloads (ext/protobuf.cc through
** include/protobuf.h). The input is a payload as it follows the schema id
** in the wire format (message-index array, then the message), decoded with
** a schema of every kind of field; whatever the bytes, the answer is JSON
** text of the length it says, or an error. JSON of the first message goes
** back through encode (payload or error: a Timestamp past year 9999 or an
** Any of an unknown type read fine but do not encode).
*/
#include "protobuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char SCHEMA[] =
    "syntax = \"proto3\";\n"
    "package fuzz;\n"
    "import \"google/protobuf/timestamp.proto\";\n"
    "import \"google/protobuf/wrappers.proto\";\n"
    "import \"google/protobuf/struct.proto\";\n"
    "import \"google/protobuf/any.proto\";\n"
    "import \"google/protobuf/duration.proto\";\n"
    "enum E { A = 0; B = 1; }\n"
    "message M {\n"
    "  string s = 1; int32 i32 = 2; int64 i64 = 3; uint64 u64 = 4; sint32 s32 = 5; sint64 s64 = 6;\n"
    "  fixed32 f32 = 7; fixed64 f64 = 8; double d = 9; float f = 10; bool b = 11; bytes raw = 12;\n"
    "  E e = 13; repeated int32 packed = 14; repeated string strs = 15; map<string, M> children = 16;\n"
    "  map<int64, bool> flags = 17; google.protobuf.Timestamp at = 18; google.protobuf.Int64Value w = 19;\n"
    "  google.protobuf.Struct st = 20; google.protobuf.Any any = 21; google.protobuf.Duration du = 22;\n"
    "  oneof o { string os = 23; M om = 24; } optional int32 opt = 25;\n"
    "  message Inner { repeated M ms = 1; }\n"
    "  Inner inner = 26;\n"
    "}\n"
    "message Other { E e = 1; }\n";

static pb_schema *schema;
static const pb_message *first;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *err = NULL;
  if (!schema) {
    schema = pb_schema_compile("fuzz.proto", SCHEMA, NULL, NULL, &err);
    first = schema ? pb_schema_message(schema, NULL, &err) : NULL;
    if (!first) abort();
  }
  size_t json_len;
  char *json = pb_decode(schema, data, size, NULL, &json_len, &err);
  if (!json == !err || (json && strlen(json) != json_len)) abort();
  if (json && size && data[0] == 0) {
    size_t out_len;
    unsigned char *out = pb_encode(first, json, json_len, NULL, &out_len, &err);
    if (!out == !err) abort();
    free(out);
  }
  free(json);
  free(err);
  return 0;
}
