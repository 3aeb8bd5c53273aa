/*
** Protobuf schemas and messages (include/protobuf.h): the project's only
** C++. libprotobuf does the work: compiler::Parser turns .proto text into
** descriptors, a DescriptorPool links them with their imports,
** DynamicMessageFactory gives messages of those types, and the library's
** JSON mapping parses JSON (and writes Struct, Any, Duration, FieldMask).
** This file adds what the mapping does differently here: plain values for
** SQL (Timestamp as milliseconds, int64 as exact numbers, proto names), and
** the Confluent message-index array. Typed columns skip JSON both ways:
** reflection reads each column's field as json_extract() would read it in
** the JSON (column_reader), and sets plain values where the JSON mapping
** would set the same (set_field); anything else still goes through JSON.
**
** Every entry point runs its body inside guard(): no exception leaves this
** file. The library itself reports through error collectors and Status;
** its log lines (e.g. on invalid UTF-8) are silenced while it works.
*/
#include "protobuf.h"

#include <cjson/cJSON.h>
#include <google/protobuf/arena.h>
#include <google/protobuf/compiler/parser.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/stubs/strutil.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <cerrno>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <string>
#include <vector>

namespace gp = google::protobuf;
using gp::Descriptor;
using gp::FieldDescriptor;

struct pb_message {
  const Descriptor *type;
  const gp::Message *prototype; /* owned by the schema's factory */
  std::vector<int64_t> index;   /* the Confluent message-index path */
  bool has_required;            /* proto2 required fields in it or below: worth checking */
  /* Whether writing its JSON can fail where parsing did not (a string
  ** without UTF-8 checking, a Struct, Duration, ... in it or below): then
  ** pb_decode_fields writes the JSON too, to fail where pb_decode fails. */
  bool json_can_fail;
  /* A plain payload (pb_schema_plain): the message alone, no index array. */
  bool plain = false;
};

struct pb_schema {
  gp::DescriptorPool pool;          /* declared first: destroyed last */
  gp::DynamicMessageFactory factory;
  const gp::FileDescriptor *file = nullptr;
  std::map<const Descriptor *, std::unique_ptr<pb_message>> messages; /* every message of file */
  pb_message *plain = nullptr; /* pb_schema_plain: the type of every payload */
};

namespace {

/* ---- errors across the C boundary ---- */

char *dup_bytes(const char *data, size_t len, pb_alloc_fn alloc = malloc) {
  char *copy = static_cast<char *>(alloc(len + 1));
  if (!copy) throw std::bad_alloc();
  memcpy(copy, data, len);
  copy[len] = 0;
  return copy;
}

/* Runs body, turning any exception into *err and the value `failed`
** (the handlers copy the text with strdup: they must not throw). */
template <typename Body, typename Result>
Result guard(char **err, Result failed, Body body) {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    if (err) *err = strdup("protobuf: out of memory");
  } catch (const std::exception &e) {
    if (err) *err = strdup(e.what());
  } catch (...) {
    if (err) *err = strdup("protobuf: unexpected failure");
  }
  return failed;
}

/* Thrown inside this file for an error a user caused; guard() reports it. */
struct pb_failure : std::exception {
  std::string why;
  explicit pb_failure(std::string w) : why(std::move(w)) {}
  const char *what() const noexcept override { return why.c_str(); }
};

[[noreturn]] void fail(const std::string &why) { throw pb_failure(why); }

/* ---- well-known types ---- */

enum class wkt { plain, timestamp, wrapper, library };

/* How a message type shows in JSON: Timestamp and the wrappers as plain
** values, the rest of the well-known types as the library writes them. */
wkt kind_of(const Descriptor *d) {
  const std::string &file = d->file()->name();
  if (file.compare(0, 16, "google/protobuf/") != 0) return wkt::plain;
  if (d->full_name() == "google.protobuf.Timestamp") return wkt::timestamp;
  if (file == "google/protobuf/wrappers.proto") return wkt::wrapper;
  static const std::set<std::string> library = {
      "google.protobuf.Struct",   "google.protobuf.Value",    "google.protobuf.ListValue",
      "google.protobuf.Any",      "google.protobuf.Duration", "google.protobuf.FieldMask"};
  return library.count(d->full_name()) ? wkt::library : wkt::plain;
}

/* Whether a field's JSON form is an object or an array (so that a string
** given for it can only be JSON text, as a TEXT column gives it). */
bool holds_json(const FieldDescriptor *f) {
  if (f->is_repeated()) return true;
  if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return false;
  const Descriptor *d = f->message_type();
  wkt kind = kind_of(d);
  return kind == wkt::plain || d->full_name() == "google.protobuf.Struct" ||
         d->full_name() == "google.protobuf.ListValue" || d->full_name() == "google.protobuf.Any";
}

const char *sql_type(const FieldDescriptor *f) {
  if (f->is_repeated()) return "TEXT";
  switch (f->cpp_type()) {
  case FieldDescriptor::CPPTYPE_INT32:
  case FieldDescriptor::CPPTYPE_INT64:
  case FieldDescriptor::CPPTYPE_UINT32:
  case FieldDescriptor::CPPTYPE_UINT64:
  case FieldDescriptor::CPPTYPE_BOOL: return "INTEGER";
  case FieldDescriptor::CPPTYPE_DOUBLE:
  case FieldDescriptor::CPPTYPE_FLOAT: return "REAL";
  case FieldDescriptor::CPPTYPE_STRING: return f->type() == FieldDescriptor::TYPE_BYTES ? "BLOB" : "TEXT";
  case FieldDescriptor::CPPTYPE_ENUM: return "TEXT";
  case FieldDescriptor::CPPTYPE_MESSAGE:
    switch (kind_of(f->message_type())) {
    case wkt::timestamp: return "INTEGER";
    case wkt::wrapper: return sql_type(f->message_type()->field(0));
    default: return "TEXT";
    }
  }
  return "TEXT";
}

/* Saturating: a Timestamp's seconds come from the wire unchecked. */
int64_t timestamp_ms(int64_t seconds, int32_t nanos) {
  int64_t ms;
  if (__builtin_mul_overflow(seconds, 1000, &ms)) return seconds < 0 ? INT64_MIN : INT64_MAX;
  int64_t sub = nanos / 1000000 - (nanos % 1000000 < 0); /* floor */
  if (__builtin_add_overflow(ms, sub, &ms)) return sub < 0 ? INT64_MIN : INT64_MAX;
  return ms;
}

/* The seconds and nanoseconds of a Timestamp ms milliseconds after the
** epoch; false outside years 1 to 9999 (the JSON mapping's range). */
bool timestamp_parts(int64_t ms, int64_t *seconds, int32_t *nanos) {
  *seconds = ms / 1000 - (ms % 1000 < 0); /* floor */
  if (*seconds < gp::util::TimeUtil::kTimestampMinSeconds || *seconds > gp::util::TimeUtil::kTimestampMaxSeconds)
    return false;
  *nanos = static_cast<int32_t>(ms - *seconds * 1000) * 1000000;
  return true;
}

/* Sets Timestamp field f of msg to ms milliseconds after the epoch, as the
** JSON mapping sets it from RFC 3339 text; false outside its range. */
bool set_timestamp(gp::Message &msg, const FieldDescriptor *f, int64_t ms) {
  int64_t seconds;
  int32_t nanos;
  if (!timestamp_parts(ms, &seconds, &nanos)) return false;
  gp::Message *ts = msg.GetReflection()->MutableMessage(&msg, f);
  const Descriptor *d = ts->GetDescriptor();
  ts->GetReflection()->SetInt64(ts, d->field(0), seconds);
  ts->GetReflection()->SetInt32(ts, d->field(1), nanos);
  return true;
}

/* Bytes in JSON are hex digits, two per byte (as the Avro codec has them;
** a BLOB typed column reads them back as a BLOB). */
std::string hex_of(const std::string &bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    hex += digits[b >> 4];
    hex += digits[b & 15];
  }
  return hex;
}

int hex_value(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The bytes of hex text; false when it is not hex digits, two per byte. */
bool bytes_of(const char *hex, std::string &bytes) {
  size_t n = strlen(hex);
  if (n % 2) return false;
  for (size_t i = 0; i < n; i += 2) {
    int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    bytes += static_cast<char>(hi << 4 | lo);
  }
  return true;
}

/* ---- compiling .proto text ---- */

/* "file:line:col: " of a place in a file (line and column from 0). */
std::string place(const std::string &file, int line, int column) {
  return file + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": ";
}

/* The first error of the parser or of the pool, as "file:line:col: why";
** the pool's errors find their line in the parser's locations (none for a
** file given as a serialized descriptor: then "file: element: why"). */
class first_error : public gp::io::ErrorCollector, public gp::DescriptorPool::ErrorCollector {
public:
  std::string text;
  std::string file;
  const gp::compiler::SourceLocationTable *locations = nullptr;
  void AddError(int line, gp::io::ColumnNumber column, const std::string &message) override {
    if (text.empty()) text = place(file, line, column) + message;
  }
  void AddError(const std::string &filename, const std::string &element, const gp::Message *descriptor,
                ErrorLocation location, const std::string &message) override {
    int line, column;
    if (!text.empty()) return;
    if (locations && locations->Find(descriptor, location, &line, &column))
      text = place(filename, line, column) + (element.empty() ? "" : element + ": ") + message;
    else
      text = filename + (element.empty() ? "" : ": " + element) + ": " + message;
  }
};

class schema_compiler {
public:
  schema_compiler(pb_schema &schema, pb_import_fn resolve, void *arg)
      : schema_(schema), resolve_(resolve), arg_(arg) {}

  /* Builds the file `name` into the pool after its imports; text is its
  ** .proto text, or NULL to find it (well-known type or resolver), for
  ** an import at `where` ("file:line:col: " of the import statement). */
  const gp::FileDescriptor *build(const std::string &name, const char *text, int depth = 0,
                                  const std::string &where = "") {
    if (const gp::FileDescriptor *built = schema_.pool.FindFileByName(name)) return built;
    if (depth > 64) fail("imports nest deeper than 64 files at \"" + name + "\"");
    if (!building_.insert(name).second) fail("import cycle through \"" + name + "\"");
    gp::FileDescriptorProto proto;
    gp::compiler::SourceLocationTable locations;
    if (text) parse(name, text, proto, locations);
    else find(name, proto, locations, where);
    for (const std::string &dep : proto.dependency()) {
      int line, column;
      build(dep, nullptr, depth + 1, locations.FindImport(&proto, dep, &line, &column) ? place(name, line, column) : "");
    }
    building_.erase(name);
    first_error errors;
    errors.locations = &locations;
    const gp::FileDescriptor *file = schema_.pool.BuildFileCollectingErrors(proto, &errors);
    if (!file) fail(errors.text);
    return file;
  }

private:
  pb_schema &schema_;
  pb_import_fn resolve_;
  void *arg_;
  std::set<std::string> building_;

  /* Schema text is .proto text, or a serialized FileDescriptorProto in
  ** base64: what confluent-kafka's Python serializer registers, and what
  ** a registry that does not convert it (Apicurio) gives back. */
  static void parse(const std::string &name, const char *text, gp::FileDescriptorProto &proto,
                    gp::compiler::SourceLocationTable &locations) {
    if (!parse_serialized(text, proto)) parse_text(name, text, proto, locations);
    proto.set_name(name);
  }

  static bool parse_serialized(const char *text, gp::FileDescriptorProto &proto) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n";
    size_t n = strlen(text);
    std::string bytes;
    return n && strspn(text, alphabet) == n && gp::Base64Unescape(gp::StringPiece(text, n), &bytes) &&
           proto.ParseFromString(bytes);
  }

  static void parse_text(const std::string &name, const char *text, gp::FileDescriptorProto &proto,
                         gp::compiler::SourceLocationTable &locations) {
    gp::io::ArrayInputStream input(text, static_cast<int>(strlen(text)));
    first_error errors;
    errors.file = name;
    gp::io::Tokenizer tokenizer(&input, &errors);
    gp::compiler::Parser parser;
    parser.RecordErrorsTo(&errors);
    parser.RecordSourceLocationsTo(&locations);
    if (!parser.Parse(&tokenizer, &proto) || !errors.text.empty())
      fail(errors.text.empty() ? name + ": not a .proto file" : errors.text);
  }

  /* An import: a well-known type from the descriptors libprotobuf was
  ** built with, anything else through the resolver (the registry). */
  void find(const std::string &name, gp::FileDescriptorProto &proto, gp::compiler::SourceLocationTable &locations,
            const std::string &where) {
    const gp::FileDescriptor *known = name.compare(0, 16, "google/protobuf/") == 0
                                          ? gp::DescriptorPool::generated_pool()->FindFileByName(name)
                                          : nullptr;
    if (known) {
      known->CopyTo(&proto);
      return;
    }
    if (!resolve_) fail(where + "import \"" + name + "\" cannot be resolved: the schema has no references");
    char *text = nullptr, *why = nullptr;
    int rc = resolve_(arg_, name.c_str(), &text, &why);
    std::unique_ptr<char, decltype(&free)> text_owner(text, free), why_owner(why, free);
    if (rc) fail(where + "import \"" + name + "\" cannot be resolved: " + (why ? why : "unknown reason"));
    parse(name, text, proto, locations);
  }
};

/* Whether a field of d, or of a message type below it, passes test. */
template <typename Test> bool any_field(const Descriptor *d, Test test, std::set<const Descriptor *> &seen) {
  if (!seen.insert(d).second) return false;
  for (int i = 0; i < d->field_count(); i++) {
    const FieldDescriptor *f = d->field(i);
    if (test(f) || (f->message_type() && any_field(f->message_type(), test, seen))) return true;
  }
  return false;
}

bool has_required(const Descriptor *d) {
  std::set<const Descriptor *> seen;
  return any_field(d, [](const FieldDescriptor *f) { return f->is_required(); }, seen);
}

/* The parser checks the UTF-8 of proto3 strings only; the library's JSON
** of a Struct, Duration, ... may refuse a value (an Any's falls back). */
bool json_can_fail(const Descriptor *d) {
  std::set<const Descriptor *> seen;
  return any_field(d, [](const FieldDescriptor *f) {
    if (f->type() == FieldDescriptor::TYPE_STRING) return f->file()->syntax() != gp::FileDescriptor::SYNTAX_PROTO3;
    return f->message_type() && kind_of(f->message_type()) == wkt::library &&
           f->message_type()->full_name() != "google.protobuf.Any";
  }, seen);
}

/* Every message type of the file, nested ones included, with its path of
** indexes (top-level index, then nested indexes) as the wire format has it. */
void add_messages(pb_schema &schema, const Descriptor *d, std::vector<int64_t> index) {
  for (int i = 0; i < d->nested_type_count(); i++) {
    std::vector<int64_t> nested = index;
    nested.push_back(i);
    add_messages(schema, d->nested_type(i), nested);
  }
  schema.messages[d].reset(
      new pb_message{d, schema.factory.GetPrototype(d), std::move(index), has_required(d), json_can_fail(d)});
}

/* ---- the message-index array ---- */

/* A zigzag varint (Confluent's index array); false when cut short. */
bool read_varint(const unsigned char *&p, const unsigned char *end, int64_t *value) {
  uint64_t raw = 0;
  for (int shift = 0; p < end && shift < 64; shift += 7) {
    unsigned char byte = *p++;
    raw |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) {
      *value = static_cast<int64_t>(raw >> 1) ^ -static_cast<int64_t>(raw & 1);
      return true;
    }
  }
  return false;
}

void write_varint(std::string &out, int64_t value) {
  uint64_t raw = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  for (; raw >= 0x80; raw >>= 7) out += static_cast<char>(raw | 0x80);
  out += static_cast<char>(raw);
}

std::string index_text(const std::vector<int64_t> &index) {
  std::string text = "[";
  for (size_t i = 0; i < index.size(); i++) text += (i ? ", " : "") + std::to_string(index[i]);
  return text + "]";
}

/* The message type the payload's index array names; *used: its length. A
** length of 0 is Confluent's shorthand for [0], the first message. */
pb_message &read_index(const pb_schema &schema, const unsigned char *p, size_t len, size_t *used) {
  *used = 0;
  if (schema.plain) return *schema.plain;
  const unsigned char *start = p, *end = p + len;
  int64_t count;
  if (!read_varint(p, end, &count)) fail("the message-index array is cut short");
  if (count < 0) fail("the message-index array has a negative length (" + std::to_string(count) + ")");
  const Descriptor *d = nullptr;
  std::vector<int64_t> index;
  for (int64_t i = 0; i < (count ? count : 1); i++) {
    int64_t at = 0;
    if (count && !read_varint(p, end, &at)) fail("the message-index array is cut short");
    index.push_back(at);
    int n = d ? d->nested_type_count() : schema.file->message_type_count();
    if (at < 0 || at >= n)
      fail("message index " + index_text(index) + " points past the " + std::to_string(n) +
           (d ? " nested messages of " + d->full_name() : " messages of the schema"));
    d = d ? d->nested_type(static_cast<int>(at)) : schema.file->message_type(static_cast<int>(at));
  }
  *used = static_cast<size_t>(p - start);
  return *schema.messages.at(d);
}

/* ---- messages to JSON ---- */

/* A JSON string: runs that need no escape are appended whole. */
void json_string(std::string &out, const std::string &s) {
  static const char hex[] = "0123456789abcdef";
  out += '"';
  size_t run = 0;
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s, run, i - run);
    run = i + 1;
    if (c >= 0x20) {
      out += '\\';
      out += static_cast<char>(c);
    } else {
      const char escape[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      out.append(escape, sizeof escape);
    }
  }
  out.append(s, run, std::string::npos);
  out += '"';
}

template <typename T> void json_float(std::string &out, T v, std::string (*shortest)(T)) {
  if (std::isnan(v)) out += "\"NaN\"";
  else if (std::isinf(v)) out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  else out += shortest(v);
}

/* Whether a field is left out of the JSON: one with presence, not set. */
bool absent(const gp::Message &msg, const FieldDescriptor *f) {
  return !f->is_repeated() && f->has_presence() && !msg.GetReflection()->HasField(msg, f);
}

/* How an enum value shows: null (google.protobuf.NullValue), its number
** (when no name has it), or its name. */
enum class enum_shows { null, number, name };

enum_shows enum_form(const gp::EnumValueDescriptor *e) {
  if (e->type()->full_name() == "google.protobuf.NullValue") return enum_shows::null;
  if (e->index() < 0 || e->type()->FindValueByNumber(e->number()) != e) return enum_shows::number;
  return enum_shows::name;
}

/* Writes a message as the JSON of include/protobuf.h. */
class json_writer {
public:
  explicit json_writer(std::string &out) : out_(out) {}

  void message(const gp::Message &msg) {
    const Descriptor *d = msg.GetDescriptor();
    bool first = true;
    out_ += '{';
    for (int i = 0; i < d->field_count(); i++) {
      const FieldDescriptor *f = d->field(i);
      if (absent(msg, f)) continue;
      if (!first) out_ += ',';
      first = false;
      json_string(out_, f->name());
      out_ += ':';
      field(msg, f);
    }
    out_ += '}';
  }

  /* The JSON of field f of msg (its value, its list or its map). */
  void field(const gp::Message &msg, const FieldDescriptor *f) {
    const gp::Reflection *r = msg.GetReflection();
    int n = f->is_repeated() ? r->FieldSize(msg, f) : 0;
    if (f->is_map()) {
      out_ += '{';
      for (int j = 0; j < n; j++) {
        const gp::Message &entry = r->GetRepeatedMessage(msg, f, j);
        if (j) out_ += ',';
        /* The key's JSON, quoted unless it is a string already: JSON
        ** keys are strings, Protobuf's may be integers or booleans. */
        std::string key;
        std::swap(key, out_);
        value(entry, f->message_type()->map_key(), -1);
        std::swap(key, out_);
        if (key[0] == '"') out_ += key;
        else json_string(out_, key);
        out_ += ':';
        value(entry, f->message_type()->map_value(), -1);
      }
      out_ += '}';
    } else if (f->is_repeated()) {
      out_ += '[';
      for (int j = 0; j < n; j++) {
        if (j) out_ += ',';
        value(msg, f, j);
      }
      out_ += ']';
    } else {
      value(msg, f, -1);
    }
  }

  /* The JSON of a message-typed value: Timestamp, the wrappers and the
  ** library's types as include/protobuf.h says. */
  void sub_message(const gp::Message &sub) {
    const Descriptor *d = sub.GetDescriptor();
    switch (kind_of(d)) {
    case wkt::plain: message(sub); break;
    case wkt::timestamp: {
      const gp::Reflection *r = sub.GetReflection();
      out_ += std::to_string(timestamp_ms(r->GetInt64(sub, d->field(0)), r->GetInt32(sub, d->field(1))));
      break;
    }
    case wkt::wrapper: value(sub, d->field(0), -1); break;
    case wkt::library: library_json(sub); break;
    }
  }

private:
  std::string &out_;
  std::string scratch_;

/* One value of field f: the singular value when j < 0, else element j. */
#define GET(Kind) (j < 0 ? r->Get##Kind(msg, f) : r->GetRepeated##Kind(msg, f, j))
  void value(const gp::Message &msg, const FieldDescriptor *f, int j) {
    const gp::Reflection *r = msg.GetReflection();
    switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: out_ += std::to_string(GET(Int32)); break;
    case FieldDescriptor::CPPTYPE_INT64: out_ += std::to_string(GET(Int64)); break;
    case FieldDescriptor::CPPTYPE_UINT32: out_ += std::to_string(GET(UInt32)); break;
    case FieldDescriptor::CPPTYPE_UINT64: out_ += std::to_string(GET(UInt64)); break;
    case FieldDescriptor::CPPTYPE_DOUBLE: json_float(out_, GET(Double), gp::SimpleDtoa); break;
    case FieldDescriptor::CPPTYPE_FLOAT: json_float(out_, GET(Float), gp::SimpleFtoa); break;
    case FieldDescriptor::CPPTYPE_BOOL: out_ += GET(Bool) ? "true" : "false"; break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const gp::EnumValueDescriptor *e = GET(Enum);
      switch (enum_form(e)) {
      case enum_shows::null: out_ += "null"; break;
      case enum_shows::number: out_ += std::to_string(e->number()); break;
      case enum_shows::name: json_string(out_, e->name()); break;
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      const std::string &s =
          j < 0 ? r->GetStringReference(msg, f, &scratch_) : r->GetRepeatedStringReference(msg, f, j, &scratch_);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        json_string(out_, hex_of(s));
      } else if (!gp::internal::IsStructurallyValidUTF8(s)) { /* proto2 strings are unchecked */
        fail("field " + f->full_name() + " holds a string that is not UTF-8");
      } else {
        json_string(out_, s);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: sub_message(GET(Message)); break;
    }
  }
#undef GET

  /* Struct, Value, ListValue, Any, Duration, FieldMask: the library's
  ** JSON. An Any whose type is not in the schema stays its type URL and
  ** its bytes. */
  void library_json(const gp::Message &sub) {
    gp::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    std::string text;
    if (gp::util::MessageToJsonString(sub, &text, options).ok()) {
      out_ += text;
      return;
    }
    const Descriptor *d = sub.GetDescriptor();
    if (d->full_name() != "google.protobuf.Any")
      fail("a " + d->full_name() + " value cannot be written as JSON");
    const gp::Reflection *r = sub.GetReflection();
    out_ += "{\"@type\":";
    json_string(out_, r->GetString(sub, d->field(0)));
    out_ += ",\"value\":";
    json_string(out_, hex_of(r->GetString(sub, d->field(1))));
    out_ += '}';
  }
};

/* ---- JSON to messages ---- */

/* cJSON keeps numbers as doubles, which cannot hold every int64: each
** number node becomes a raw node holding the number's own text, found by
** scanning the text for number tokens in document order (the order of
** cJSON's tree). Then the tree prints back every number exactly. */
void collect_numbers(cJSON *node, std::vector<cJSON *> &numbers) {
  for (; node; node = node->next) {
    if (cJSON_IsNumber(node)) numbers.push_back(node);
    collect_numbers(node->child, numbers);
  }
}

cJSON *parse_exact(const std::string &text) {
  std::unique_ptr<cJSON, decltype(&cJSON_Delete)> root(
      cJSON_ParseWithLengthOpts(text.c_str(), text.size() + 1, nullptr, 1), cJSON_Delete);
  if (!root) return nullptr;
  std::vector<cJSON *> numbers;
  collect_numbers(root.get(), numbers);
  size_t k = 0;
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == '"') {
      for (i++; i < text.size() && text[i] != '"'; i++) i += text[i] == '\\';
      i++;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t start = i;
      while (i < text.size() && strchr("+-.0123456789eE", text[i])) i++;
      if (k == numbers.size()) return nullptr;
      cJSON *node = numbers[k++];
      node->type = cJSON_Raw;
      node->valuestring = static_cast<char *>(cJSON_malloc(i - start + 1));
      if (!node->valuestring) throw std::bad_alloc();
      memcpy(node->valuestring, text.data() + start, i - start);
      node->valuestring[i - start] = 0;
    } else {
      i++;
    }
  }
  return k == numbers.size() ? root.release() : nullptr;
}

void set_string(cJSON *node, const std::string &s) {
  char *copy = static_cast<char *>(cJSON_malloc(s.size() + 1));
  if (!copy) throw std::bad_alloc();
  memcpy(copy, s.c_str(), s.size() + 1);
  cJSON_free(node->valuestring);
  node->valuestring = copy;
  node->type = cJSON_String;
}

/* A field by its .proto name or its JSON (camelCase) name. */
const FieldDescriptor *find_field(const Descriptor *d, const char *name) {
  if (const FieldDescriptor *f = d->FindFieldByName(name)) return f;
  for (int i = 0; i < d->field_count(); i++)
    if (d->field(i)->json_name() == name) return d->field(i);
  return nullptr;
}

/* Rewrites the plain values of include/protobuf.h into the library's JSON
** mapping, following the message type: Timestamp milliseconds to RFC 3339
** text, hex bytes to base64, 0 and 1 to booleans, JSON text in a string to
** what it holds. The library then checks everything else and names what
** does not fit. */
class json_adapter {
public:
  void message(cJSON *object, const Descriptor *d, const std::string &path) {
    for (cJSON *item = object->child; item; item = item->next) {
      const FieldDescriptor *f = item->string ? find_field(d, item->string) : nullptr;
      if (!f || cJSON_IsNull(item)) continue; /* the library names unknown fields */
      std::string at = path.empty() ? f->name() : path + "." + f->name();
      if (cJSON_IsString(item) && holds_json(f)) item = unwrap_text(object, item, at);
      if (f->is_map() && cJSON_IsObject(item)) {
        for (cJSON *entry = item->child; entry; entry = entry->next)
          field(item, entry, f->message_type()->map_value(), at + "[\"" + entry->string + "\"]");
      } else if (f->is_repeated() && cJSON_IsArray(item)) {
        int i = 0;
        for (cJSON *element = item->child; element; element = element->next, i++)
          field(item, element, f, at + "[" + std::to_string(i) + "]");
      } else if (!f->is_repeated()) {
        field(object, item, f, at);
      }
    }
  }

private:
  /* A string given for a message or list: the JSON text it holds. */
  static cJSON *unwrap_text(cJSON *parent, cJSON *item, const std::string &at) {
    cJSON *parsed = parse_exact(item->valuestring);
    if (!parsed || (!cJSON_IsObject(parsed) && !cJSON_IsArray(parsed))) {
      cJSON_Delete(parsed);
      fail("field " + at + ": a string given for a message, list or map must be JSON text of one");
    }
    parsed->string = item->string;
    item->string = nullptr;
    cJSON_ReplaceItemViaPointer(parent, item, parsed);
    return parsed;
  }

  void field(cJSON *parent, cJSON *item, const FieldDescriptor *f, const std::string &at) {
    if (f->type() == FieldDescriptor::TYPE_BYTES && cJSON_IsString(item)) {
      std::string bytes, encoded;
      if (!bytes_of(item->valuestring, bytes)) fail("field " + at + ": expected a string of hex digits (two per byte)");
      gp::Base64Escape(bytes, &encoded);
      set_string(item, encoded);
      return;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_BOOL && cJSON_IsRaw(item)) {
      if (!strcmp(item->valuestring, "0") || !strcmp(item->valuestring, "1")) {
        bool on = item->valuestring[0] == '1';
        cJSON_free(item->valuestring);
        item->valuestring = nullptr;
        item->type = on ? cJSON_True : cJSON_False;
      }
      return;
    }
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return;
    const Descriptor *d = f->message_type();
    switch (kind_of(d)) {
    case wkt::timestamp:
      if (cJSON_IsRaw(item)) set_string(item, rfc3339(item->valuestring, at));
      break;
    case wkt::wrapper: field(parent, item, d->field(0), at); break;
    case wkt::library: break;
    case wkt::plain:
      if (cJSON_IsString(item)) item = unwrap_text(parent, item, at);
      if (cJSON_IsObject(item)) message(item, d, at);
      break;
    }
  }

  static std::string rfc3339(const char *ms_text, const std::string &at) {
    char *end;
    errno = 0;
    long long ms = strtoll(ms_text, &end, 10);
    int64_t seconds;
    int32_t nanos;
    if (*end || errno || !timestamp_parts(ms, &seconds, &nanos))
      fail("field " + at + ": a Timestamp is an integer of milliseconds since the epoch (years 1 to 9999) "
           "or RFC 3339 text, not " + ms_text);
    return gp::util::TimeUtil::ToString(gp::util::TimeUtil::MillisecondsToTimestamp(ms));
  }
};

/* The library's Status text as a sentence naming the field. It says
** "(path): why", "(path) name: Cannot find field." for an unknown name,
** "(path): missing field name" for a missing required field. */
std::string parse_error(const gp::util::Status &status, const Descriptor *d) {
  std::string why(status.message().data(), status.message().size()), path;
  size_t close = why[0] == '(' ? why.find(')') : std::string::npos;
  if (close != std::string::npos) {
    path = why.substr(1, close - 1);
    why.erase(0, close + 1);
  }
  auto field = [&path](const std::string &name) { return path.empty() ? name : path + "." + name; };
  const std::string unknown = ": Cannot find field.", missing = ": missing field ";
  size_t name = why.find_first_not_of(' ');
  if (why.size() > unknown.size() && why.compare(why.size() - unknown.size(), unknown.size(), unknown) == 0)
    why = "field " + field(why.substr(name, why.size() - unknown.size() - name)) + ": not in the message";
  else if (why.compare(0, missing.size(), missing) == 0)
    why = "field " + field(why.substr(missing.size())) + ": missing (it is required)";
  else
    why = "field " + path + why;
  return "value does not fit message " + d->full_name() + ": " + why;
}

/* A message of the type from JSON text, or a failure naming the field. */
void message_from_json(const pb_message &m, const char *json, size_t len, gp::Message *msg) {
  std::unique_ptr<cJSON, decltype(&cJSON_Delete)> root(parse_exact(std::string(json, len)), cJSON_Delete);
  if (!root) fail("value is not valid JSON");
  if (!cJSON_IsObject(root.get())) fail("value must be a JSON object (a " + m.type->full_name() + " message)");
  try {
    json_adapter().message(root.get(), m.type, "");
  } catch (const pb_failure &e) {
    fail("value does not fit message " + m.type->full_name() + ": " + e.why);
  }
  std::unique_ptr<char, decltype(&cJSON_free)> text(cJSON_PrintUnformatted(root.get()), cJSON_free);
  if (!text) throw std::bad_alloc();
  gp::util::JsonParseOptions options;
  gp::util::Status status = gp::util::JsonStringToMessage(text.get(), msg, options);
  if (!status.ok()) fail(parse_error(status, m.type));
  if (m.has_required && !msg->IsInitialized())
    fail("value does not fit message " + m.type->full_name() + ": missing required field(s) " +
         msg->InitializationErrorString());
}

/* An arena whose first block is on the stack: most messages need no heap. */
struct stack_arena {
  char block[8192];
  gp::ArenaOptions options() {
    gp::ArenaOptions o;
    o.initial_block = block;
    o.initial_block_size = sizeof block;
    return o;
  }
  gp::Arena arena{options()};
};

/* Field `name` of d; field `hint` is tried first (typed columns made from
** a schema are its fields in order: looking it up by name cost a tenth of
** reading a small message's columns). */
const FieldDescriptor *field_named(const Descriptor *d, const pb_field_name &name, int hint) {
  if (hint < d->field_count()) {
    const std::string &guess = d->field(hint)->name();
    if (guess.size() == name.len && !memcmp(guess.data(), name.name, name.len)) return d->field(hint);
  }
  return d->FindFieldByName(std::string(name.name, name.len));
}

/* The message a payload holds (the message-index array, then the
** message), made on arena; a failure says why the bytes are not one. A
** new message is merged into (all of the bytes, or it fails): parsing
** would first clear it field by field through reflection, a third of the
** time of a small message. */
const gp::Message &parse_payload(const pb_schema &schema, const void *payload, size_t len, gp::Arena &arena) {
  const unsigned char *p = static_cast<const unsigned char *>(payload);
  size_t used;
  const pb_message &m = read_index(schema, p, len, &used);
  if (len - used > INT_MAX) fail("message is larger than 2 GiB");
  gp::Message *msg = m.prototype->New(&arena);
  gp::io::ArrayInputStream input(p + used, static_cast<int>(len - used));
  if (!msg->MergePartialFromBoundedZeroCopyStream(&input, static_cast<int>(len - used)))
    fail((m.plain ? std::string("bytes") : "bytes after message index " + index_text(m.index)) +
         " do not parse as message " + m.type->full_name());
  if (m.has_required && !msg->IsInitialized())
    fail("message " + m.type->full_name() + " lacks required field(s) " + msg->InitializationErrorString());
  if (m.json_can_fail) { /* fail where pb_decode would */
    static thread_local std::string json;
    json.clear();
    json_writer(json).message(*msg);
  }
  return *msg;
}

/* The values of top-level fields as typed columns read them in the JSON
** of include/protobuf.h (json_extract(): strings decoded, numbers as
** INTEGER when written without a point or exponent), taken from the
** message without writing that JSON, except for the fields whose value is
** JSON text there. */
class column_reader {
public:
  /* Field f of msg (a field of its type): what the column of that name reads. */
  pb_value field(const gp::Message &msg, const FieldDescriptor *f) {
    if (absent(msg, f)) return pb_value{};
    if (f->is_repeated()) {
      json_.clear();
      json_writer(json_).field(msg, f);
      return json();
    }
    const gp::Reflection *r = msg.GetReflection();
    switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: return integer(r->GetInt32(msg, f));
    case FieldDescriptor::CPPTYPE_INT64: return integer(r->GetInt64(msg, f));
    case FieldDescriptor::CPPTYPE_UINT32: return integer(r->GetUInt32(msg, f));
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t u = r->GetUInt64(msg, f); /* past int64, JSON's digits read as REAL */
      return u <= INT64_MAX ? integer(static_cast<int64_t>(u)) : real(static_cast<double>(u));
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: return number(r->GetDouble(msg, f), gp::SimpleDtoa);
    case FieldDescriptor::CPPTYPE_FLOAT: return number(r->GetFloat(msg, f), gp::SimpleFtoa);
    case FieldDescriptor::CPPTYPE_BOOL: return integer(r->GetBool(msg, f));
    case FieldDescriptor::CPPTYPE_ENUM: {
      const gp::EnumValueDescriptor *e = r->GetEnum(msg, f);
      switch (enum_form(e)) {
      case enum_shows::null: return pb_value{};
      case enum_shows::number: return integer(e->number());
      case enum_shows::name: return text(e->name());
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      const std::string &s = r->GetStringReference(msg, f, &scratch_);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        hex_ = hex_of(s);
        return text(hex_);
      }
      /* JSON has a NUL as \u0000, where json_extract() ends the string. */
      return pb_value{PB_VALUE_TEXT, 0, 0, s.data(), strnlen(s.data(), s.size())};
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: return sub_message(r->GetMessage(msg, f));
    }
    return pb_value{};
  }

private:
  std::string scratch_, hex_, json_;

  pb_value sub_message(const gp::Message &sub) {
    const Descriptor *d = sub.GetDescriptor();
    switch (kind_of(d)) {
    case wkt::timestamp: {
      const gp::Reflection *r = sub.GetReflection();
      return integer(timestamp_ms(r->GetInt64(sub, d->field(0)), r->GetInt32(sub, d->field(1))));
    }
    case wkt::wrapper: return field(sub, d->field(0));
    default:
      json_.clear();
      json_writer(json_).sub_message(sub);
      return json();
    }
  }

  static pb_value integer(int64_t i) { return pb_value{PB_VALUE_INTEGER, i, 0, nullptr, 0}; }
  static pb_value real(double r) { return pb_value{PB_VALUE_REAL, 0, r, nullptr, 0}; }
  static pb_value text(const std::string &s) { return pb_value{PB_VALUE_TEXT, 0, 0, s.data(), s.size()}; }
  pb_value json() const { return pb_value{PB_VALUE_JSON, 0, 0, json_.data(), json_.size()}; }

  /* A float or double as JSON has it: NaN and the infinities as strings,
  ** else the shortest text that reads back as the value. A double with a
  ** fraction is that text's REAL; any other number goes by its text. */
  template <typename T> pb_value number(T v, std::string (*shortest)(T)) {
    if (std::isnan(v)) return pb_value{PB_VALUE_TEXT, 0, 0, "NaN", 3};
    if (std::isinf(v)) return v > 0 ? pb_value{PB_VALUE_TEXT, 0, 0, "Infinity", 8} : pb_value{PB_VALUE_TEXT, 0, 0, "-Infinity", 9};
    if (sizeof v == sizeof(double) && v != std::trunc(v)) return real(static_cast<double>(v));
    scratch_ = shortest(v);
    if (scratch_.find_first_of(".eE") == std::string::npos) {
      errno = 0;
      long long i = strtoll(scratch_.c_str(), nullptr, 10);
      if (!errno) return integer(i);
    }
    return real(strtod(scratch_.c_str(), nullptr));
  }
};

/* The wire-format payload of a message of the type: its index array
** (Confluent's single 0 for [0]; none when plain), then the message (from
** alloc). */
unsigned char *payload_of(const pb_message &type, const gp::Message &msg, pb_alloc_fn alloc, size_t *out_len) {
  std::string out;
  if (!type.plain && type.index == std::vector<int64_t>{0}) {
    write_varint(out, 0);
  } else if (!type.plain) {
    write_varint(out, static_cast<int64_t>(type.index.size()));
    for (int64_t i : type.index) write_varint(out, i);
  }
  if (!msg.AppendToString(&out)) fail("message " + type.type->full_name() + " cannot be serialized");
  *out_len = out.size();
  return reinterpret_cast<unsigned char *>(dup_bytes(out.data(), out.size(), alloc ? alloc : malloc));
}

/* Sets field f of msg to a value as the library's JSON mapping would set
** it from that value's JSON, when that is plain: integers in range, a
** number into double or float (within its range), UTF-8 text into a
** string, an enum's name, bytes, milliseconds into a Timestamp. false
** for anything else (the JSON mapping then decides, and names the field
** when the value does not fit). */
bool set_field(gp::Message &msg, const FieldDescriptor *f, const pb_value &v) {
  const gp::Reflection *r = msg.GetReflection();
  switch (v.kind) {
  case PB_VALUE_INTEGER:
    switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      if (v.i < INT32_MIN || v.i > INT32_MAX) return false;
      r->SetInt32(&msg, f, static_cast<int32_t>(v.i));
      return true;
    case FieldDescriptor::CPPTYPE_INT64: r->SetInt64(&msg, f, v.i); return true;
    case FieldDescriptor::CPPTYPE_UINT32:
      if (v.i < 0 || v.i > UINT32_MAX) return false;
      r->SetUInt32(&msg, f, static_cast<uint32_t>(v.i));
      return true;
    case FieldDescriptor::CPPTYPE_UINT64:
      if (v.i < 0) return false;
      r->SetUInt64(&msg, f, static_cast<uint64_t>(v.i));
      return true;
    case FieldDescriptor::CPPTYPE_BOOL:
      if (v.i != 0 && v.i != 1) return false;
      r->SetBool(&msg, f, v.i == 1);
      return true;
    case FieldDescriptor::CPPTYPE_MESSAGE: return kind_of(f->message_type()) == wkt::timestamp && set_timestamp(msg, f, v.i);
    default: return false;
    }
  case PB_VALUE_REAL:
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) r->SetDouble(&msg, f, v.r);
    else if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT && std::fabs(v.r) <= FLT_MAX) r->SetFloat(&msg, f, static_cast<float>(v.r));
    else return false;
    return true;
  case PB_VALUE_TEXT:
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      r->SetString(&msg, f, std::string(v.text, v.len));
      return true;
    }
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
      const gp::EnumValueDescriptor *e = f->enum_type()->FindValueByName(std::string(v.text, v.len));
      if (e) r->SetEnum(&msg, f, e);
      return e != nullptr;
    }
    return false;
  case PB_VALUE_BLOB:
    if (f->type() != FieldDescriptor::TYPE_BYTES) return false;
    r->SetString(&msg, f, std::string(v.text, v.len));
    return true;
  default: return false;
  }
}

} // namespace

extern "C" {

pb_schema *pb_schema_compile(const char *name, const char *text, pb_import_fn resolve, void *arg, char **err) {
  return guard(err, static_cast<pb_schema *>(nullptr), [&] {
    gp::LogSilencer quiet;
    std::unique_ptr<pb_schema> schema(new pb_schema());
    schema->file = schema_compiler(*schema, resolve, arg).build(name, text);
    for (int i = 0; i < schema->file->message_type_count(); i++)
      add_messages(*schema, schema->file->message_type(i), {i});
    return schema.release();
  });
}

void pb_schema_free(pb_schema *schema) { delete schema; }

void pb_schema_plain(pb_schema *schema, const pb_message *message) {
  for (auto &m : schema->messages) m.second->plain = true;
  schema->plain = schema->messages.at(message->type).get();
}

const pb_message *pb_schema_message(const pb_schema *schema, const char *name, char **err) {
  return guard(err, static_cast<const pb_message *>(nullptr), [&] {
    const gp::FileDescriptor *file = schema->file;
    if (!name) {
      if (!file->message_type_count()) fail(file->name() + " defines no message");
      return static_cast<const pb_message *>(schema->messages.at(file->message_type(0)).get());
    }
    const Descriptor *d = schema->pool.FindMessageTypeByName(name);
    if (!d && !file->package().empty()) d = schema->pool.FindMessageTypeByName(file->package() + "." + name);
    auto found = d ? schema->messages.find(d) : schema->messages.end();
    if (found != schema->messages.end()) return static_cast<const pb_message *>(found->second.get());
    std::string known;
    for (int i = 0; i < file->message_type_count(); i++)
      known += (i ? ", " : "") + file->message_type(i)->full_name();
    fail(std::string("message \"") + name + "\" is not in the schema (its messages: " +
         (known.empty() ? "none" : known) + ")");
  });
}

const char *pb_message_name(const pb_message *message) { return message->type->full_name().c_str(); }

int pb_message_field_count(const pb_message *message) { return message->type->field_count(); }

const char *pb_message_field_name(const pb_message *message, int i) {
  return message->type->field(i)->name().c_str();
}

const char *pb_message_field_sql_type(const pb_message *message, int i) {
  return sql_type(message->type->field(i));
}

char *pb_decode(const pb_schema *schema, const void *payload, size_t len, pb_alloc_fn alloc, size_t *json_len,
                char **err) {
  return guard(err, static_cast<char *>(nullptr), [&] {
    gp::LogSilencer quiet;
    stack_arena scope;
    const gp::Message &msg = parse_payload(*schema, payload, len, scope.arena);
    static thread_local std::string json; /* its capacity serves the thread's next message */
    json.clear();
    json_writer(json).message(msg);
    *json_len = json.size();
    return dup_bytes(json.data(), json.size(), alloc ? alloc : malloc);
  });
}

int pb_decode_fields(const pb_schema *schema, const void *payload, size_t len, const pb_field_name *fields, int n,
                     pb_value_fn take, void *arg, char **err) {
  return guard(err, -1, [&] {
    gp::LogSilencer quiet;
    stack_arena scope;
    const gp::Message &msg = parse_payload(*schema, payload, len, scope.arena);
    const Descriptor *d = msg.GetDescriptor();
    column_reader reader;
    for (int i = 0; i < n; i++) {
      if (!fields[i].name) continue;
      const FieldDescriptor *f = field_named(d, fields[i], i);
      pb_value value = f ? reader.field(msg, f) : pb_value{};
      if (int rc = take(arg, i, &value)) return rc;
    }
    return 0;
  });
}

unsigned char *pb_encode(const pb_message *message, const char *json, size_t len, pb_alloc_fn alloc,
                         size_t *out_len, char **err) {
  return guard(err, static_cast<unsigned char *>(nullptr), [&] {
    gp::LogSilencer quiet;
    stack_arena scope;
    gp::Message *msg = message->prototype->New(&scope.arena);
    message_from_json(*message, json, len, msg);
    return payload_of(*message, *msg, alloc, out_len);
  });
}

unsigned char *pb_encode_fields(const pb_message *message, const pb_field_name *fields, const pb_value *values,
                                int n, pb_alloc_fn alloc, size_t *out_len) {
  return guard(nullptr, static_cast<unsigned char *>(nullptr), [&]() -> unsigned char * {
    stack_arena scope;
    gp::Message *msg = message->prototype->New(&scope.arena);
    std::set<const gp::OneofDescriptor *> oneofs;
    for (int i = 0; i < n; i++) {
      if (!fields[i].name) continue;
      const FieldDescriptor *f = field_named(message->type, fields[i], i);
      /* JSON names, lists, a field given twice: the JSON mapping's rules */
      if (!f || f->is_repeated() || (f->has_presence() && msg->GetReflection()->HasField(*msg, f)) ||
          (f->containing_oneof() && !oneofs.insert(f->containing_oneof()).second) ||
          !set_field(*msg, f, values[i]))
        return nullptr;
    }
    if (message->has_required && !msg->IsInitialized()) return nullptr;
    return payload_of(*message, *msg, alloc, out_len);
  });
}

} // extern "C"
