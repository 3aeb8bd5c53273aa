/*
** kafka_messages(brokers, topic [, options]): a topic read without CREATE,
** as kcat reads one in a line:
**
**   SELECT * FROM kafka_messages('localhost:9092', 'orders') ORDER BY offset DESC LIMIT 10;
**
** The columns, formats and pushdown of a kafka table, from the same code:
** an eponymous-only module whose xBestIndex is the kafka module's
** (plan.c) and whose cursor wraps a kafka module cursor (scan.c). Why a
** wrapper and not the kafka module's methods themselves: an eponymous
** table's xConnect sees no arguments, and one such table serves every
** call in the connection (a join may read two topics at once), so the
** options cannot live in it. Each cursor builds, at xFilter, a table of
** its own from the arguments (module_table_new, never declared to SQLite)
** and runs the kafka cursor over it; rescans with the same arguments (a
** join's inner loop) keep it, and so its consumer, and the last one is
** kept for the next statement. `options` is the table options as text
** ('value=json, partitioner=murmur2'), parsed by the table's own parser;
** those that make a table write, join a group or declare columns are
** refused; schema files and texts (formats without a registry) are read
** whenever the table is made (schemas_reader). Read-only (no xUpdate);
** typed columns are not declared (the schema is fixed before the options
** are known): value ->> '$.path'.
*/
#include "base.h"
#include "catalog.h"
#include "codec.h"
#include "table.h"

#include <string.h>

SQLITE_EXTENSION_INIT3

#define FUNC "kafka_messages"
#define SIGNATURE FUNC "(brokers, topic [, options])"
/* SQLite gives a table-valued function's arguments to the first hidden
** columns: they come right after the visible ones, before the table's
** hidden columns (error, follow, schema_id, time), which move up by
** N_ARGS; typed columns are never declared here. */
enum { ARG_BROKERS, ARG_TOPIC, ARG_OPTIONS, N_ARGS };
#define ARG_COLUMN(a) (KAFKA_COL_ERROR + (a))

/* The kafka module's number of a column of this table; an argument's is
** past the table's columns, where plan_best_index takes it as one. */
static int table_column(int column) {
  if (column < ARG_COLUMN(0)) return column; /* visible, or the rowid (-1) */
  if (column < ARG_COLUMN(N_ARGS)) return KAFKA_COL_TYPED + column - ARG_COLUMN(0);
  return column - N_ARGS;
}

typedef struct messages_vtab {
  kafka_vtab planning; /* must come first: plan_best_index reads its options */
  kafka_vtab *idle;    /* the table of the last cursor, for the next one */
  char *idle_key;      /* its arguments */
} messages_vtab;

typedef struct messages_cursor {
  sqlite3_vtab_cursor base;    /* must come first */
  kafka_vtab *table;           /* built from the arguments (NULL before xFilter) */
  char *key;                   /* its arguments: brokers, topic, options */
  sqlite3_vtab_cursor *scan;   /* the kafka cursor over table */
  sqlite3_value *args[N_ARGS - 1]; /* brokers and topic, as given */
} messages_cursor;

static int messages_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                            sqlite3_vtab **out, char **err) {
  (void)aux, (void)argc, (void)argv;
  messages_vtab *vtab = sqlite3_malloc64(sizeof *vtab);
  if (!vtab) return SQLITE_NOMEM;
  memset(vtab, 0, sizeof *vtab);
  vtab->planning.db = db;
  options_init(&vtab->planning.opts);
  char *table = options_schema(&vtab->planning.opts);
  /* The table's columns with the arguments after the visible ones. */
  const char *hidden = table ? strstr(table, "error TEXT HIDDEN") : NULL;
  char *schema = hidden ? sqlite3_mprintf("%.*sbrokers HIDDEN, topic HIDDEN, options HIDDEN, %s",
                                          (int)(hidden - table), table, hidden) : NULL;
  int rc = schema ? sqlite3_declare_vtab(db, schema) : SQLITE_NOMEM;
  if (table && !hidden) { /* options_schema() changed its hidden columns */
    *err = sqlite3_mprintf(FUNC ": internal error: no hidden columns in '%s'", table);
    rc = SQLITE_ERROR;
  }
  /* A trigger or view in an untrusted database must not reach a broker. */
  if (!rc) rc = sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  sqlite3_free(table);
  sqlite3_free(schema);
  if (rc) {
    sqlite3_free(vtab);
    return rc;
  }
  *out = &vtab->planning.base;
  return SQLITE_OK;
}

static int messages_disconnect(sqlite3_vtab *base) {
  messages_vtab *vtab = (messages_vtab *)base;
  if (vtab->idle) module_table_free(vtab->idle);
  sqlite3_free(vtab->idle_key);
  options_free(&vtab->planning.opts);
  sqlite3_free(vtab);
  return SQLITE_OK;
}

/* Parses options text (`name=value, ...`) with the table's parser: as a
** whole table's (brokers and topic required) or only as far as given. */
static int parse_options(kafka_options *opts, const char *text, int whole, char **err) {
  size_t len = strlen(text);
  char *copy = sqlite3_mprintf("%s", text);
  char **items = sqlite3_malloc64(sizeof *items * (len + 1));
  int rc = copy && items ? SQLITE_OK : SQLITE_NOMEM;
  int n = rc ? 0 : admin_split_items(copy, items, (int)(len + 1));
  options_init(opts);
  if (!rc) rc = whole ? options_parse(opts, n, (const char *const *)items, err)
                      : options_parse_args(opts, n, (const char *const *)items, err);
  sqlite3_free(items);
  sqlite3_free(copy);
  return rc;
}

/* The partitioner the options text names, when the planner knows the
** text (a constant): `key =` narrows the partitions only with one. */
static kafka_partitioner planned_partitioner(sqlite3_index_info *info, int i) {
  sqlite3_value *v = NULL;
  if (i < 0 || sqlite3_vtab_rhs_value(info, i, &v) != SQLITE_OK || !v || sqlite3_value_type(v) != SQLITE_TEXT)
    return KAFKA_PARTITIONER_NONE;
  kafka_options opts;
  char *err = NULL;
  int rc = parse_options(&opts, (const char *)sqlite3_value_text(v), 0, &err);
  kafka_partitioner p = rc ? KAFKA_PARTITIONER_NONE : opts.partitioner;
  sqlite3_free(err);
  options_free(&opts);
  return p;
}

/* plan_best_index over the kafka module's column numbers: SQLite's
** constraints and ORDER BY terms are renumbered for the call and restored
** after it (SQLite reads neither back: it maps constraints to its terms
** by position), so that one planner serves both. */
static int plan_with_table_columns(sqlite3_vtab *base, sqlite3_index_info *info) {
  int saved[info->nConstraint + info->nOrderBy + 1];
  for (int i = 0; i < info->nConstraint; i++) {
    saved[i] = info->aConstraint[i].iColumn;
    info->aConstraint[i].iColumn = table_column(saved[i]);
  }
  for (int i = 0; i < info->nOrderBy; i++) {
    saved[info->nConstraint + i] = info->aOrderBy[i].iColumn;
    info->aOrderBy[i].iColumn = table_column(saved[info->nConstraint + i]);
  }
  int rc = plan_best_index(base, info);
  for (int i = 0; i < info->nConstraint; i++) info->aConstraint[i].iColumn = saved[i];
  for (int i = 0; i < info->nOrderBy; i++) info->aOrderBy[i].iColumn = saved[info->nConstraint + i];
  return rc;
}

/* The kafka module's plan, with the arguments after its own (see
** catalog_best_index for why a missing argument is SQLITE_CONSTRAINT
** unless the call itself lacks it). */
static int messages_best_index(sqlite3_vtab *base, sqlite3_index_info *info) {
  messages_vtab *vtab = (messages_vtab *)base;
  int usable[N_ARGS] = {-1, -1, -1}, seen[N_ARGS] = {0, 0, 0}, any_arg = 0, terms = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    int a = c->iColumn - ARG_COLUMN(0);
    terms += c->op != SQLITE_INDEX_CONSTRAINT_LIMIT && c->op != SQLITE_INDEX_CONSTRAINT_OFFSET;
    if (a < 0 || a >= N_ARGS || c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    seen[a] = any_arg = 1;
    if (c->usable && usable[a] < 0) usable[a] = i;
  }
  for (int a = ARG_BROKERS; a <= ARG_TOPIC; a++) {
    if (seen[a]) continue;
    if (!any_arg && terms) return SQLITE_CONSTRAINT;
    return vtab_error(base, FUNC ": argument %s is required: " SIGNATURE, a ? "topic" : "brokers");
  }
  /* An argument given from a table not read yet: not this plan, which
  ** would run without it (see catalog_best_index). */
  for (int a = 0; a < N_ARGS; a++)
    if (seen[a] && usable[a] < 0) return SQLITE_CONSTRAINT;
  vtab->planning.opts.partitioner = planned_partitioner(info, usable[ARG_OPTIONS]);
  int rc = plan_with_table_columns(base, info);
  if (rc) return rc;
  int argc = plan_argc(info->idxStr);
  for (int a = 0; a < N_ARGS; a++) {
    if (usable[a] < 0) continue;
    info->aConstraintUsage[usable[a]].argvIndex = ++argc;
    info->aConstraintUsage[usable[a]].omit = 1;
  }
  return SQLITE_OK;
}

static int messages_open(sqlite3_vtab *base, sqlite3_vtab_cursor **out) {
  (void)base;
  messages_cursor *c = sqlite3_malloc64(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *out = &c->base;
  return SQLITE_OK;
}

/* Ends the cursor's scan and keeps its table for the vtab's next cursor
** (or frees it when one is kept already). */
static void cursor_release(messages_cursor *c) {
  messages_vtab *vtab = (messages_vtab *)c->base.pVtab;
  if (c->scan) scan_close(c->scan);
  c->scan = NULL;
  if (c->table && !vtab->idle) {
    vtab->idle = c->table;
    vtab->idle_key = c->key;
  } else {
    if (c->table) module_table_free(c->table);
    sqlite3_free(c->key);
  }
  c->table = NULL;
  c->key = NULL;
}

static int messages_close(sqlite3_vtab_cursor *cursor) {
  messages_cursor *c = (messages_cursor *)cursor;
  cursor_release(c);
  for (int a = 0; a < N_ARGS - 1; a++) sqlite3_value_free(c->args[a]);
  sqlite3_free(c);
  return SQLITE_OK;
}

/* Refuses the options that make a table more than a reader of messages. */
static int check_reader(const kafka_options *opts, char **err) {
  const char *option = opts->group ? "group" : opts->transactional_id ? "transactional_id"
                     : opts->partitions ? "partitions" : opts->replication > 0 ? "replication"
                     : opts->n_columns ? "columns" : opts->value_schema_id ? "value_schema_id"
                     /* with a registry, value_schema is registered; without, it is read */
                     : opts->value_schema && opts->registry.url ? "value_schema" : NULL;
  if (!option) return SQLITE_OK;
  *err = sqlite3_mprintf(FUNC ": option %s is not accepted here: %s", option,
                         opts->n_columns ? "typed columns need CREATE VIRTUAL TABLE ... USING kafka "
                                           "(here: value ->> '$.path')"
                                         : "kafka_messages only reads; CREATE VIRTUAL TABLE ... USING kafka does that");
  return SQLITE_ERROR;
}

/* "kafka: ..." errors of the table's options are the function's. */
static void named_error(char **err) {
  if (!*err || strncmp(*err, "kafka: ", 7)) return;
  char *named = sqlite3_mprintf(FUNC ": %s", *err + 7);
  sqlite3_free(*err);
  *err = named;
}

/* The table of these arguments: the cursor's own when they did not
** change, the vtab's kept one when it has them, else a new one. */
static int cursor_table(messages_cursor *c, const char *brokers, const char *topic, const char *options,
                        char **err) {
  messages_vtab *vtab = (messages_vtab *)c->base.pVtab;
  char *key = sqlite3_mprintf("%s\n%s\n%s", brokers, topic, options ? options : "");
  if (!key) return SQLITE_NOMEM;
  if (c->key && !strcmp(key, c->key)) {
    sqlite3_free(key);
    return SQLITE_OK;
  }
  cursor_release(c);
  if (vtab->idle && !strcmp(key, vtab->idle_key)) {
    c->table = vtab->idle;
    sqlite3_free(vtab->idle_key);
    vtab->idle = NULL;
    vtab->idle_key = NULL;
  } else {
    kafka_options opts;
    options_init(&opts);
    char *table_args = sqlite3_mprintf("brokers=%Q, topic=%Q%s%s", brokers, topic, options ? ", " : "",
                                       options ? options : "");
    int rc = table_args ? parse_options(&opts, table_args, 1, err) : SQLITE_NOMEM;
    sqlite3_free(table_args);
    if (!rc) rc = check_reader(&opts, err);
    if (!rc && !(c->table = module_table_new(vtab->planning.db, &opts))) rc = SQLITE_NOMEM;
    int codecs = !rc && (codec_for(c->table->opts.value_format) || codec_for(c->table->opts.key_format));
    if (codecs) rc = schemas_reader(c->table, err);
    if (rc) {
      named_error(err);
      options_free(&opts);
      if (c->table) module_table_free(c->table);
      c->table = NULL;
      sqlite3_free(key);
      return rc;
    }
  }
  c->key = key;
  int rc = scan_open(&c->table->base, &c->scan);
  if (!rc) c->scan->pVtab = &c->table->base;
  return rc;
}

/* Moves the table's error message to the function's. */
static int pass_error(messages_cursor *c, int rc) {
  sqlite3_vtab *table = c->table ? &c->table->base : NULL;
  if (table && table->zErrMsg) {
    sqlite3_free(c->base.pVtab->zErrMsg);
    c->base.pVtab->zErrMsg = table->zErrMsg;
    table->zErrMsg = NULL;
  }
  return rc;
}

/* A required non-empty text argument, or NULL after setting *err. */
static const char *text_arg(sqlite3_value *v, const char *name, int required, char **err) {
  const char *s = v && sqlite3_value_type(v) == SQLITE_TEXT ? (const char *)sqlite3_value_text(v) : NULL;
  if (required ? !s || !*s : v && !s && sqlite3_value_type(v) != SQLITE_NULL)
    *err = sqlite3_mprintf(FUNC ": %s must be a %s", name, required ? "non-empty text" : "text or NULL");
  return s;
}

static int messages_filter(sqlite3_vtab_cursor *cursor, int idx_num, const char *idx_str, int argc,
                           sqlite3_value **argv) {
  messages_cursor *c = (messages_cursor *)cursor;
  /* argv: the plan's entries, then brokers, topic and (when given) options. */
  int n = plan_argc(idx_str);
  char *err = NULL;
  const char *brokers = text_arg(n < argc ? argv[n] : NULL, "brokers", 1, &err);
  const char *topic = err ? NULL : text_arg(n + 1 < argc ? argv[n + 1] : NULL, "topic", 1, &err);
  const char *options = err ? NULL : text_arg(n + 2 < argc ? argv[n + 2] : NULL, "options", 0, &err);
  int rc = err ? SQLITE_ERROR : cursor_table(c, brokers, topic, options, &err);
  for (int a = 0; !rc && a < N_ARGS - 1; a++) {
    sqlite3_value_free(c->args[a]);
    if (!(c->args[a] = sqlite3_value_dup(argv[n + a]))) rc = SQLITE_NOMEM;
  }
  if (err) {
    vtab_error(cursor->pVtab, "%s", err);
    sqlite3_free(err);
    return rc ? rc : SQLITE_ERROR;
  }
  if (rc) return rc;
  return pass_error(c, scan_filter(c->scan, idx_num, idx_str, n, argv));
}

static int messages_next(sqlite3_vtab_cursor *cursor) {
  messages_cursor *c = (messages_cursor *)cursor;
  return pass_error(c, scan_next(c->scan));
}

static int messages_eof(sqlite3_vtab_cursor *cursor) {
  messages_cursor *c = (messages_cursor *)cursor;
  return !c->scan || scan_eof(c->scan);
}

/* The arguments read back as given, options never (it may hold secrets). */
static int messages_column(sqlite3_vtab_cursor *cursor, sqlite3_context *ctx, int column) {
  messages_cursor *c = (messages_cursor *)cursor;
  int a = column - ARG_COLUMN(0);
  if (a < 0 || a >= N_ARGS) return scan_column(c->scan, ctx, table_column(column));
  if (a < N_ARGS - 1 && c->args[a]) sqlite3_result_value(ctx, c->args[a]);
  return SQLITE_OK;
}

static int messages_rowid(sqlite3_vtab_cursor *cursor, sqlite3_int64 *rowid) {
  return scan_rowid(((messages_cursor *)cursor)->scan, rowid);
}

/* Eponymous-only (no xCreate) and read-only (no xUpdate). */
static sqlite3_module messages_module = {
    0,                   /* iVersion */
    NULL,                /* xCreate */
    messages_connect,    /* xConnect */
    messages_best_index, /* xBestIndex */
    messages_disconnect, /* xDisconnect */
    messages_disconnect, /* xDestroy */
    messages_open,       /* xOpen */
    messages_close,      /* xClose */
    messages_filter,     /* xFilter */
    messages_next,       /* xNext */
    messages_eof,        /* xEof */
    messages_column,     /* xColumn */
    messages_rowid,      /* xRowid */
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, /* xUpdate..xShadowName */
};

int messages_register(sqlite3 *db) { return sqlite3_create_module(db, FUNC, &messages_module, NULL); }
