/*
** Option parsing for `CREATE VIRTUAL TABLE t USING kafka(...)`: every option
** is validated here, in one place, and every error names the option.
*/
#include "base.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_TIMEOUT_MS 86400000

/* Properties the extension sets itself: each has an option of its own, or
** the extension's correctness depends on it. */
static const char *const reserved_properties[][2] = {
  {"bootstrap.servers", "brokers"},
  {"metadata.broker.list", "brokers"},
  {"group.id", "group"},
  {"transactional.id", "transactional_id"},
  {"isolation.level", "isolation"},
  {"enable.auto.commit", "group"},
  {"enable.auto.offset.store", "group"},
  {"enable.partition.eof", NULL},
  {"auto.offset.reset", "start"},
};

/* Properties that load a library or run a command. Options are parsed
** again whenever a database file holding the table is opened, and a view
** or trigger cannot reach the table (direct-only) but a plain query of a
** table defined in someone else's file can: such a file must not be able
** to make the process load code. */
static const char *const unsafe_properties[] = {
  "plugin.library.paths", "sasl.kerberos.kinit.cmd", "ssl.engine.location", "ssl.providers",
};

/* Copies `s` of length n without surrounding white space and, when it is
** quoted with ' or ", without the quotes (a doubled quote is one quote). */
static char *dequote(const char *s, size_t n) {
  while (n > 0 && isspace((unsigned char)*s)) { s++; n--; }
  while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
  char q = n >= 2 ? s[0] : 0;
  if ((q != '\'' && q != '"') || s[n - 1] != q) return sqlite3_mprintf("%.*s", (int)n, s);
  char *out = sqlite3_malloc64(n);
  if (!out) return NULL;
  size_t j = 0;
  for (size_t i = 1; i + 1 < n; i++) {
    out[j++] = s[i];
    if (s[i] == q && s[i + 1] == q) i++;
  }
  out[j] = 0;
  return out;
}

int option_is_secret(const char *property) {
  static const char *const secret_words[] = {"password", "secret", "key.pem",
                                             "token", "sasl.oauthbearer.config",
                                             "keystore", "jaas"};
  for (size_t i = 0; i < sizeof secret_words / sizeof *secret_words; i++)
    if (strstr(property, secret_words[i])) return 1;
  return 0;
}

char *url_shown(const char *url) {
  /* A scheme is letters, digits, '+', '-', '.' from the start (RFC 3986). */
  size_t scheme = isalpha((unsigned char)*url) ? strspn(url, "abcdefghijklmnopqrstuvwxyz"
                                                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") : 0;
  const char *rest = scheme && !strncmp(url + scheme, "://", 3) ? url + scheme + 3 : url;
  /* A password may hold '/', '@', ':', '?' or '#' unencoded: everything up
  ** to the last '@' may be credentials. */
  const char *at = strrchr(rest, '@');
  const char *host = at ? at + 1 : rest;
  int host_len = (int)strcspn(host, "?#"); /* a query may hold a token */
  return sqlite3_mprintf("%.*s%.*s%s", (int)(rest - url), url, host_len, host, host[host_len] ? "?..." : "");
}

static int parse_int(const char *name, const char *value, long min, long max,
                     int *out, char **err) {
  char *end;
  errno = 0;
  long v = strtol(value, &end, 10);
  if (!*value || *end || errno || v < min || v > max) {
    *err = sqlite3_mprintf("kafka: option %s must be an integer from %ld to %ld, not '%s'",
                           name, min, max, value);
    return SQLITE_ERROR;
  }
  *out = (int)v;
  return SQLITE_OK;
}

static int parse_format(const char *name, const char *value, kafka_format *out,
                        char **err) {
  if (!sqlite3_stricmp(value, "text")) *out = KAFKA_FORMAT_TEXT;
  else if (!sqlite3_stricmp(value, "blob")) *out = KAFKA_FORMAT_BLOB;
  else if (!sqlite3_stricmp(value, "json")) *out = KAFKA_FORMAT_JSON;
  else if (!sqlite3_stricmp(value, "avro")) *out = KAFKA_FORMAT_AVRO;
  else if (!sqlite3_stricmp(value, "jsonschema")) *out = KAFKA_FORMAT_JSONSCHEMA;
  else if (!sqlite3_stricmp(value, "protobuf")) *out = KAFKA_FORMAT_PROTOBUF;
  else if (!sqlite3_stricmp(value, "msgpack")) *out = KAFKA_FORMAT_MSGPACK;
  else {
    *err = sqlite3_mprintf("kafka: option %s must be text, blob, json, avro, jsonschema, "
                           "protobuf or msgpack, not '%s'", name, value);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

static int parse_partitioner(const char *name, const char *value, kafka_partitioner *out,
                             char **err) {
  if (!sqlite3_stricmp(value, "murmur2")) *out = KAFKA_PARTITIONER_MURMUR2;
  else if (!sqlite3_stricmp(value, "crc32")) *out = KAFKA_PARTITIONER_CRC32;
  else if (!sqlite3_stricmp(value, "consistent_random")) *out = KAFKA_PARTITIONER_CONSISTENT_RANDOM;
  else {
    *err = sqlite3_mprintf("kafka: option %s must be murmur2, crc32 or consistent_random, not '%s'",
                           name, value);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* Chooses between two words; *out is set to 1 for `yes`, 0 for `no`. */
static int parse_choice(const char *name, const char *value, const char *no,
                        const char *yes, int *out, char **err) {
  if (!sqlite3_stricmp(value, no)) *out = 0;
  else if (!sqlite3_stricmp(value, yes)) *out = 1;
  else {
    *err = sqlite3_mprintf("kafka: option %s must be %s or %s, not '%s'", name, no, yes, value);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* SQLite's affinity rules (datatype3.html, 3.1), in their order. */
static char type_affinity(const char *type) {
  char *up = sqlite3_mprintf("%s", type);
  if (!up) return KAFKA_AFFINITY_NUMERIC;
  for (char *p = up; *p; p++) *p = (char)toupper((unsigned char)*p);
  char aff = KAFKA_AFFINITY_NUMERIC;
  if (strstr(up, "INT")) aff = SQLITE_INTEGER;
  else if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT")) aff = SQLITE_TEXT;
  else if (strstr(up, "BLOB") || !*up) aff = SQLITE_BLOB;
  else if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB")) aff = SQLITE_FLOAT;
  sqlite3_free(up);
  return aff;
}

static const char *const fixed_columns[] = {"partition", "offset", "timestamp", "key",
                                            "value", "headers", "error", "follow", "schema_id",
                                            "kafka_time"};

int options_column_name_taken(const kafka_options *opts, const char *name) {
  for (size_t i = 0; i < sizeof fixed_columns / sizeof *fixed_columns; i++)
    if (!sqlite3_stricmp(name, fixed_columns[i])) return 1;
  for (int i = 0; i < opts->n_columns; i++)
    if (!sqlite3_stricmp(name, opts->columns[i].name)) return 1;
  return 0;
}

/* A JSON path ends at white space, except inside ."quoted" names. */
static int has_unquoted_space(const char *path) {
  int quoted = 0;
  for (; *path; path++) {
    if (*path == '"') quoted = !quoted;
    else if (isspace((unsigned char)*path) && !quoted) return 1;
  }
  return 0;
}

/* White space as SQLite's tokenizer sees it (no \v, unlike isspace()). */
static int sql_space(char c) {
  return c && strchr(" \t\n\f\r", c);
}

/* Skips a signed number (SQLite's `signed-number`): p past it, or NULL. */
static const char *skip_number(const char *p) {
  while (sql_space(*p)) p++;
  if (*p == '+' || *p == '-') p++;
  while (sql_space(*p)) p++;
  const char *digits = p;
  while (isdigit((unsigned char)*p)) p++;
  if (*p == '.') p++;
  while (isdigit((unsigned char)*p)) p++;
  if (p == digits || (p == digits + 1 && *digits == '.')) return NULL;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!isdigit((unsigned char)*p)) return NULL;
    while (isdigit((unsigned char)*p)) p++;
  }
  while (sql_space(*p)) p++;
  return p;
}

/* Non-zero when type is a type name SQLite's CREATE TABLE takes: words
** that are not SQL keywords (`a INT DEFAULT` would not parse), then
** optionally (n) or (n, m) as in DECIMAL(10,2). */
static int type_is_valid(const char *type) {
  const char *p = type;
  while (isalpha((unsigned char)*p) || *p == '_') { /* 1 or 2x is no word */
    const char *word = p;
    while (isalnum((unsigned char)*p) || *p == '_') p++;
    if (sqlite3_keyword_check(word, (int)(p - word))) return 0;
    while (sql_space(*p)) p++;
  }
  if (*p == '(' && p > type) {
    p = skip_number(p + 1);
    if (p && *p == ',') p = skip_number(p + 1);
    if (!p || *p++ != ')') return 0;
  }
  return !*p;
}

/* Parses one `name TYPE [json-path]` of the columns option. */
static int parse_typed_column(kafka_options *opts, const char *spec, size_t n, char **err) {
  char *text = dequote(spec, n);
  if (!text) return SQLITE_NOMEM;
  int rc = SQLITE_ERROR;
  char *name_end = text;
  while (*name_end && !isspace((unsigned char)*name_end)) name_end++;
  char *rest = name_end;
  while (isspace((unsigned char)*rest)) rest++;
  char *path = strchr(rest, '$');
  char *type_end = path ? path : rest + strlen(rest);
  while (type_end > rest && isspace((unsigned char)type_end[-1])) type_end--;
  typed_column col = {0};
  col.name = dequote(text, (size_t)(name_end - text));
  col.type = sqlite3_mprintf("%.*s", (int)(type_end - rest), rest);
  /* The default path names the column's member: quoted when the name has
  ** a bracket, which a bare step cannot hold. */
  col.path = path ? dequote(path, strlen(path))
                  : sqlite3_mprintf(strpbrk(col.name, "[]") ? "$.\"%s\"" : "$.%s", col.name);
  if (!col.name || !col.type || !col.path) { rc = SQLITE_NOMEM; goto done; }
  if (!*col.name) {
    *err = sqlite3_mprintf("kafka: option columns: a column has no name in '%s'", text);
    goto done;
  }
  if (options_column_name_taken(opts, col.name)) {
    *err = sqlite3_mprintf("kafka: option columns: column name '%s' is already used", col.name);
    goto done;
  }
  if (!type_is_valid(col.type)) {
    *err = sqlite3_mprintf("kafka: option columns: bad type '%s' for column %s", col.type, col.name);
    goto done;
  }
  const char *path_error = has_unquoted_space(col.path) ? "it ends at white space" : json_path_error(col.path);
  if (path_error) {
    *err = sqlite3_mprintf("kafka: option columns: bad JSON path '%s' for column %s: %s", col.path,
                           col.name, path_error);
    goto done;
  }
  col.affinity = type_affinity(col.type);
  typed_column *cols = sqlite3_realloc64(opts->columns, sizeof *cols * (opts->n_columns + 1));
  if (!cols) { rc = SQLITE_NOMEM; goto done; }
  opts->columns = cols;
  opts->columns[opts->n_columns++] = col;
  memset(&col, 0, sizeof col);
  rc = SQLITE_OK;
done:
  sqlite3_free(col.name);
  sqlite3_free(col.type);
  sqlite3_free(col.path);
  sqlite3_free(text);
  return rc;
}

/* Splits the columns option on the commas outside quotes and brackets. */
static int parse_columns(kafka_options *opts, const char *value, char **err) {
  const char *start = value;
  char quote = 0;
  for (const char *p = value;; p++) {
    if (quote) { if (*p == quote) quote = 0; else if (!*p) break; continue; }
    /* (...) too: the comma of DECIMAL(10,2) does not end the column. */
    if (*p == '"' || *p == '\'' || *p == '[' || *p == '(') {
      quote = *p == '[' ? ']' : *p == '(' ? ')' : *p;
      continue;
    }
    if (*p != ',' && *p) continue;
    int rc = parse_typed_column(opts, start, (size_t)(p - start), err);
    if (rc) return rc;
    if (!*p) return SQLITE_OK;
    start = p + 1;
  }
  *err = sqlite3_mprintf("kafka: option columns: unterminated quote or bracket in '%s'", value);
  return SQLITE_ERROR;
}

/* Checks a librdkafka property against librdkafka itself, so that a typo
** fails at CREATE rather than at the first read. */
int options_add_rdkafka(kafka_options *opts, const char *property, const char *value, char **err) {
  for (size_t i = 0; i < sizeof unsafe_properties / sizeof *unsafe_properties; i++) {
    if (strcmp(property, unsafe_properties[i])) continue;
    *err = sqlite3_mprintf("kafka: option rdkafka.%s is not allowed: a table stored in a database "
                           "file could load code or run a command with it", property);
    return SQLITE_ERROR;
  }
  for (size_t i = 0; i < sizeof reserved_properties / sizeof *reserved_properties; i++) {
    if (strcmp(property, reserved_properties[i][0])) continue;
    if (reserved_properties[i][1])
      *err = sqlite3_mprintf("kafka: option rdkafka.%s is set by the extension: use option %s",
                             property, reserved_properties[i][1]);
    else
      *err = sqlite3_mprintf("kafka: option rdkafka.%s is set by the extension", property);
    return SQLITE_ERROR;
  }
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, property, value, errstr, sizeof errstr);
  rd_kafka_conf_destroy(conf);
  if (res != RD_KAFKA_CONF_OK) {
    /* librdkafka quotes the rejected value: never show a secret's. */
    *err = option_is_secret(property)
               ? sqlite3_mprintf("kafka: option rdkafka.%s: invalid value", property)
               : sqlite3_mprintf("kafka: option rdkafka.%s: %s", property, errstr);
    return SQLITE_ERROR;
  }
  rdkafka_property *props = sqlite3_realloc64(opts->rdkafka, sizeof *props * (opts->n_rdkafka + 1));
  if (!props) return SQLITE_NOMEM;
  opts->rdkafka = props;
  props[opts->n_rdkafka].name = sqlite3_mprintf("%s", property);
  props[opts->n_rdkafka].value = sqlite3_mprintf("%s", value);
  opts->n_rdkafka++;
  return props[opts->n_rdkafka - 1].name && props[opts->n_rdkafka - 1].value ? SQLITE_OK
                                                                             : SQLITE_NOMEM;
}

/* Stores a string option, refusing a second occurrence. */
static int set_string(const char *name, char **slot, const char *value, char **err) {
  if (*slot) {
    *err = sqlite3_mprintf("kafka: option %s is given twice", name);
    return SQLITE_ERROR;
  }
  if (!*value) {
    *err = sqlite3_mprintf("kafka: option %s must not be empty", name);
    return SQLITE_ERROR;
  }
  *slot = sqlite3_mprintf("%s", value);
  return *slot ? SQLITE_OK : SQLITE_NOMEM;
}

/* Brokers appear in errors: they must hold no credentials (which
** librdkafka does not take there anyway). The value is not shown. */
static int parse_brokers(kafka_options *opts, const char *value, char **err) {
  if (strchr(value, '@')) {
    *err = sqlite3_mprintf("kafka: option brokers must be host:port,... without user:password@ (give "
                           "credentials as rdkafka.sasl.username and rdkafka.sasl.password, or in a "
                           "config file)");
    return SQLITE_ERROR;
  }
  return set_string("brokers", &opts->brokers, value, err);
}

int options_add_columns(kafka_options *opts, const char *spec, char **err) {
  return parse_columns(opts, spec, err);
}

/* The schema_registry and schema_registry.* options. */
static int parse_registry(kafka_options *opts, const char *name, const char *value, char **err) {
  registry_options *r = &opts->registry;
  if (!strcmp(name, "schema_registry")) {
    if (sqlite3_strnicmp(value, "http://", 7) && sqlite3_strnicmp(value, "https://", 8)) {
      *err = sqlite3_mprintf("kafka: option schema_registry must be an http:// or https:// URL");
      return SQLITE_ERROR;
    }
    return set_string(name, &r->url, value, err);
  }
  if (!strcmp(name, "schema_registry.basic_auth")) {
    if (!strchr(value, ':')) { /* the value is a secret: not shown */
      *err = sqlite3_mprintf("kafka: option schema_registry.basic_auth must be user:password");
      return SQLITE_ERROR;
    }
    return set_string(name, &r->basic_auth, value, err);
  }
  if (!strcmp(name, "schema_registry.ssl.ca.location")) return set_string(name, &r->ssl_ca, value, err);
  if (!strcmp(name, "schema_registry.ssl.certificate.location")) return set_string(name, &r->ssl_cert, value, err);
  if (!strcmp(name, "schema_registry.ssl.key.location")) return set_string(name, &r->ssl_key, value, err);
  *err = sqlite3_mprintf("kafka: unknown option '%s' (schema_registry options: schema_registry, "
                         "schema_registry.basic_auth, schema_registry.ssl.ca.location, "
                         "schema_registry.ssl.certificate.location, schema_registry.ssl.key.location)",
                         name);
  return SQLITE_ERROR;
}

int options_set(kafka_options *opts, const char *name, const char *value, char **err) {
  if (!strcmp(name, "config")) return set_string(name, &opts->config, value, err);
  if (!strncmp(name, "rdkafka.", 8) && name[8]) return options_add_rdkafka(opts, name + 8, value, err);
  if (!strncmp(name, "schema_registry", 15)) return parse_registry(opts, name, value, err);
  if (!strcmp(name, "value_subject")) return set_string(name, &opts->value_subject, value, err);
  if (!strcmp(name, "key_subject")) return set_string(name, &opts->key_subject, value, err);
  if (!strcmp(name, "value_schema")) return set_string(name, &opts->value_schema, value, err);
  if (!strcmp(name, "value_message")) return set_string(name, &opts->value_message, value, err);
  if (!strcmp(name, "value_schema_id")) return parse_int(name, value, 1, INT32_MAX, &opts->value_schema_id, err);
  if (!strcmp(name, "key_schema")) return set_string(name, &opts->key_schema, value, err);
  if (!strcmp(name, "key_message")) return set_string(name, &opts->key_message, value, err);
  if (!strcmp(name, "value_schema_file")) return set_string(name, &opts->value_schema_file, value, err);
  if (!strcmp(name, "key_schema_file")) return set_string(name, &opts->key_schema_file, value, err);
  if (!strcmp(name, "value_proto_file")) return set_string(name, &opts->value_proto_file, value, err);
  if (!strcmp(name, "key_proto_file")) return set_string(name, &opts->key_proto_file, value, err);
  if (!strcmp(name, "value_proto_path")) return set_string(name, &opts->value_proto_path, value, err);
  if (!strcmp(name, "key_proto_path")) return set_string(name, &opts->key_proto_path, value, err);
  if (!strcmp(name, "brokers")) return parse_brokers(opts, value, err);
  if (!strcmp(name, "topic")) return set_string(name, &opts->topic, value, err);
  if (!strcmp(name, "group")) return set_string(name, &opts->group, value, err);
  if (!strcmp(name, "transactional_id")) return set_string(name, &opts->transactional_id, value, err);
  if (!strcmp(name, "key")) return parse_format(name, value, &opts->key_format, err);
  if (!strcmp(name, "value")) return parse_format(name, value, &opts->value_format, err);
  if (!strcmp(name, "columns")) return parse_columns(opts, value, err);
  if (!strcmp(name, "join")) return parse_int(name, value, 0, 1, &opts->join, err);
  if (!strcmp(name, "start")) return parse_choice(name, value, "earliest", "latest", &opts->start_latest, err);
  if (!strcmp(name, "on_error")) return parse_choice(name, value, "null", "fail", &opts->on_error_fail, err);
  if (!strcmp(name, "isolation"))
    return parse_choice(name, value, "read_committed", "read_uncommitted", &opts->read_uncommitted, err);
  if (!strcmp(name, "partitioner")) return parse_partitioner(name, value, &opts->partitioner, err);
  if (!strcmp(name, "partitions")) return parse_int(name, value, 1, 1000000, &opts->partitions, err);
  if (!strcmp(name, "replication")) return parse_int(name, value, 1, 32767, &opts->replication, err);
  if (!strcmp(name, "timeout_ms")) return parse_int(name, value, 1, MAX_TIMEOUT_MS, &opts->timeout_ms, err);
  if (!strcmp(name, "progress")) return parse_int(name, value, 0, 1, &opts->progress, err);
  *err = sqlite3_mprintf("kafka: unknown option '%s' (options: brokers, topic, key, value, columns, "
                         "group, join, start, transactional_id, partitions, replication, timeout_ms, "
                         "on_error, isolation, partitioner, config, rdkafka.<property>, schema_registry, "
                         "schema_registry.*, value_subject, key_subject, value_schema_id, "
                         "value_schema, value_message, value_schema_file, value_proto_file, "
                         "value_proto_path, key_schema, key_message, key_schema_file, key_proto_file, "
                         "key_proto_path, progress)", name);
  return SQLITE_ERROR;
}

/* Options that may appear once only but are not strings, by their text. */
static int check_repeated(const char *const *argv, int i, const char *name,
                          size_t len, char **err) {
  if (!strncmp(name, "rdkafka.", 8)) return SQLITE_OK;
  for (int j = 0; j < i; j++) {
    const char *eq = strchr(argv[j], '=');
    const char *a = argv[j];
    while (isspace((unsigned char)*a)) a++;
    size_t alen = eq ? (size_t)(eq - a) : strlen(a);
    while (alen > 0 && isspace((unsigned char)a[alen - 1])) alen--;
    if (alen == len && !strncmp(a, name, len)) {
      *err = sqlite3_mprintf("kafka: option %s is given twice", name);
      return SQLITE_ERROR;
    }
  }
  return SQLITE_OK;
}

/* What is wrong with where a side's schema comes from (NULL: nothing).
** With schema_registry, avro, jsonschema and protobuf come from it (and
** value_schema is registered there); without, avro needs a schema text or
** .avsc file and protobuf a .proto file or text (SPEC section 13);
** msgpack has no schema. */
static char *schema_source_error(const kafka_options *opts, int key) {
  const char *side = key ? "key" : "value";
  kafka_format f = key ? opts->key_format : opts->value_format;
  const char *text = key ? opts->key_schema : opts->value_schema;
  const char *avsc = key ? opts->key_schema_file : opts->value_schema_file;
  const char *proto = key ? opts->key_proto_file : opts->value_proto_file;
  const char *path = key ? opts->key_proto_path : opts->value_proto_path;
  const char *message = key ? opts->key_message : opts->value_message;
  const char *file = avsc ? "schema_file" : proto ? "proto_file" : path ? "proto_path" : NULL;
  /* value_schema and value_message have a registry meaning too; the key's do not */
  int local_text = key || !opts->registry.url;
  const char *local = file ? file : text && local_text ? "schema" : message && local_text ? "message" : NULL;
  if (opts->registry.url && local)
    return sqlite3_mprintf("kafka: option %s_%s is for schemas outside a registry: with schema_registry, "
                           "the %s's schema comes from the registry", side, local, side);
  if (opts->registry.url || f < KAFKA_FORMAT_AVRO) {
    if (!local || (f >= KAFKA_FORMAT_AVRO && f != KAFKA_FORMAT_MSGPACK)) return NULL;
    return sqlite3_mprintf("kafka: option %s_%s applies to %s = 'avro' or 'protobuf' only", side, local, side);
  }
  if (f == KAFKA_FORMAT_JSONSCHEMA)
    return sqlite3_mprintf("kafka: format jsonschema needs option schema_registry");
  if (f == KAFKA_FORMAT_MSGPACK && (file || text || message))
    return sqlite3_mprintf("kafka: option %s_%s does not apply: format msgpack has no schema", side,
                           file ? file : text ? "schema" : "message");
  if (f == KAFKA_FORMAT_AVRO && (proto || path || message))
    return sqlite3_mprintf("kafka: option %s_%s is for format protobuf; format avro takes %s_schema_file "
                           "or %s_schema", side, proto ? "proto_file" : path ? "proto_path" : "message", side, side);
  if (f == KAFKA_FORMAT_PROTOBUF && avsc)
    return sqlite3_mprintf("kafka: option %s_schema_file is for format avro; format protobuf takes "
                           "%s_proto_file", side, side);
  if (f != KAFKA_FORMAT_MSGPACK && text && (avsc || proto))
    return sqlite3_mprintf("kafka: options %s_schema and %s_%s cannot be combined: give the schema once",
                           side, side, avsc ? "schema_file" : "proto_file");
  if (f == KAFKA_FORMAT_AVRO && !text && !avsc)
    return sqlite3_mprintf("kafka: format avro needs option schema_registry, or %s_schema_file (an .avsc "
                           "file) or %s_schema (the schema's JSON text)", side, side);
  if (f == KAFKA_FORMAT_PROTOBUF && !text && !proto)
    return sqlite3_mprintf("kafka: format protobuf needs option schema_registry, or %s_proto_file (a "
                           ".proto file) or %s_schema (its text)", side, side);
  return NULL;
}

/* ---------------------------------------------------- option config -- */
/*
** The client properties file of option `config`: read whenever the
** options are parsed (CREATE and every reconnect) and only filling what the
** SQL left unset, so that options given in the SQL override it. Names are
** librdkafka's (the Java client's where the two share them), plus:
**   bootstrap.servers               the option brokers
**   sasl.jaas.config                Java's PLAIN or SCRAM login module: its
**                                   username and password
**   schema.registry.url             the option schema_registry
**   basic.auth.user.info            the option schema_registry.basic_auth
** Errors name the file and the line; a secret's value is never shown.
*/

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

/* Applies one property of the file to *arg, a kafka_options (a
** config_apply); *err says what is wrong without the file and line, which
** config_file_read() adds. */
static int apply_property(void *arg, const char *name, const char *value, char **err) {
  kafka_options *opts = arg;
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

/* The error of an argument without '=', as in kafka('host:9092', 'topic'):
** it names the argument by its position and its first word only (what
** follows may be a value, a password; a quoted value is not shown at all),
** and shows the form options take. */
static char *unnamed_argument_error(const char *arg, int position) {
  static const char named[] = "options are named, as in kafka(brokers = 'localhost:29092', "
                              "topic = 'orders')";
  while (isspace((unsigned char)*arg)) arg++;
  int n = (int)strcspn(arg, " \t\n\f\r\v'\"");
  if (n == 0)
    return sqlite3_mprintf("kafka: argument %d of kafka(...) is a quoted value, not of the form "
                           "name = 'value' (%s)", position, named);
  return sqlite3_mprintf("kafka: argument '%.*s%s' is not of the form name = 'value' (argument %d "
                         "of kafka(...); %s)", n, arg, arg[n] ? " ..." : "", position, named);
}

void options_init(kafka_options *opts) {
  memset(opts, 0, sizeof *opts);
  opts->timeout_ms = DEFAULT_TIMEOUT_MS;
  opts->replication = -1;
  opts->progress = -1;
}

int options_parse_args(kafka_options *opts, int argc, const char *const *argv, char **err) {
  int rc = SQLITE_OK;
  for (int i = 0; i < argc && rc == SQLITE_OK; i++) {
    const char *eq = strchr(argv[i], '=');
    if (!eq) {
      *err = unnamed_argument_error(argv[i], i + 1);
      return SQLITE_ERROR;
    }
    char *name = dequote(argv[i], (size_t)(eq - argv[i]));
    char *value = dequote(eq + 1, strlen(eq + 1));
    if (!name || !value) rc = SQLITE_NOMEM;
    else if (!(rc = check_repeated(argv, i, name, strlen(name), err)))
      rc = options_set(opts, name, value, err);
    sqlite3_free(name);
    sqlite3_free(value);
  }
  /* After the SQL's options, which the file's do not override. */
  if (!rc && opts->config) rc = config_file_read(opts->config, apply_property, opts, err);
  return rc;
}

int options_parse(kafka_options *opts, int argc, const char *const *argv, char **err) {
  options_init(opts);
  int rc = options_parse_args(opts, argc, argv, err);
  if (rc) return rc;
  if (!opts->brokers) *err = sqlite3_mprintf("kafka: option brokers is required (host:port,... or 'mock')");
  else if (!opts->topic) *err = sqlite3_mprintf("kafka: option topic is required");
  else if (opts->replication > 0 && !opts->partitions)
    *err = sqlite3_mprintf("kafka: option replication needs option partitions");
  else if (opts->join && !opts->group)
    *err = sqlite3_mprintf("kafka: option join needs option group (the consumer group to join)");
  else if (opts->group && opts->transactional_id)
    *err = sqlite3_mprintf("kafka: options group and transactional_id cannot be combined");
  else if (opts->value_schema && opts->value_schema_id)
    *err = sqlite3_mprintf("kafka: options value_schema and value_schema_id cannot be combined");
  else if (!(*err = schema_source_error(opts, 0)))
    *err = schema_source_error(opts, 1);
  opts->registry.timeout_ms = opts->timeout_ms;
  return *err ? SQLITE_ERROR : SQLITE_OK;
}

void options_free(kafka_options *opts) {
  sqlite3_free(opts->brokers);
  sqlite3_free(opts->config);
  sqlite3_free(opts->topic);
  sqlite3_free(opts->group);
  sqlite3_free(opts->transactional_id);
  for (int i = 0; i < opts->n_columns; i++) {
    sqlite3_free(opts->columns[i].name);
    sqlite3_free(opts->columns[i].type);
    sqlite3_free(opts->columns[i].path);
  }
  sqlite3_free(opts->columns);
  for (int i = 0; i < opts->n_rdkafka; i++) {
    sqlite3_free(opts->rdkafka[i].name);
    sqlite3_free(opts->rdkafka[i].value);
  }
  sqlite3_free(opts->rdkafka);
  sqlite3_free(opts->registry.url);
  sqlite3_free(opts->registry.basic_auth);
  sqlite3_free(opts->registry.ssl_ca);
  sqlite3_free(opts->registry.ssl_cert);
  sqlite3_free(opts->registry.ssl_key);
  sqlite3_free(opts->value_subject);
  sqlite3_free(opts->key_subject);
  sqlite3_free(opts->value_schema);
  sqlite3_free(opts->value_message);
  sqlite3_free(opts->key_schema);
  sqlite3_free(opts->key_message);
  sqlite3_free(opts->value_schema_file);
  sqlite3_free(opts->key_schema_file);
  sqlite3_free(opts->value_proto_file);
  sqlite3_free(opts->key_proto_file);
  sqlite3_free(opts->value_proto_path);
  sqlite3_free(opts->key_proto_path);
  memset(opts, 0, sizeof *opts);
}

const char *options_time_column(const kafka_options *opts) {
  for (int i = 0; i < opts->n_columns; i++)
    if (!sqlite3_stricmp(opts->columns[i].name, "time")) return "kafka_time";
  return "time";
}

static const char *format_type(kafka_format f) {
  return f == KAFKA_FORMAT_BLOB ? "BLOB" : "TEXT";
}

char *options_schema(const kafka_options *opts) {
  sqlite3_str *s = sqlite3_str_new(NULL);
  sqlite3_str_appendf(s,
                      "CREATE TABLE x(\"partition\" INTEGER, \"offset\" INTEGER, "
                      "\"timestamp\" INTEGER, \"key\" %s, \"value\" %s, headers TEXT, "
                      "error TEXT HIDDEN, follow INTEGER HIDDEN, schema_id INTEGER HIDDEN, \"%s\" TEXT HIDDEN",
                      format_type(opts->key_format), format_type(opts->value_format), options_time_column(opts));
  for (int i = 0; i < opts->n_columns; i++)
    sqlite3_str_appendf(s, ", \"%w\" %s", opts->columns[i].name, opts->columns[i].type);
  sqlite3_str_appendall(s, ")");
  return sqlite3_str_finish(s);
}
