/*
** The `kafka` module: the table's life cycle (create, connect, disconnect,
** destroy, rename) and its method table; reading is scan.c (where the
** cursor, kafka_cursor, lives), writing produce.c, planning plan.c, and
** the transaction methods are the coordinator's (txn.c).
*/
#include "table.h"

#include <string.h>

SQLITE_EXTENSION_INIT3

/* Creates the topic when partitions= is given and it is missing, else
** checks that it exists; the consumer used is kept for the first scan. */
static int topic_check(kafka_vtab *vtab, char **err) {
  kafka_client *client;
  int rc = client_new_consumer(&vtab->opts, &client, err);
  if (rc) return rc;
  int partitions = vtab->opts.partitions;
  /* sqlite3_interrupt() (Ctrl-C) ends CREATE's waits. */
  rc = client_watch(client, vtab->db);
  if (rc) {
    client_free(client);
    return rc;
  }
  if (vtab->opts.partitions > 0)
    rc = client_create_topic(client, &vtab->opts, vtab->opts.topic, vtab->opts.partitions,
                             vtab->opts.replication, NULL, 1, err);
  else
    rc = client_topic_partitions(client, &vtab->opts, vtab->opts.topic, &partitions, err);
  client_unwatch(client);
  vtab->prefetch_partitions = partitions;
  /* A topic of many partitions scans with a larger prefetch (client.c). */
  if (!rc && client_prefetch_kbytes(partitions) > client_prefetch_kbytes(0)) {
    client_free(client);
    rc = client_new_scan_consumer(&vtab->opts, partitions, &client, err);
    if (rc) return rc;
  }
  if (rc) client_free(client);
  else vtab->idle = client;
  return rc;
}

/* A CREATE (of a TEMP table: the main database cannot take one) on a
** read-only connection may read but not create a topic or register a
** schema. */
static int refuse_read_only_create(sqlite3 *db, const kafka_options *opts, char **err) {
  const char *option = opts->partitions ? "partitions" : opts->value_schema ? "value_schema" : NULL;
  if (!option || !connection_read_only(db)) return SQLITE_OK;
  char *what = sqlite3_mprintf("kafka: option %s (it creates the topic or registers the schema)", option);
  *err = read_only_error(what ? what : "kafka: CREATE");
  sqlite3_free(what);
  return SQLITE_READONLY;
}

static void vtab_free(kafka_vtab *vtab) {
  if (!vtab) return;
  txn_forget(vtab->txn, vtab);
  produce_close(vtab);
  member_leave(vtab);
  scan_release_idle(vtab);
  schemas_free(vtab);
  options_free(&vtab->opts);
  sqlite3_free(vtab->db_name);
  sqlite3_free(vtab->table_name);
  sqlite3_free(vtab->cluster_id);
  sqlite3_free(vtab);
}

/* CREATE refuses `partitioner` with a key a codec encodes (a registry
** format, a schema file's, MessagePack): producers hash the key's encoded
** bytes (framed with its schema id), `key =` compares the JSON text the
** key decodes to, and no hash of one finds the other's partition. (A table
** created before is opened; it never narrows by key.) */
static int check_partitioner(const kafka_options *opts, char **err) {
  const codec *c = codec_for(opts->key_format);
  if (!opts->partitioner || !c) return SQLITE_OK;
  *err = sqlite3_mprintf("kafka: option partitioner cannot be combined with key = '%s': producers hash the "
                         "key's encoded bytes, not the JSON text a query compares, so key = would miss rows; "
                         "leave partitioner out (key = then reads every partition)", c->name);
  return SQLITE_ERROR;
}

kafka_vtab *module_table_new(sqlite3 *db, kafka_options *opts) {
  kafka_vtab *vtab = sqlite3_malloc64(sizeof *vtab);
  if (!vtab) {
    options_free(opts);
    return NULL;
  }
  memset(vtab, 0, sizeof *vtab);
  vtab->db = db;
  vtab->opts = *opts;
  memset(opts, 0, sizeof *opts);
  return vtab;
}

void module_table_free(kafka_vtab *vtab) { vtab_free(vtab); }

/* xCreate and xConnect. Only CREATE VIRTUAL TABLE (xCreate) talks to the
** cluster; opening a database that holds kafka tables does not, so a
** broker that is down does not keep the file from opening. */
static int kafka_init(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **err, int creating) {
  kafka_vtab *vtab = sqlite3_malloc64(sizeof *vtab);
  if (!vtab) return SQLITE_NOMEM;
  memset(vtab, 0, sizeof *vtab);
  vtab->db = db;
  vtab->txn = aux;
  vtab->producers = txn_producers(aux);
  vtab->db_name = sqlite3_mprintf("%s", argv[1]);
  vtab->table_name = sqlite3_mprintf("%s", argv[2]);
  int rc = vtab->db_name && vtab->table_name ? options_parse(&vtab->opts, argc - 3, argv + 3, err) : SQLITE_NOMEM;
  if (!rc && creating) rc = check_partitioner(&vtab->opts, err);
  if (!rc && creating) rc = refuse_read_only_create(db, &vtab->opts, err);
  vtab->opts.registry.db = db; /* sqlite3_interrupt() ends registry requests */
  /* The registry is asked at CREATE only; reopening reads what it said. */
  int registry = !rc && (codec_for(vtab->opts.value_format) || codec_for(vtab->opts.key_format));
  if (registry) rc = creating ? schemas_create(vtab, argv[1], argv[2], err) : schemas_connect(vtab, argv[1], argv[2], err);
  char *schema = rc ? NULL : options_schema(&vtab->opts);
  if (!rc && !schema) rc = SQLITE_NOMEM;
  if (!rc) rc = sqlite3_declare_vtab(db, schema);
  sqlite3_free(schema);
  /* A trigger or view in an untrusted database must not reach a broker. */
  if (!rc) rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  if (!rc && creating) rc = topic_check(vtab, err);
  if (!rc) rc = txn_table_attach(vtab->txn, vtab);
  if (rc) {
    vtab_free(vtab);
    return rc;
  }
  *out = &vtab->base;
  return SQLITE_OK;
}

static int kafka_create(sqlite3 *db, void *aux, int argc, const char *const *argv,
                        sqlite3_vtab **out, char **err) {
  return kafka_init(db, aux, argc, argv, out, err, 1);
}

static int kafka_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                         sqlite3_vtab **out, char **err) {
  return kafka_init(db, aux, argc, argv, out, err, 0);
}

static int kafka_disconnect(sqlite3_vtab *base) {
  vtab_free((kafka_vtab *)base);
  return SQLITE_OK;
}

/* DROP TABLE never deletes the topic; it drops the registry shadow table. */
static int kafka_destroy(sqlite3_vtab *base) {
  kafka_vtab *vtab = (kafka_vtab *)base;
  if (codec_for(vtab->opts.value_format) || codec_for(vtab->opts.key_format))
    schemas_destroy(vtab, vtab->db_name, vtab->table_name);
  return kafka_disconnect(base);
}

/* ALTER TABLE ... RENAME: the registry shadow table follows its table. */
static int kafka_rename(sqlite3_vtab *base, const char *new_name) {
  kafka_vtab *vtab = (kafka_vtab *)base;
  if (!codec_for(vtab->opts.value_format) && !codec_for(vtab->opts.key_format)) return SQLITE_OK;
  char *name = sqlite3_mprintf("%s", new_name);
  int rc = name ? schemas_rename(vtab, new_name) : SQLITE_NOMEM;
  if (rc) {
    sqlite3_free(name);
    return rc;
  }
  sqlite3_free(vtab->table_name);
  vtab->table_name = name;
  return SQLITE_OK;
}

static int kafka_shadow_name(const char *suffix) { return schemas_shadow_name(suffix); }

static sqlite3_module kafka_module = {
    3,                /* iVersion: the savepoint methods, xShadowName */
    kafka_create,     /* xCreate */
    kafka_connect,    /* xConnect */
    plan_best_index,  /* xBestIndex */
    kafka_disconnect, /* xDisconnect */
    kafka_destroy,    /* xDestroy */
    scan_open,        /* xOpen */
    scan_close,       /* xClose */
    scan_filter,      /* xFilter */
    scan_next,        /* xNext */
    scan_eof,         /* xEof */
    scan_column,      /* xColumn */
    scan_rowid,       /* xRowid */
    produce_update,   /* xUpdate */
    txn_begin,        /* xBegin */
    txn_sync,         /* xSync */
    txn_commit,       /* xCommit */
    txn_rollback,     /* xRollback */
    NULL,             /* xFindFunction */
    kafka_rename,     /* xRename */
    txn_savepoint,    /* xSavepoint */
    txn_release,      /* xRelease */
    txn_rollback_to,  /* xRollbackTo */
    kafka_shadow_name, /* xShadowName */
};

int module_register(sqlite3 *db) {
  txn_coord *coord = txn_coord_new(db);
  if (!coord) return SQLITE_NOMEM;
  int rc = sqlite3_create_module_v2(db, "kafka", &kafka_module, coord, txn_coord_free);
  return rc ? rc : txn_register_functions(db, coord);
}
