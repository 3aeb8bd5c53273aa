/*
** Java properties files (ext/base/config_file.c): the client properties
** file of option `config`, as Kafka's tools read it (--command-config). A
** line is `name=value`, `name: value` or `name value` (`#` and `!`
** comments, a trailing backslash continues the line, Java's escapes in
** values). What a property means is the caller's (options.c): this file
** only reads the lines and names the file and line of an error.
*/
#include "base.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

SQLITE_EXTENSION_INIT3

#define CONFIG_MAX_BYTES (1 << 20)

/* The whole file as text (sqlite3_malloc'd), or NULL with *err set. */
static char *read_whole(const char *path, char **err) {
  /* Only a regular file: a FIFO or a device would block the statement. */
  struct stat st;
  int missing = stat(path, &st) != 0;
  if (missing || !S_ISREG(st.st_mode)) {
    *err = sqlite3_mprintf("kafka: option config: cannot read '%s': %s", path,
                           missing ? strerror(errno) : "not a regular file");
    return NULL;
  }
  FILE *f = fopen(path, "rb");
  if (!f) {
    *err = sqlite3_mprintf("kafka: option config: cannot read '%s': %s", path, strerror(errno));
    return NULL;
  }
  char *text = sqlite3_malloc64(CONFIG_MAX_BYTES + 1);
  size_t n = text ? fread(text, 1, CONFIG_MAX_BYTES + 1, f) : 0;
  int failed = ferror(f);
  fclose(f);
  if (text && !failed && n <= CONFIG_MAX_BYTES) {
    text[n] = 0;
    return text;
  }
  *err = !text ? NULL
         : failed ? sqlite3_mprintf("kafka: option config: cannot read '%s'", path)
                  : sqlite3_mprintf("kafka: option config: '%s' is larger than %d bytes", path,
                                    CONFIG_MAX_BYTES);
  sqlite3_free(text);
  return NULL;
}

/* Java's escapes in a properties value: \t \n \r \f, and \x for any other
** x. Decodes in place. */
static void unescape(char *s) {
  char *out = s;
  for (; *s; s++) {
    if (*s != '\\' || !s[1]) { *out++ = *s; continue; }
    s++;
    *out++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s == 'f' ? '\f' : *s;
  }
  *out = 0;
}


/* Splits one logical line into name and value, in place; 0 for a blank or
** comment line, -1 when there is a name but no value separator. */
static int split_line(char *line, char **name, char **value) {
  while (isspace((unsigned char)*line)) line++;
  if (!*line || *line == '#' || *line == '!') return 0;
  size_t n = strcspn(line, "=: \t\f");
  char *rest = line + n;
  while (*rest == ' ' || *rest == '\t' || *rest == '\f') *rest++ = 0;
  if (*rest == '=' || *rest == ':') *rest++ = 0;
  else if (rest == line + n) return -1; /* the name runs to the end of the line */
  line[n] = 0;
  while (isspace((unsigned char)*rest)) rest++;
  char *end = rest + strlen(rest);
  while (end > rest && isspace((unsigned char)end[-1])) *--end = 0;
  unescape(rest);
  *name = line;
  *value = rest;
  return 1;
}

/* Joins the lines a trailing backslash continues onto *p's line (in
** place); returns the logical line and moves *p past it and *lines by the
** physical lines it took. */
static char *next_line(char **p, int *lines) {
  char *start = *p, *out = *p, *s = *p;
  *lines = 1;
  for (;;) {
    size_t n = strcspn(s, "\r\n");
    size_t slashes = 0;
    while (slashes < n && s[n - 1 - slashes] == '\\') slashes++;
    int continued = slashes % 2 == 1 && s[n];
    memmove(out, s, n - (continued ? 1 : 0));
    out += n - (continued ? 1 : 0);
    s += n;
    if (*s == '\r' && s[1] == '\n') s++;
    if (*s) s++;
    if (!continued) break;
    (*lines)++;
    while (*s == ' ' || *s == '\t' || *s == '\f') s++; /* a continuation's indent */
  }
  *out = 0;
  *p = s;
  return start;
}

int config_file_read(const char *path, config_apply *apply, void *arg, char **err) {
  char *text = read_whole(path, err);
  if (!text) return *err ? SQLITE_ERROR : SQLITE_NOMEM;
  int rc = SQLITE_OK, line_no = 1;
  for (char *p = text; *p && !rc;) {
    int lines, at = line_no;
    char *name, *value, *line = next_line(&p, &lines);
    line_no += lines;
    int kind = split_line(line, &name, &value);
    char *why = NULL;
    if (kind < 0) why = sqlite3_mprintf("expected name=value");
    else if (kind > 0 && (rc = apply(arg, name, value, &why)) == SQLITE_NOMEM) break;
    if (!why) continue;
    /* The option's own error, without its "kafka: ", follows the place. */
    *err = sqlite3_mprintf("kafka: config file '%s' line %d: %s", path, at,
                           strncmp(why, "kafka: ", 7) ? why : why + 7);
    sqlite3_free(why);
    rc = SQLITE_ERROR;
  }
  sqlite3_free(text);
  return rc;
}
