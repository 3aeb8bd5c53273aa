/*
** What the encoders of every codec share about values (ext/codec/fields.c):
** the one form of a refusal naming the field, JSON kinds and number texts
** for errors, and integers past 2^53 kept exact. Below codec.c, which
** chooses a codec: the codecs call these and never codec.c.
*/
#include "base.h"
#include "codec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

static void path_text(sqlite3_str *out, const codec_path *p) {
  if (!p) return;
  path_text(out, p->up);
  if (!p->name) sqlite3_str_appendf(out, "[%llu]", (unsigned long long)p->index);
  else sqlite3_str_appendf(out, "%s%s", p->up ? "." : "", p->name);
}

int codec_field_error(char **err, const char *codec, const codec_path *p, const char *fmt, ...) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  sqlite3_str_appendf(s, "kafka: %s %s", codec, p ? "field '" : "value: ");
  if (p) {
    path_text(s, p);
    sqlite3_str_appendall(s, "': ");
  }
  va_list ap;
  va_start(ap, fmt);
  sqlite3_str_vappendf(s, fmt, ap);
  va_end(ap);
  sqlite3_free(*err);
  *err = sqlite3_str_finish(s);
  return SQLITE_ERROR;
}

const char *codec_json_kind(const cJSON *j) {
  /* a raw node is a number kept as its exact text */
  return cJSON_IsNull(j) ? "null" : cJSON_IsBool(j) ? "a boolean" : cJSON_IsNumber(j) || cJSON_IsRaw(j) ? "a number"
       : cJSON_IsString(j) ? "a string" : cJSON_IsArray(j) ? "an array" : "an object";
}

/* A JSON number's text for an error: an exact integer's own digits, else
** the shortest that reads back as its double (a REAL column's raw text
** has 17 digits: 1e39 shows as 1e+39, not 9.9999999999999994e+38). */
const char *codec_number_text(const cJSON *j, char *buf, size_t size) {
  if (cJSON_IsRaw(j) && !strpbrk(j->valuestring, ".eE")) return j->valuestring;
  double d = cJSON_IsRaw(j) ? strtod(j->valuestring, NULL) : j->valuedouble;
  if (d == floor(d) && fabs(d) < 1e17 && !cJSON_IsRaw(j)) { /* a whole number as its digits */
    snprintf(buf, size, "%.0f", d);
    return buf;
  }
  snprintf(buf, size, "%.15g", d);
  if (strtod(buf, NULL) != d) snprintf(buf, size, "%.17g", d);
  return buf;
}

/* The next number token of JSON text at *p (strings skipped), or NULL. */
static const char *next_number(const char **p, const char *end, size_t *len) {
  for (const char *s = *p; s < end; s++) {
    if (*s == '"') {
      for (s++; s < end && *s != '"'; s++) s += *s == '\\';
      continue;
    }
    if (*s != '-' && (*s < '0' || *s > '9')) continue;
    const char *start = s;
    while (s < end && strchr("+-.eE0123456789", *s)) s++;
    *len = (size_t)(s - start);
    *p = s;
    return start;
  }
  return NULL;
}

/* cJSON keeps numbers as doubles, and an integer past 2^53 would lose
** digits: such nodes become cJSON_Raw nodes holding their text. The
** text's number tokens and the tree's number nodes pair up in document
** order. */
int codec_keep_big_integers(cJSON *node, const char **p, const char *end) {
  for (; node; node = node->next) {
    if (node->child && codec_keep_big_integers(node->child, p, end)) return SQLITE_NOMEM;
    if (!cJSON_IsNumber(node)) continue;
    size_t n;
    const char *token = next_number(p, end, &n);
    if (!token || fabs(node->valuedouble) < 9007199254740992.0 || memchr(token, '.', n) ||
        memchr(token, 'e', n) || memchr(token, 'E', n))
      continue;
    char *text = cJSON_malloc(n + 1);
    if (!text) return SQLITE_NOMEM;
    memcpy(text, token, n);
    text[n] = 0;
    node->type = cJSON_Raw;
    node->valuestring = text;
  }
  return SQLITE_OK;
}
