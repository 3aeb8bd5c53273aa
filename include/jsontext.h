/*
** JSON text without a tree (ext/jsontext.c): a strict RFC 8259 check, the
** JSON paths of typed columns, and finding the value at a path by scanning
** the text, so that a row's typed columns never build a tree of every
** field. Everything works on counted bytes.
*/
#ifndef KAFKA_JSONTEXT_H
#define KAFKA_JSONTEXT_H

#include <stddef.h>

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

#endif
