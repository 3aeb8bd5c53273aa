/*
** Text primitives: the UTF-8 check every format uses, and JSON text without
** a tree: the strict check INSERT and SELECT share, the paths of typed
** columns, and the scan that finds a path's value. cJSON's
** parser is lenient (text after the value, 01, +1, .5, 1.) and builds a
** node for every field; a typed column needs neither.
*/
#include "base.h"

#include <string.h>

SQLITE_EXTENSION_INIT3

/* ---------------------------------------------------------------- UTF-8 */

#define BYTES_01 0x0101010101010101ULL
#define BYTES_80 0x8080808080808080ULL

/* Non-zero when one of the eight bytes at s is 0 or above 0x7F. A borrow
** of the subtraction starts only at a zero byte, so the answer is exact. */
static unsigned long long word_not_ascii(const unsigned char *s) {
  unsigned long long w;
  memcpy(&w, s, 8);
  return (w | (w - BYTES_01)) & BYTES_80;
}

/* How many leading bytes of the n at s are known to be ASCII without NUL:
** words are checked 32 bytes at a time, with no branch inside, and the
** last bytes by a word that overlaps the ones before (values of 8 bytes or
** more are ASCII most of the time, and then checked whole here). */
static size_t ascii_prefix(const unsigned char *s, size_t n) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    if (word_not_ascii(s + i) | word_not_ascii(s + i + 8) | word_not_ascii(s + i + 16) |
        word_not_ascii(s + i + 24))
      return i;
  for (; i + 8 <= n; i += 8)
    if (word_not_ascii(s + i)) return i;
  return i < n && n >= 8 && !word_not_ascii(s + n - 8) ? n : i;
}

int utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    i += ascii_prefix(s + i, n - i);
    if (i >= n) break;
    unsigned char c = s[i];
    if (c == 0) return 0;
    if (c < 0x80) { i++; continue; }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!len || c > 0xF4 || i + len > n) return 0;
    for (size_t k = 1; k < len; k++)
      if ((s[i + k] & 0xC0) != 0x80) return 0;
    /* Overlong forms, surrogates and code points past U+10FFFF. */
    if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] > 0x9F) ||
        (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] > 0x8F))
      return 0;
    i += len;
  }
  return 1;
}


typedef struct json_cursor {
  const unsigned char *p, *start, *end;
  int depth;
  int escaped;       /* the last string held an escape */
  int non_ascii;     /* a string held a byte above 0x7F: UTF-8 to check */
  json_index *index; /* the top-level object's members, or NULL */
} json_cursor;

static int json_value(json_cursor *c);

static inline int json_peek(const json_cursor *c) { return c->p < c->end ? *c->p : -1; }

static inline int json_take(json_cursor *c) { return c->p < c->end ? *c->p++ : -1; }

/* One comparison for the usual byte, which is no space. */
static inline int is_json_space(int ch) {
  return ch <= ' ' && (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r');
}

static inline void json_space(json_cursor *c) {
  while (c->p < c->end && is_json_space(*c->p)) c->p++;
}

static int hex_value(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Bytes a string holds as they are: not '"', '\\' or a control byte.
** Scanning strings is most of the work on typical values. */
static inline int string_plain(unsigned char c) { return c >= 0x20 && c != '"' && c != '\\'; }

#define BYTES_01 0x0101010101010101ULL
#define BYTES_80 0x8080808080808080ULL

/* Non-zero when one of the eight bytes of w is 0. A borrow starts only at
** a zero byte, so the answer is exact, and so is its lowest bit set (the
** bits above it may not be). */
static inline unsigned long long has_zero_byte(unsigned long long w) {
  return (w - BYTES_01) & ~w & BYTES_80;
}

/* Non-zero when one of the eight bytes of w is not string_plain(). */
static inline unsigned long long word_not_plain(unsigned long long w) {
  return has_zero_byte(w ^ (BYTES_01 * '"')) | has_zero_byte(w ^ (BYTES_01 * '\\')) |
         ((w - BYTES_01 * 0x20) & ~w & BYTES_80);
}

/* Where the first byte of the word is the lowest (little-endian), the
** lowest bit of word_not_plain() says which byte ends the plain run. */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_MARKED_BYTE(mask) ((unsigned)__builtin_ctzll(mask) / 8)
#endif

/* Past the plain bytes from p, eight at a time while it can; sets
** *non_ascii when a byte above 0x7F was among those read (only strings
** can hold one in JSON; a byte read past the run may set it too, which
** only costs a UTF-8 check). */
static inline const unsigned char *plain_run(const unsigned char *p, const unsigned char *end,
                                             int *non_ascii) {
  unsigned long long seen = 0, w;
  for (; end - p >= 8; p += 8) {
    memcpy(&w, p, 8);
    seen |= w;
    unsigned long long stop = word_not_plain(w);
#ifdef FIRST_MARKED_BYTE
    if (stop) {
      p += FIRST_MARKED_BYTE(stop);
      break;
    }
#else
    if (stop) break;
#endif
  }
  for (; p < end && string_plain(*p); p++) seen |= *p;
  if (seen & BYTES_80) *non_ascii = 1;
  return p;
}

static int json_literal(json_cursor *c, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n)) return 0;
  c->p += n;
  return 1;
}

static int json_digits(json_cursor *c) {
  const unsigned char *start = c->p;
  while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
  return c->p > start;
}

static int json_number(json_cursor *c) {
  if (json_peek(c) == '-') c->p++;
  if (json_peek(c) == '0') c->p++;
  else if (!json_digits(c)) return 0;
  if (json_peek(c) == '.') {
    c->p++;
    if (!json_digits(c)) return 0;
  }
  if (json_peek(c) != 'e' && json_peek(c) != 'E') return 1;
  c->p++;
  if (json_peek(c) == '+' || json_peek(c) == '-') c->p++;
  return json_digits(c);
}

static int json_string(json_cursor *c) {
  for (c->p++; (c->p = plain_run(c->p, c->end, &c->non_ascii)) < c->end;) {
    unsigned char ch = *c->p++;
    if (ch == '"') return 1;
    if (ch < 0x20) return 0;
    if (ch != '\\') continue;
    c->escaped = 1;
    int esc = json_take(c);
    if (esc == 'u') {
      for (int i = 0; i < 4; i++)
        if (hex_value(json_take(c)) < 0) return 0;
    } else if (esc <= 0 || !strchr("\"\\/bfnrt", esc)) {
      return 0;
    }
  }
  return 0;
}

/* The index entry of the top-level member whose name was just read (the
** string token from key), or NULL when there is no room: then none. */
static json_member *note_member(json_cursor *c, const unsigned char *key) {
  json_index *index = c->index;
  if (index->n < 0 || index->n == JSON_INDEX_MEMBERS) {
    index->n = -1;
    return NULL;
  }
  json_member *m = &index->member[index->n++];
  m->key = (unsigned)(key - c->start);
  m->key_end = (unsigned)(c->p - c->start);
  m->escaped = c->escaped;
  return m;
}

/* An object (keyed) or an array, from its opening bracket. */
static int json_container(json_cursor *c, int close, int keyed) {
  if (++c->depth > JSON_NESTING_LIMIT) return 0;
  c->p++;
  json_space(c);
  if (json_peek(c) == close) {
    c->p++;
    c->depth--;
    return 1;
  }
  for (;;) {
    json_member *m = NULL;
    if (keyed) {
      const unsigned char *key = c->p;
      c->escaped = 0;
      if (json_peek(c) != '"' || !json_string(c)) return 0;
      m = c->depth == 1 && c->index ? note_member(c, key) : NULL;
      json_space(c);
      if (json_peek(c) != ':') return 0;
      c->p++;
      json_space(c);
    }
    if (m) m->value = (unsigned)(c->p - c->start);
    if (!json_value(c)) return 0;
    if (m) m->value_end = (unsigned)(c->p - c->start);
    json_space(c);
    int next = json_take(c);
    if (next == close) break;
    if (next != ',') return 0;
    json_space(c);
  }
  c->depth--;
  return 1;
}

static int json_value(json_cursor *c) {
  switch (json_peek(c)) {
  case '{': return json_container(c, '}', 1);
  case '[': return json_container(c, ']', 0);
  case '"': return json_string(c);
  case 't': return json_literal(c, "true");
  case 'f': return json_literal(c, "false");
  case 'n': return json_literal(c, "null");
  default: return json_number(c);
  }
}

long long json_error_indexed(const void *data, size_t len, json_index *index) {
  if (!data) data = ""; /* an empty BLOB */
  json_cursor c = {data, data, (const unsigned char *)data + len, 0, 0, 0, NULL};
  json_space(&c);
  if (index) {
    /* Offsets are unsigned: a value past 4 GB (Kafka's limit is 2) gets none. */
    index->n = json_peek(&c) == '{' && len < 0xFFFFFFFFu ? 0 : -1;
    c.index = index->n ? NULL : index;
  }
  int ok = json_value(&c);
  json_space(&c);
  /* Bytes outside strings are ASCII, or the value is not JSON; a NUL
  ** cannot be in a string: ASCII strings are valid UTF-8 as they are. */
  if (ok && c.p == c.end) return !c.non_ascii || utf8_valid(data, len) ? -1 : 0;
  return c.p < c.end ? c.p - (const unsigned char *)data : (long long)len;
}

long long json_error_at(const void *data, size_t len) { return json_error_indexed(data, len, NULL); }

/* ---- paths ---- */

/* A bracketed step, from the character after `[`. */
static int bracket_step(const char **path, json_step *step) {
  const char *p = *path;
  if (*p == '"') {
    const char *close = strchr(p + 1, '"');
    if (!close || close[1] != ']') return -1;
    *step = (json_step){p + 1, (size_t)(close - p - 1), -1};
    *path = close + 2;
    return 1;
  }
  long index = 0;
  const char *digits = p;
  while (*p >= '0' && *p <= '9' && p - digits < 9) index = index * 10 + (*p++ - '0');
  if (p == digits || *p != ']') return -1;
  *step = (json_step){NULL, 0, index};
  *path = p + 1;
  return 1;
}

int json_path_step(const char **path, json_step *step) {
  const char *p = *path;
  if (!*p) return 0;
  if (*p == '[') {
    *path = p + 1;
    return bracket_step(path, step);
  }
  if (*p++ != '.') return -1;
  if (*p == '"') {
    const char *close = strchr(p + 1, '"');
    if (!close) return -1;
    *step = (json_step){p + 1, (size_t)(close - p - 1), -1};
    *path = close + 1;
    return 1;
  }
  /* A bare name: what would end or open another step, a quote or white
  ** space in it is a typo rather than a name. */
  size_t n = strcspn(p, ".[]\" \t\n\r\f\v");
  if (!n || (p[n] && p[n] != '.' && p[n] != '[')) return -1;
  *step = (json_step){p, n, -1};
  *path = p + n;
  return 1;
}

const char *json_path_error(const char *path) {
  if (*path++ != '$') return "a JSON path starts with $";
  json_step step;
  int rc;
  while ((rc = json_path_step(&path, &step)) > 0) {}
  return rc < 0 ? "steps are .name, .\"name\", [\"name\"] or [index]" : NULL;
}

/* ---- finding a value ---- */

static const unsigned char *skip_space(const unsigned char *p, const unsigned char *end) {
  while (p < end && is_json_space(*p)) p++;
  return p;
}

/* Past the string token at p (its opening quote); *escaped is set when
** it holds a backslash. */
static const unsigned char *skip_string(const unsigned char *p, const unsigned char *end, int *escaped) {
  int non_ascii; /* checked when the value was */
  for (p++; (p = plain_run(p, end, &non_ascii)) < end; p++) {
    if (*p == '"') return p + 1;
    if (*p == '\\') {
      *escaped = 1;
      p++;
    }
  }
  return end;
}

/* Past the value at p, in text that is valid JSON. */
static const unsigned char *skip_value(const unsigned char *p, const unsigned char *end) {
  int depth = 0, escaped;
  while (p < end) {
    unsigned char ch = *p;
    if (ch == '"') {
      p = skip_string(p, end, &escaped);
      if (!depth) return p;
      continue;
    }
    if (ch == '{' || ch == '[') {
      depth++;
    } else if (ch == '}' || ch == ']') {
      if (!depth) return p;
      if (!--depth) return p + 1;
    } else if (ch == ',' && !depth) {
      return p;
    }
    p++;
  }
  return end;
}

/* Non-zero when the string token [s, e) decodes to the n bytes of name;
** decoded only when it holds an escape. */
static int key_equals(const unsigned char *s, const unsigned char *e, int escaped, const char *name,
                      size_t n) {
  if (e - s < 2) return 0;
  size_t raw = (size_t)(e - s) - 2;
  if (!escaped) return raw == n && !memcmp(s + 1, name, n);
  char small[256];
  char *buf = (size_t)(e - s) <= sizeof small ? small : sqlite3_malloc64((size_t)(e - s));
  if (!buf) return 0;
  size_t len = json_string_decode(s, e, buf);
  int same = len == n && !memcmp(buf, name, n);
  if (buf != small) sqlite3_free(buf);
  return same;
}

/* The member or element a step names inside the value at p, or NULL. */
static const unsigned char *step_into(const unsigned char *p, const unsigned char *end,
                                      const json_step *step) {
  if (p >= end || *p != (step->name ? '{' : '[')) return NULL;
  p = skip_space(p + 1, end);
  for (long i = 0; p < end && *p != '}' && *p != ']'; i++) {
    if (step->name) {
      const unsigned char *key = p;
      int escaped = 0;
      p = skip_string(p, end, &escaped);
      int match = key_equals(key, p, escaped, step->name, step->len);
      p = skip_space(p, end);
      if (p < end) p = skip_space(p + 1, end); /* past the colon */
      if (match) return p;
    } else if (i == step->index) {
      return p;
    }
    p = skip_space(skip_value(p, end), end);
    if (p < end && *p == ',') p = skip_space(p + 1, end);
  }
  return NULL;
}

/* The value of the top-level member a step names, from the index. */
static const unsigned char *indexed_member(const unsigned char *data, const json_index *index,
                                           const json_step *step, const unsigned char **end) {
  for (int i = 0; i < index->n; i++) {
    const json_member *m = &index->member[i];
    if (!m->escaped && m->key_end - m->key - 2 != step->len) continue; /* the usual miss */
    if (key_equals(data + m->key, data + m->key_end, m->escaped, step->name, step->len)) {
      *end = data + m->value_end;
      return data + m->value;
    }
  }
  return NULL;
}

const unsigned char *json_locate(const unsigned char *data, size_t len, const json_index *index,
                                 const char *path, const unsigned char **end) {
  const unsigned char *stop = data + len;
  const unsigned char *p = skip_space(data, stop);
  if (*path++ != '$') return NULL;
  json_step step;
  int rc = json_path_step(&path, &step);
  if (rc > 0 && step.name && index && index->n >= 0) {
    p = indexed_member(data, index, &step, end);
    rc = json_path_step(&path, &step);
    if (p && !rc) return p;
  }
  for (; p && rc > 0; rc = json_path_step(&path, &step)) p = step_into(p, stop, &step);
  if (!p || rc < 0 || p >= stop) return NULL;
  const unsigned char *last = skip_value(p, stop);
  while (last > p && is_json_space(last[-1])) last--; /* after a number or literal */
  *end = last;
  return p;
}

/* ---- decoding ---- */

static size_t put_utf8(char *out, unsigned cp) {
  if (cp < 0x80) { out[0] = (char)cp; return 1; }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | cp >> 18);
  out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* The 4 hex digits at p (p + 4 <= end), or -1. */
static long hex4(const unsigned char *p, const unsigned char *end) {
  if (end - p < 4) return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hex_value(p[i]);
    if (h < 0) return -1;
    v = v << 4 | h;
  }
  return v;
}

size_t json_string_decode(const unsigned char *s, const unsigned char *end, char *out) {
  const unsigned char *p = s + 1, *stop = end > s + 1 ? end - 1 : s + 1; /* inside the quotes */
  size_t n = 0;
  while (p < stop) {
    if (*p != '\\') { out[n++] = (char)*p++; continue; }
    if (++p >= stop) break;
    unsigned char esc = *p++;
    if (esc != 'u') {
      out[n++] = esc == 'b' ? '\b' : esc == 'f' ? '\f' : esc == 'n' ? '\n' : esc == 'r' ? '\r'
               : esc == 't' ? '\t' : (char)esc; /* \" \\ \/ */
      continue;
    }
    long cp = hex4(p, stop);
    if (cp <= 0) break; /* \u0000 ends the string, as in SQLite */
    p += 4;
    long low = cp >= 0xD800 && cp < 0xDC00 && stop - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2, stop) : -1;
    if (low >= 0xDC00 && low < 0xE000) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      p += 6;
    } else if (cp >= 0xD800 && cp < 0xE000) {
      cp = 0xFFFD;
    }
    n += put_utf8(out + n, (unsigned)cp);
  }
  return n;
}

size_t json_minify(const unsigned char *s, const unsigned char *end, char *out) {
  size_t n = 0;
  while (s < end) {
    if (is_json_space(*s)) { s++; continue; }
    int escaped;
    const unsigned char *next = *s == '"' ? skip_string(s, end, &escaped) : s + 1;
    memcpy(out + n, s, (size_t)(next - s));
    n += (size_t)(next - s);
    s = next;
  }
  return n;
}
