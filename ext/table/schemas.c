/*
** A table's registry schemas: CREATE learns the value subject's columns
** and keeps them in the shadow table <name>_registry (rows name, value:
** 'columns' in the columns option's syntax, 'value_schema_id' when CREATE
** registered value_schema); reading decodes each message with its own
** writer schema; writing encodes with the subject's latest schema.
**
** A side without a registry (SPEC section 13: avro or protobuf with the
** schema in a file or an option's text, and msgpack) is plain: no framing,
** one schema, the table's own. CREATE reads it (files included) and keeps
** its texts in the shadow table too (rows <side>_schema, <side>_schema_name
** and <side>_import:<name>), so that reopening needs no file.
**
** Writer schemas are fetched by id once and kept parsed while the library
** is loaded (ids are immutable; a topic has few of them).
*/
#include "base.h"
#include "codec.h"
#include "client.h"
#include "table.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* One parsed schema of the process-wide cache. */
typedef struct cached_schema {
  struct cached_schema *next;
  char *url;             /* the registry (schema_registry option) */
  const codec *codec;
  char *message;         /* value_message (Protobuf), or NULL */
  int32_t id;
  codec_schema *schema;
} cached_schema;

static cached_schema *cache;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

/* The per-table state of a key or value side. */
typedef struct side_state {
  const codec *codec;
  int plain;                        /* no registry: plain payloads of `own` */
  codec_schema *own;                /* a plain side's schema */
  int32_t write_id;                 /* 0 until the first INSERT needs it */
  const codec_schema *write_schema;
  int32_t last_id;                  /* the last writer schema read: most messages share it */
  const codec_schema *last;
  int32_t failed_id;                /* an id that could not be had, and why: */
  char *failed_why;                 /* a dead registry is not asked once per message */
} side_state;

struct table_schemas {
  side_state side[2]; /* [0] value, [1] key */
};

static int same(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

static const codec_schema *cache_find(const char *url, const codec *c, const char *message, int32_t id) {
  const codec_schema *found = NULL;
  pthread_mutex_lock(&cache_lock);
  for (cached_schema *e = cache; e && !found; e = e->next)
    if (e->id == id && e->codec == c && same(e->url, url) && same(e->message, message)) found = e->schema;
  pthread_mutex_unlock(&cache_lock);
  return found;
}

/* Adds a parsed schema, unless another thread was first: then that one. */
static const codec_schema *cache_add(const char *url, const codec *c, const char *message, int32_t id,
                                     codec_schema *schema) {
  cached_schema *e = malloc(sizeof *e);
  char *u = strdup(url), *m = message ? strdup(message) : NULL;
  if (!e || !u || (message && !m)) {
    free(e), free(u), free(m);
    c->release(schema);
    return NULL;
  }
  pthread_mutex_lock(&cache_lock);
  const codec_schema *won = NULL;
  for (cached_schema *o = cache; o && !won; o = o->next)
    if (o->id == id && o->codec == c && same(o->url, url) && same(o->message, message)) won = o->schema;
  if (!won) {
    *e = (cached_schema){cache, u, c, m, id, schema};
    cache = e;
  }
  pthread_mutex_unlock(&cache_lock);
  if (!won) return schema;
  free(e), free(u), free(m);
  c->release(schema);
  return won;
}

/* SQLite unloads the extension when its last connection closes: the
** cache goes with the library instead of being lost. */
__attribute__((destructor)) static void cache_free(void) {
  while (cache) {
    cached_schema *e = cache;
    cache = e->next;
    e->codec->release(e->schema);
    free(e->url);
    free(e->message);
    free(e);
  }
}

static const char *side_name(int key) { return key ? "key" : "value"; }

/* Parses a registry schema with the side's codec, checking its type; the
** schemas it references are fetched as the codec asks for them. */
static int parse_fetched(const kafka_options *opts, const codec *c, const char *message,
                         const registry_schema *rs, codec_schema **out, char **err) {
  if (strcmp(rs->type, c->registry_type)) {
    *err = sqlite3_mprintf("kafka: schema id %d is a %s schema, not %s (format %s)", (int)rs->id, rs->type,
                           c->registry_type, c->name);
    return SQLITE_ERROR;
  }
  char *why = NULL;
  schema_references refs;
  int rc = references_init(&refs, &opts->registry, rs->references);
  if (!rc) rc = c->parse(rs->schema, message, &refs.imports, out, &why);
  if (rc == SQLITE_ERROR) *err = sqlite3_mprintf("kafka: schema id %d: %s", (int)rs->id, why);
  references_clear(&refs);
  sqlite3_free(why);
  return rc;
}

/* The parsed schema of an id: from the cache, else from the registry.
** `message` is value_message for the value side, NULL for the key. */
static int schema_by_id(const kafka_options *opts, const codec *c, const char *message, int32_t id,
                        const codec_schema **out, char **err) {
  const char *url = opts->registry.url;
  if ((*out = cache_find(url, c, message, id))) return SQLITE_OK;
  registry_schema rs = {0};
  codec_schema *parsed = NULL;
  int rc = registry_by_id(&opts->registry, id, &rs, err);
  if (!rc) rc = parse_fetched(opts, c, message, &rs, &parsed, err);
  registry_schema_clear(&rs);
  if (rc) return rc;
  *out = cache_add(url, c, message, id, parsed);
  return *out ? SQLITE_OK : SQLITE_NOMEM;
}

static char *subject_of(const kafka_options *opts, int key) {
  const char *given = key ? opts->key_subject : opts->value_subject;
  return given ? sqlite3_mprintf("%s", given) : sqlite3_mprintf("%s-%s", opts->topic, side_name(key));
}

static struct table_schemas *state(kafka_vtab *vtab) {
  if (!vtab->schemas) {
    vtab->schemas = sqlite3_malloc64(sizeof *vtab->schemas);
    if (!vtab->schemas) return NULL;
    memset(vtab->schemas, 0, sizeof *vtab->schemas);
    for (int key = 0; key < 2; key++) {
      side_state *side = &vtab->schemas->side[key];
      kafka_format f = key ? vtab->opts.key_format : vtab->opts.value_format;
      side->codec = codec_for(f);
      side->plain = side->codec && (!side->codec->registry_type || !vtab->opts.registry.url);
    }
  }
  return vtab->schemas;
}

void schemas_free(kafka_vtab *vtab) {
  if (!vtab->schemas) return;
  for (int i = 0; i < 2; i++) {
    side_state *side = &vtab->schemas->side[i];
    sqlite3_free(side->failed_why);
    if (side->own) side->codec->release(side->own);
  }
  sqlite3_free(vtab->schemas);
  vtab->schemas = NULL;
}

int schemas_shadow_name(const char *suffix) { return !sqlite3_stricmp(suffix, SCHEMAS_SHADOW); }

/* ------------------------------------------------------------ CREATE -- */

/* Appends one learned column to the columns spec (a codec_column_fn).
** A field named like a fixed column (key, value, timestamp...) or not a
** plain name is left out: it stays readable in value's JSON. */
static int add_column(void *arg, const char *name, const char *sql_type) {
  void **pair = arg;
  const kafka_options *opts = pair[0];
  sqlite3_str *spec = pair[1];
  for (const char *p = name; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_') return SQLITE_OK;
  if (!*name || options_column_name_taken(opts, name)) return SQLITE_OK;
  sqlite3_str_appendf(spec, "%s%s %s", sqlite3_str_length(spec) ? ", " : "", name, sql_type);
  return sqlite3_str_errcode(spec);
}

/* The value side's schema for CREATE: value_schema registered (its id in
** *registered), value_schema_id, or the subject's latest version. */
static int create_schema(kafka_vtab *vtab, const codec *c, int32_t *registered,
                         const codec_schema **out, char **err) {
  const kafka_options *opts = &vtab->opts;
  char *subject = subject_of(opts, 0);
  if (!subject) return SQLITE_NOMEM;
  int rc = SQLITE_OK;
  int32_t id = opts->value_schema_id;
  if (opts->value_schema) { /* malformed text fails here, before the registry sees it */
    codec_schema *probe = NULL;
    char *why = NULL;
    rc = c->parse(opts->value_schema, opts->value_message, NULL, &probe, &why);
    if (rc == SQLITE_ERROR) *err = sqlite3_mprintf("kafka: option value_schema: %s", why);
    sqlite3_free(why);
    if (probe) c->release(probe);
    if (!rc) rc = registry_register(&opts->registry, subject, opts->value_schema, c->registry_type, &id, err);
    *registered = id;
  } else if (!id) {
    registry_schema rs = {0};
    rc = registry_version(&opts->registry, subject, "latest", &rs, err);
    id = rs.id;
    registry_schema_clear(&rs);
  }
  if (!rc) rc = schema_by_id(opts, c, opts->value_message, id, out, err);
  sqlite3_free(subject);
  return rc;
}

/* The key side at CREATE: its subject must have a schema. */
static int create_key(kafka_vtab *vtab, const codec *c, char **err) {
  char *subject = subject_of(&vtab->opts, 1);
  if (!subject) return SQLITE_NOMEM;
  registry_schema rs = {0};
  const codec_schema *parsed;
  int rc = registry_version(&vtab->opts.registry, subject, "latest", &rs, err);
  if (!rc) rc = schema_by_id(&vtab->opts, c, NULL, rs.id, &parsed, err);
  registry_schema_clear(&rs);
  sqlite3_free(subject);
  return rc;
}

/* ------------------------------------------------------ plain sides -- */

/* A plain side's schema as CREATE reads it and the shadow table keeps it. */
typedef struct plain_schema {
  char *name;         /* the file name its errors give (NULL: the codec's default) */
  char *text;         /* NULL: the codec has no schema (msgpack) */
  schema_files files; /* its imports, by import name */
} plain_schema;

static void plain_clear(plain_schema *p) {
  sqlite3_free(p->name);
  sqlite3_free(p->text);
  schema_files_clear(&p->files);
}

/* The options of a side's schema (SPEC section 13). */
typedef struct plain_options {
  const char *option; /* where the schema is: "value_schema_file", ... */
  const char *file, *text, *dirs, *message;
} plain_options;

static plain_options plain_options_of(const kafka_options *o, int key) {
  plain_options p = {NULL, key ? o->key_schema_file : o->value_schema_file, key ? o->key_schema : o->value_schema,
                     key ? o->key_proto_path : o->value_proto_path, key ? o->key_message : o->value_message};
  const char *proto = key ? o->key_proto_file : o->value_proto_file;
  p.option = p.file ? (key ? "key_schema_file" : "value_schema_file")
             : proto ? (key ? "key_proto_file" : "value_proto_file")
                     : (key ? "key_schema" : "value_schema");
  if (proto) p.file = proto;
  return p;
}

/* Parses a plain side's schema into side->own; *why says why not. */
static int plain_parse(side_state *side, plain_schema *p, const char *message, char **why) {
  const codec *c = side->codec;
  return c->parse_plain ? c->parse_plain(p->name, p->text, message, &p->files.imports, &side->own, why)
                        : c->parse(p->text, message, &p->files.imports, &side->own, why);
}

/* CREATE: reads a plain side's schema (the option's text, or its file and
** the file's imports, found in the import directories: proto_path, else
** the file's own directory) and parses it. */
static int plain_create(kafka_vtab *vtab, int key, plain_schema *p, char **err) {
  side_state *side = &vtab->schemas->side[key];
  plain_options o = plain_options_of(&vtab->opts, key);
  char *dir = o.file && !o.dirs ? schema_file_dir(o.file) : NULL;
  int rc = schema_files_init(&p->files, o.dirs ? o.dirs : dir);
  if (!rc && o.file) rc = schema_file_read(o.option, o.file, &p->text, err);
  else if (!rc && o.text) rc = (p->text = sqlite3_mprintf("%s", o.text)) ? SQLITE_OK : SQLITE_NOMEM;
  if (!rc && o.file) rc = (p->name = schema_file_import_name(o.file, o.dirs ? o.dirs : dir)) ? SQLITE_OK : SQLITE_NOMEM;
  sqlite3_free(dir);
  char *why = NULL;
  if (!rc) rc = plain_parse(side, p, o.message, &why);
  if (rc == SQLITE_ERROR && why)
    *err = o.file ? sqlite3_mprintf("kafka: option %s '%s': %s", o.option, o.file, why)
                  : sqlite3_mprintf("kafka: option %s: %s", o.option, why);
  sqlite3_free(why);
  return rc;
}

static int shadow_put(sqlite3 *db, const char *dbname, const char *table, const char *name,
                      const char *value);

/* CREATE: keeps a plain side's texts in the shadow table. */
static int plain_store(kafka_vtab *vtab, const char *db, const char *table, int key, const plain_schema *p) {
  const char *side = side_name(key);
  char row[64];
  snprintf(row, sizeof row, "%s_schema", side);
  int rc = p->text ? shadow_put(vtab->db, db, table, row, p->text) : SQLITE_OK;
  snprintf(row, sizeof row, "%s_schema_name", side);
  if (!rc && p->name) rc = shadow_put(vtab->db, db, table, row, p->name);
  for (const cJSON *i = p->files.known ? p->files.known->child : NULL; i && !rc; i = i->next) {
    char *name = sqlite3_mprintf("%s_import:%s", side, i->string);
    rc = name ? shadow_put(vtab->db, db, table, name, i->valuestring) : SQLITE_NOMEM;
    sqlite3_free(name);
  }
  return rc;
}

/* CONNECT: one shadow row of a plain side; 1 when it was one. */
static int plain_row(plain_schema p[2], const char *name, const char *value, int *rc) {
  int key = !strncmp(name, "key_", 4);
  const char *rest = name + (key ? 4 : !strncmp(name, "value_", 6) ? 6 : 0);
  if (rest == name) return 0;
  char **slot = !strcmp(rest, "schema") ? &p[key].text : !strcmp(rest, "schema_name") ? &p[key].name : NULL;
  if (slot) *rc = (*slot = sqlite3_mprintf("%s", value)) ? SQLITE_OK : SQLITE_NOMEM;
  else if (!strncmp(rest, "import:", 7)) *rc = schema_files_add(&p[key].files, rest + 7, value);
  else return 0;
  return 1;
}

/* CONNECT: parses the plain sides' schemas from the texts CREATE kept.
** One that is lost or does not parse leaves its side without a schema
** (failed_why says why; reading and writing say it) rather than failing:
** the table must still connect for DROP TABLE. */
static int plain_connect(kafka_vtab *vtab, plain_schema p[2]) {
  int rc = SQLITE_OK;
  for (int key = 0; key < 2 && !rc; key++) {
    side_state *side = &vtab->schemas->side[key];
    if (!side->plain) continue;
    char *why = NULL;
    if (!p[key].text && side->codec->registry_type)
      why = sqlite3_mprintf("the shadow table %s_" SCHEMAS_SHADOW " lacks the schema CREATE read (row %s_schema): "
                            "drop the table and create it again", vtab->table_name, side_name(key));
    else
      rc = plain_parse(side, &p[key], plain_options_of(&vtab->opts, key).message, &why);
    if (rc == SQLITE_ERROR || why) {
      side->failed_why = why ? sqlite3_mprintf("table %s: schema: %s", vtab->table_name, why) : NULL;
      rc = side->failed_why ? SQLITE_OK : SQLITE_NOMEM;
    }
    sqlite3_free(why);
  }
  return rc;
}

/* A plain side without a schema (plain_connect): why, as an error. */
static int plain_lost(int key, const side_state *side, const char *prefix, char **why) {
  *why = sqlite3_mprintf("%s%s: %s", prefix, side_name(key), side->failed_why);
  return SQLITE_ERROR;
}

static int shadow_put(sqlite3 *db, const char *dbname, const char *table, const char *name,
                      const char *value) {
  char *sql = sqlite3_mprintf("INSERT OR REPLACE INTO \"%w\".\"%w_" SCHEMAS_SHADOW "\"(name, value) "
                              "VALUES (%Q, %Q)", dbname, table, name, value);
  int rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  return rc;
}

/* BLOB columns of a codec value read its hex bytes as a BLOB: the hex
** digits themselves (registry formats), or those under the codec's
** bytes_member (msgpack's {"$bin": "hex"}), where the column's path then
** goes on to. */
static int mark_hex_blobs(kafka_options *opts) {
  const codec *c = codec_for(opts->value_format);
  for (int i = 0; c && i < opts->n_columns; i++) {
    typed_column *col = &opts->columns[i];
    col->hex_blob = !sqlite3_stricmp(col->type, "BLOB");
    if (!col->hex_blob || !c->bytes_member) continue;
    char *path = sqlite3_mprintf("%s.\"%s\"", col->path, c->bytes_member);
    if (!path) return SQLITE_NOMEM;
    sqlite3_free(col->path);
    col->path = path;
  }
  return SQLITE_OK;
}

int schemas_create(kafka_vtab *vtab, const char *db, const char *table, char **err) {
  struct table_schemas *t = state(vtab);
  if (!t) return SQLITE_NOMEM;
  const codec *vc = t->side[0].codec, *kc = t->side[1].codec;
  plain_schema plain[2];
  memset(plain, 0, sizeof plain);
  int rc = !kc ? SQLITE_OK : t->side[1].plain ? plain_create(vtab, 1, &plain[1], err) : create_key(vtab, kc, err);
  int32_t registered = 0;
  const codec_schema *schema = NULL;
  if (!rc && vc && t->side[0].plain) {
    rc = plain_create(vtab, 0, &plain[0], err);
    schema = t->side[0].own;
  } else if (!rc && vc) {
    rc = create_schema(vtab, vc, &registered, &schema, err);
  }
  sqlite3_str *spec = sqlite3_str_new(NULL);
  if (!rc && vc && vc->registry_type && !vtab->opts.n_columns) {
    void *pair[2] = {&vtab->opts, spec};
    rc = vc->columns(schema, add_column, pair, err);
    if (!rc && sqlite3_str_length(spec)) rc = options_add_columns(&vtab->opts, sqlite3_str_value(spec), err);
  }
  char *sql = rc ? NULL : sqlite3_mprintf("CREATE TABLE \"%w\".\"%w_" SCHEMAS_SHADOW "\"(name TEXT PRIMARY KEY, "
                                          "value) WITHOUT ROWID", db, table);
  if (!rc) rc = sql ? sqlite3_exec(vtab->db, sql, NULL, NULL, err) : SQLITE_NOMEM;
  if (!rc && sqlite3_str_length(spec)) rc = shadow_put(vtab->db, db, table, "columns", sqlite3_str_value(spec));
  if (!rc && registered) {
    char id[16];
    snprintf(id, sizeof id, "%d", (int)registered);
    rc = shadow_put(vtab->db, db, table, "value_schema_id", id);
  }
  if (!rc && registered) vtab->opts.value_schema_id = registered;
  for (int key = 0; key < 2 && !rc; key++)
    if (t->side[key].plain) rc = plain_store(vtab, db, table, key, &plain[key]);
  plain_clear(&plain[0]);
  plain_clear(&plain[1]);
  if (!rc) rc = mark_hex_blobs(&vtab->opts);
  sqlite3_free(sql);
  sqlite3_free(sqlite3_str_finish(spec));
  return rc;
}

/* ----------------------------------------------------------- CONNECT -- */

int schemas_reader(kafka_vtab *vtab, char **err) {
  struct table_schemas *t = state(vtab);
  int rc = t ? SQLITE_OK : SQLITE_NOMEM;
  for (int key = 0; key < 2 && !rc; key++) {
    if (!t->side[key].plain) continue;
    plain_schema p;
    memset(&p, 0, sizeof p);
    rc = plain_create(vtab, key, &p, err);
    plain_clear(&p);
  }
  return rc ? rc : mark_hex_blobs(&vtab->opts);
}

int schemas_connect(kafka_vtab *vtab, const char *db, const char *table, char **err) {
  char *sql = sqlite3_mprintf("SELECT name, value FROM \"%w\".\"%w_" SCHEMAS_SHADOW "\"", db, table);
  sqlite3_stmt *stmt = NULL;
  int rc = sql ? sqlite3_prepare_v2(vtab->db, sql, -1, &stmt, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc) {
    *err = sqlite3_mprintf("kafka: table %s: its shadow table %s_" SCHEMAS_SHADOW " is missing or "
                           "unreadable: %s", table, table, sqlite3_errmsg(vtab->db));
    return SQLITE_ERROR;
  }
  plain_schema plain[2];
  memset(plain, 0, sizeof plain);
  rc = schema_files_init(&plain[0].files, NULL) || schema_files_init(&plain[1].files, NULL) ? SQLITE_NOMEM : SQLITE_OK;
  while (!rc && sqlite3_step(stmt) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(stmt, 0);
    const char *value = (const char *)sqlite3_column_text(stmt, 1);
    if (!name || !value) continue;
    if (!strcmp(name, "columns") && !vtab->opts.n_columns) rc = options_add_columns(&vtab->opts, value, err);
    else if (!strcmp(name, "value_schema_id")) vtab->opts.value_schema_id = atoi(value);
    else plain_row(plain, name, value, &rc);
  }
  sqlite3_finalize(stmt);
  if (!rc) rc = state(vtab) ? plain_connect(vtab, plain) : SQLITE_NOMEM;
  plain_clear(&plain[0]);
  plain_clear(&plain[1]);
  return rc ? rc : mark_hex_blobs(&vtab->opts);
}

int schemas_rename(kafka_vtab *vtab, const char *new_name) {
  char *sql = sqlite3_mprintf("ALTER TABLE \"%w\".\"%w_" SCHEMAS_SHADOW "\" RENAME TO \"%w_" SCHEMAS_SHADOW "\"",
                              vtab->db_name, vtab->table_name, new_name);
  int rc = sql ? sqlite3_exec(vtab->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  return rc;
}

int schemas_destroy(kafka_vtab *vtab, const char *db, const char *table) {
  char *sql = sqlite3_mprintf("DROP TABLE IF EXISTS \"%w\".\"%w_" SCHEMAS_SHADOW "\"", db, table);
  int rc = sql ? sqlite3_exec(vtab->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  return rc;
}

/* ---------------------------------------------------- decode, encode -- */

/* The writer schema of id for a side, remembering the last one used and
** the last one that could not be had. */
static int side_schema(kafka_vtab *vtab, side_state *side, int32_t id, const codec_schema **out,
                       char **why) {
  if (id == side->last_id && side->last) {
    *out = side->last;
    return SQLITE_OK;
  }
  if (id == side->failed_id && side->failed_why) {
    *why = sqlite3_mprintf("%s", side->failed_why);
    return SQLITE_ERROR;
  }
  /* No message type: a payload names its own (Protobuf's index array). */
  int rc = schema_by_id(&vtab->opts, side->codec, NULL, id, out, why);
  if (rc == SQLITE_ERROR) {
    sqlite3_free(side->failed_why);
    side->failed_id = id;
    side->failed_why = sqlite3_mprintf("%s", *why);
  } else if (!rc) {
    side->last_id = id;
    side->last = *out;
  }
  return rc;
}

/* The writer schema and payload of a framed key or value; on failure
** SQLITE_ERROR with *why saying why. */
static int framed_writer(kafka_vtab *vtab, side_state *side, int key, const void *data, size_t len,
                         int32_t *id, const codec_schema **writer, const void **payload,
                         size_t *payload_len, char **why) {
  const char *frame_why;
  *id = -1;
  if (side->plain && !side->own) return plain_lost(key, side, "", why);
  if (side->plain) { /* one schema, no framing */
    *writer = side->own;
    *payload = data;
    *payload_len = len;
    return SQLITE_OK;
  }
  if (codec_frame_read(data, len, id, payload, payload_len, &frame_why)) {
    *why = sqlite3_mprintf("%s: %s", side_name(key), frame_why);
    return SQLITE_ERROR;
  }
  char *fetch_err = NULL;
  int rc = side_schema(vtab, side, *id, writer, &fetch_err);
  if (rc == SQLITE_ERROR)
    *why = sqlite3_mprintf("%s: %s", side_name(key), fetch_err + (strncmp(fetch_err, "kafka: ", 7) ? 0 : 7));
  sqlite3_free(fetch_err);
  return rc;
}

/* A codec's decoding error, with the side and schema id (-1: none). */
static int decode_error(int rc, int key, int32_t id, char *decode_why, char **why) {
  if (rc == SQLITE_ERROR && id < 0) *why = sqlite3_mprintf("%s: %s", side_name(key), decode_why ? decode_why : "");
  else if (rc == SQLITE_ERROR)
    *why = sqlite3_mprintf("%s: schema id %d: %s", side_name(key), (int)id, decode_why ? decode_why : "");
  sqlite3_free(decode_why);
  return rc;
}

int schemas_decode(kafka_vtab *vtab, int key, const void *data, size_t len, char **json,
                   int32_t *id, char **why) {
  struct table_schemas *t = state(vtab);
  if (!t) return SQLITE_NOMEM;
  side_state *side = &t->side[key ? 1 : 0];
  const codec_schema *writer;
  const void *payload;
  size_t payload_len;
  int rc = framed_writer(vtab, side, key, data, len, id, &writer, &payload, &payload_len, why);
  if (rc) return rc;
  char *decode_why = NULL;
  rc = side->codec->decode(writer, payload, payload_len, json, &decode_why);
  return decode_error(rc, key, *id, decode_why, why);
}

int schemas_decode_columns(kafka_vtab *vtab, const void *data, size_t len,
                           const unsigned char *wanted, sql_value *out, char **why) {
  struct table_schemas *t = state(vtab);
  if (!t) return SQLITE_NOMEM;
  side_state *side = &t->side[0];
  if (!side->codec->decode_columns) return SQLITE_NOTFOUND;
  const codec_schema *writer;
  const void *payload;
  size_t payload_len;
  int32_t id;
  int rc = framed_writer(vtab, side, 0, data, len, &id, &writer, &payload, &payload_len, why);
  if (rc) return rc;
  char *decode_why = NULL;
  rc = side->codec->decode_columns(writer, payload, payload_len, vtab->opts.columns, vtab->opts.n_columns,
                                   wanted, out, &decode_why);
  return decode_error(rc, 0, id, decode_why, why);
}

/* The side's write schema: value_schema_id (or the one CREATE
** registered), else the subject's latest version, asked once. */
static int write_schema(kafka_vtab *vtab, int key, side_state *side, char **err) {
  if (side->plain && !side->own) return plain_lost(key, side, "kafka: ", err);
  if (side->plain) side->write_schema = side->own;
  if (side->write_schema) return SQLITE_OK;
  int32_t id = key ? 0 : vtab->opts.value_schema_id;
  int rc = SQLITE_OK;
  if (!id) {
    char *subject = subject_of(&vtab->opts, key);
    registry_schema rs = {0};
    rc = subject ? registry_version(&vtab->opts.registry, subject, "latest", &rs, err) : SQLITE_NOMEM;
    id = rs.id;
    registry_schema_clear(&rs);
    sqlite3_free(subject);
  }
  if (!rc) rc = schema_by_id(&vtab->opts, side->codec, key ? NULL : vtab->opts.value_message, id,
                             &side->write_schema, err);
  if (!rc) side->write_id = id;
  return rc;
}

/* Frames a payload written with the side's schema (a plain one as it is). */
static int frame(side_state *side, void *payload, size_t payload_len, void **out, size_t *out_len) {
  if (side->plain) {
    *out = payload;
    *out_len = payload_len;
    return SQLITE_OK;
  }
  *out = codec_frame_write(side->write_id, payload, payload_len);
  *out_len = CODEC_FRAME_SIZE + payload_len;
  sqlite3_free(payload);
  return *out ? SQLITE_OK : SQLITE_NOMEM;
}

int schemas_encode_columns(kafka_vtab *vtab, sqlite3_value **values, void **out, size_t *out_len,
                           char **err) {
  struct table_schemas *t = state(vtab);
  if (!t) return SQLITE_NOMEM;
  side_state *side = &t->side[0];
  int rc = write_schema(vtab, 0, side, err);
  void *payload = NULL;
  size_t payload_len = 0;
  rc = rc ? rc : !side->codec->encode_columns ? SQLITE_NOTFOUND
               : side->codec->encode_columns(side->write_schema, vtab->opts.columns, values,
                                             vtab->opts.n_columns, &payload, &payload_len, err);
  if (!rc) return frame(side, payload, payload_len, out, out_len);
  if (rc != SQLITE_NOTFOUND) return rc;
  char *json = NULL;
  rc = format_compose_value(&vtab->opts, values, &json, err);
  if (!rc) rc = schemas_encode(vtab, 0, json, strlen(json), out, out_len, err);
  sqlite3_free(json);
  return rc;
}

int schemas_encode(kafka_vtab *vtab, int key, const char *json, size_t len, void **out,
                   size_t *out_len, char **err) {
  struct table_schemas *t = state(vtab);
  if (!t) return SQLITE_NOMEM;
  side_state *side = &t->side[key ? 1 : 0];
  int rc = write_schema(vtab, key, side, err);
  void *payload = NULL;
  size_t payload_len = 0;
  if (!rc) rc = side->codec->encode(side->write_schema, json, len, &payload, &payload_len, err);
  if (!rc) return frame(side, payload, payload_len, out, out_len);
  sqlite3_free(payload);
  return rc;
}

int schemas_schema_id(kafka_vtab *vtab, const void *data, size_t len, int32_t *id) {
  struct table_schemas *t = state(vtab);
  const void *payload;
  const char *why;
  return !t || t->side[0].plain ? -1 : codec_frame_read(data, len, id, &payload, &len, &why);
}
