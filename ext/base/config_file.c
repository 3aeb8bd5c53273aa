/*
** Option `config = '/path/client.properties'`: the client properties file
** Kafka's tools read (--command-config), so that credentials stay out of
** the database file. It is read whenever the options are parsed (CREATE
** and every reconnect) and only fills what the SQL left unset: options
** given in the SQL override it.
**
** A line is `name=value`, `name: value` or `name value` (Java's
** Properties format: `#` and `!` comments, a trailing backslash continues
** the line). Names are librdkafka's (the Java client's where the two
** share them), plus:
**   bootstrap.servers               the option brokers
**   sasl.jaas.config                Java's PLAIN or SCRAM login module: its
**                                   username and password
**   schema.registry.url             the option schema_registry
**   basic.auth.user.info            the option schema_registry.basic_auth
** Errors name the file and the line; a secret's value is never shown.
*/
#include "base.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

SQLITE_EXTENSION_INIT3

#define CONFIG_MAX_BYTES (1 << 20)

/* Java client names with no librdkafka meaning here, left alone so that a
** file Kafka's tools use works as it is. */
static const char *const java_only[] = {
  "key.serializer", "value.serializer", "key.deserializer", "value.deserializer",
  "basic.auth.credentials.source", "client.dns.lookup",
};

/* Properties the extension sets itself (options.c): a file written for
** Kafka's tools often holds them; the table's options decide instead. */
static const char *const extension_owned[] = {
  "group.id", "transactional.id", "isolation.level", "enable.auto.commit",
  "enable.auto.offset.store", "enable.partition.eof", "auto.offset.reset",
};

static int listed(const char *name, const char *const *names, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(name, names[i])) return 1;
  return 0;
}

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

/* One value of the JAAS text `Module required key="value" ...;`, or NULL
** (sqlite3_malloc'd). */
static char *jaas_value(const char *jaas, const char *key) {
  size_t n = strlen(key);
  for (const char *p = jaas; (p = strstr(p, key)) != NULL; p += n) {
    if (p > jaas && !isspace((unsigned char)p[-1])) continue;
    const char *q = p + n;
    while (isspace((unsigned char)*q)) q++;
    if (*q++ != '=') continue;
    while (isspace((unsigned char)*q)) q++;
    char quote = *q == '"' || *q == '\'' ? *q++ : 0;
    size_t len = quote ? strcspn(q, (char[]){quote, 0}) : strcspn(q, " \t\r\n;");
    return sqlite3_mprintf("%.*s", (int)len, q);
  }
  return NULL;
}

static int has_rdkafka(const kafka_options *opts, const char *name) {
  for (int i = 0; i < opts->n_rdkafka; i++)
    if (!strcmp(opts->rdkafka[i].name, name)) return 1;
  return 0;
}

/* Sets a librdkafka property unless the SQL set it. */
static int fill_rdkafka(kafka_options *opts, const char *name, const char *value, char **err) {
  return has_rdkafka(opts, name) ? SQLITE_OK : options_add_rdkafka(opts, name, value, err);
}

/* Java's sasl.jaas.config: the username and password of its PLAIN or
** SCRAM login module. */
static int fill_jaas(kafka_options *opts, const char *jaas, char **err) {
  if (!strstr(jaas, "PlainLoginModule") && !strstr(jaas, "ScramLoginModule")) {
    *err = sqlite3_mprintf("sasl.jaas.config: only the PlainLoginModule and ScramLoginModule are read "
                           "(give OAUTHBEARER or GSSAPI as librdkafka's sasl.* properties)");
    return SQLITE_ERROR;
  }
  char *user = jaas_value(jaas, "username"), *password = jaas_value(jaas, "password");
  int rc = SQLITE_OK;
  if (!user || !password) {
    *err = sqlite3_mprintf("sasl.jaas.config: no username=\"...\" and password=\"...\" in it");
    rc = SQLITE_ERROR;
  }
  if (!rc) rc = fill_rdkafka(opts, "sasl.username", user, err);
  if (!rc) rc = fill_rdkafka(opts, "sasl.password", password, err);
  sqlite3_free(user);
  sqlite3_free(password);
  return rc;
}

/* Sets a string option unless the SQL set it (through options_set(), so
** that the value is checked as the option's). */
static int fill_option(kafka_options *opts, char *slot, const char *option, const char *value,
                       char **err) {
  return slot ? SQLITE_OK : options_set(opts, option, value, err);
}

/* Applies one property of the file; *err says what is wrong without the
** file and line, which the caller adds. */
static int apply_property(kafka_options *opts, const char *name, const char *value, char **err) {
  if (!strncmp(name, "rdkafka.", 8)) name += 8;
  if (listed(name, java_only, sizeof java_only / sizeof *java_only) ||
      listed(name, extension_owned, sizeof extension_owned / sizeof *extension_owned))
    return SQLITE_OK;
  if (!strcmp(name, "bootstrap.servers") || !strcmp(name, "metadata.broker.list"))
    return fill_option(opts, opts->brokers, "brokers", value, err);
  if (!strcmp(name, "schema.registry.url")) {
    char *first = sqlite3_mprintf("%.*s", (int)strcspn(value, ","), value);
    int rc = first ? fill_option(opts, opts->registry.url, "schema_registry", first, err) : SQLITE_NOMEM;
    sqlite3_free(first);
    return rc;
  }
  if (!strcmp(name, "basic.auth.user.info") || !strcmp(name, "schema.registry.basic.auth.user.info"))
    return fill_option(opts, opts->registry.basic_auth, "schema_registry.basic_auth", value, err);
  if (!strcmp(name, "sasl.jaas.config")) return fill_jaas(opts, value, err);
  return fill_rdkafka(opts, name, value, err);
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

int options_read_config(kafka_options *opts, char **err) {
  char *text = read_whole(opts->config, err);
  if (!text) return *err ? SQLITE_ERROR : SQLITE_NOMEM;
  int rc = SQLITE_OK, line_no = 1;
  for (char *p = text; *p && !rc;) {
    int lines, at = line_no;
    char *name, *value, *line = next_line(&p, &lines);
    line_no += lines;
    int kind = split_line(line, &name, &value);
    char *why = NULL;
    if (kind < 0) why = sqlite3_mprintf("expected name=value");
    else if (kind > 0 && (rc = apply_property(opts, name, value, &why)) == SQLITE_NOMEM) break;
    if (!why) continue;
    /* The option's own error, without its "kafka: ", follows the place. */
    *err = sqlite3_mprintf("kafka: config file '%s' line %d: %s", opts->config, at,
                           strncmp(why, "kafka: ", 7) ? why : why + 7);
    sqlite3_free(why);
    rc = SQLITE_ERROR;
  }
  sqlite3_free(text);
  return rc;
}
