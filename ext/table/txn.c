/*
** The transaction coordinator: the one place that decides when a group
** table's position commits. The module's transaction methods (xBegin,
** xSync, xCommit, xRollback, xSavepoint, xRelease, xRollbackTo), the
** cursors' scans and closes, and the connection's commit and rollback hooks
** report here; group.c and produce.c are primitives it calls.
**
** SQLite's commit order (vdbeaux.c, sqlite3VdbeHalt and vdbeCommit) decides
** what can be known, and when:
**
**   1. the statement's cursors close (txn_group_read: the position read);
**   2. statement savepoints are released or rolled back (xRelease,
**      xRollbackTo of the kafka tables written in the transaction);
**   3. xSync of every written kafka table: its deliveries are awaited and a
**      transactional table's Kafka transaction commits, with the offsets of
**      the groups on its cluster in it (send_offsets_to_transaction). What
**      follows can still fail (another table's xSync, the file's commit:
**      'database is locked' leaves the transaction open for a retry or a
**      ROLLBACK): those positions wait in coord->sent until xCommit, and a
**      rollback commits their groups' starts (sent_undo);
**   4. the commit hook, when a database file has a write transaction: the
**      positions left are approved; then the file commits;
**   5. xCommit of the written kafka tables, after the file committed: the
**      positions commit. Without a written kafka table nothing of ours runs
**      after the file's commit: approved positions commit at the next call
**      into the extension on the connection (a scan, an INSERT, a catalog
**      function, kafka_commit, closing it). A file commit that fails calls
**      the rollback hook within the same statement: they are dropped.
**
** A rollback (the rollback hook, xRollback) drops the transaction's
** positions, ROLLBACK TO a savepoint those read after it (each position
** knows the savepoints open when it was read): the group stays where it was
** and the rows come again.
**
** A statement that only reads (a SELECT) gets no word from SQLite about
** whether it succeeded, or whether its rows reached the caller: a sorter,
** an aggregate or a materialized CTE reads the whole scan before the first
** row leaves, and a json() error or a finalize after the first row then
** comes after the scan ended. Such a statement's position counts only when
** its rows cannot be held back: when its program hands the scan's rows
** straight to the caller and ends with the scan (statement_read); it then
** commits at once in autocommit mode, or with its transaction. Any other
** SELECT's position is held, and kafka_commit('table') commits it, as a
** Kafka consumer with auto commit off commits what it chose to keep. A
** statement that writes with OR FAIL is refused: a conflict keeps and
** commits the rows before it.
**
** SQLite keeps one commit and one rollback hook per connection and returns
** only the previous hook's argument, never its function: they cannot be
** chained. The coordinator installs its hooks at the first group read that
** needs them and leaves them installed; when it finds that another hook
** was there (or replaced its own), the read is refused with an error that
** says so.
*/
#include "base.h"
#include "client.h"
#include "table.h"

#include <pthread.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

#define COMMITTING_MAX 8 /* the busy statements recorded at a commit hook */

/* A group table's position: waiting for its transaction, or held for
** kafka_commit(). */
typedef struct txn_position {
  kafka_vtab *group;
  rd_kafka_topic_partition_list_t *list;
  rd_kafka_topic_partition_list_t *starts; /* where its scans started (NULL: unknown) */
  int level;    /* savepoints open when it was read */
  int approved; /* its transaction passed the commit hook */
  struct txn_position *next;
} txn_position;

/* A kafka table: written in the open transaction, or a group table. */
typedef struct txn_table {
  kafka_vtab *vtab;
  int committed; /* its Kafka transaction committed at this COMMIT's xSync */
  struct txn_table *next;
} txn_table;

/* The statement runs busy when the commit hook ran: while one of them is
** still busy, the file's commit may yet fail. */
typedef struct committing_run {
  sqlite3_stmt *stmt;
  int run;
} committing_run;

struct txn_coord {
  sqlite3 *db;
  txn_position *positions; /* waiting for the transaction that read them */
  txn_position *held;      /* read by SELECTs that may not have handed them over */
  txn_position *sent;      /* in a Kafka transaction that committed before the file did */
  txn_table *sinks;        /* kafka tables written in the open transaction */
  producer_registry producers; /* tables with transactional_id that have a producer (produce.c) */
  txn_table *groups;       /* the connection's group tables */
  int depth;               /* savepoints open, as xSavepoint / xRelease / xRollbackTo say */
  int hooked;              /* the coordinator's hooks were installed */
  committing_run committing[COMMITTING_MAX];
  int n_committing;
  struct txn_coord *next_coord; /* the process's coordinators (txn_settle_connection) */
};

/* ------------------------------------------------------- the coordinators */

static pthread_mutex_t coords_lock = PTHREAD_MUTEX_INITIALIZER;
static txn_coord *coords;

txn_coord *txn_coord_new(sqlite3 *db) {
  txn_coord *coord = sqlite3_malloc64(sizeof *coord);
  if (!coord) return NULL;
  memset(coord, 0, sizeof *coord);
  coord->db = db;
  pthread_mutex_lock(&coords_lock);
  coord->next_coord = coords;
  coords = coord;
  pthread_mutex_unlock(&coords_lock);
  return coord;
}

static void coord_unlink(txn_coord *coord) {
  pthread_mutex_lock(&coords_lock);
  for (txn_coord **at = &coords; *at; at = &(*at)->next_coord)
    if (*at == coord) {
      *at = coord->next_coord;
      break;
    }
  pthread_mutex_unlock(&coords_lock);
}

/* ------------------------------------------------------------- statements */

static int run_of(sqlite3_stmt *stmt) {
  return sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_RUN, 0);
}

/* A read waits for a transaction: an explicit one, or the autocommit one of
** a statement that writes. */
static int in_transaction(sqlite3 *db) {
  return !sqlite3_get_autocommit(db) || statement_writers(db) > 0;
}

/* What may follow a direct scan's VNext before its Halt: a count(*) and
** its one row, which cannot fail (nothing else of the scan is handed over:
** counting consumes, as a Kafka consumer that counts and commits). */
static int ends_the_scan(const char *op, const char *p4) {
  if (!strcmp(op, "AggFinal")) return p4 && !strncmp(p4, "count(", 6);
  return !strcmp(op, "Copy") || !strcmp(op, "SCopy") || !strcmp(op, "ResultRow");
}

/* How stmt reads vtab: not at all (0), as a statement that writes (its
** rows go to tables: the transaction decides), or as a SELECT whose program
** hands the rows of every cursor it opens on vtab straight to the caller
** and ends with that scan (direct: after the cursor's VNext come only the
** Halt and a count(*)'s row), or any other SELECT (held). After a direct
** scan's end the caller has asked past its last row and nothing can fail.
** A sorter, an aggregate, a materialized CTE, a compound SELECT, an outer
** loop or a second cursor over the table all put instructions after the
** VNext. Its EXPLAIN names the table's sqlite3_vtab in VOpen's P4
** ("vtab:%p"). */
static int statement_read(sqlite3 *db, sqlite3_stmt *stmt, const kafka_vtab *vtab) {
  const char *sql = sqlite3_sql(stmt);
  char *explain = sql ? sqlite3_mprintf("EXPLAIN %s", sql) : NULL;
  char *ours = sqlite3_mprintf("vtab:%p", (const void *)&vtab->base);
  sqlite3_stmt *ex = NULL;
  int direct = explain && ours && !sqlite3_prepare_v2(db, explain, -1, &ex, NULL);
  int cursors[16], n = 0, after_next = 0, or_fail = 0;
  while (ex && sqlite3_step(ex) == SQLITE_ROW) {
    const char *op = (const char *)sqlite3_column_text(ex, 1);
    const char *p4 = (const char *)sqlite3_column_text(ex, 5);
    int p1 = sqlite3_column_int(ex, 2);
    /* A constraint's Halt with P2 = OE_Fail (3): OR FAIL keeps the rows
    ** before a conflict and commits them, the statement failing. */
    or_fail |= (!strcmp(op, "Halt") || !strcmp(op, "HaltIfNull")) && p1 && sqlite3_column_int(ex, 3) == 3;
    if (after_next && !strcmp(op, "Halt")) after_next = 0;
    else if (after_next) direct &= ends_the_scan(op, p4);
    if (!strcmp(op, "VOpen") && p4 && !strcmp(p4, ours)) {
      if (n == 16) direct = 0;
      else cursors[n++] = p1;
    }
    for (int i = 0; !strcmp(op, "VNext") && i < n; i++) after_next |= cursors[i] == p1;
  }
  sqlite3_finalize(ex);
  sqlite3_free(explain);
  sqlite3_free(ours);
  if (!n && explain) return 0;
  if (!sqlite3_stmt_readonly(stmt)) return or_fail ? TXN_READ_PARTIAL : TXN_READ_WRITES;
  return direct && !after_next ? TXN_READ_DIRECT : TXN_READ_HELD;
}

/* Which of two kinds of read wins when both statements read the table:
** held over writing over direct (the side that commits least). */
static int safer_read(int a, int b) {
  static const int rank[] = {0, 2, 1, 3, 4}; /* by TXN_READ_... */
  return rank[a] >= rank[b] ? a : b;
}

/* How the statement reading vtab now reads it (one of the busy statements
** that open it; when several do, the safer; none found: held). */
static int read_kind(sqlite3 *db, const kafka_vtab *vtab) {
  int kind = 0;
  for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s))
    if (sqlite3_stmt_busy(s)) kind = safer_read(kind, statement_read(db, s, vtab));
  return kind ? kind : TXN_READ_HELD;
}

/* -------------------------------------------------------------- positions */

static void position_free(txn_position *pos) {
  rd_kafka_topic_partition_list_destroy(pos->list);
  if (pos->starts) rd_kafka_topic_partition_list_destroy(pos->starts);
  sqlite3_free(pos);
}

/* Drops the positions of *list for which drop(pos, arg) says so. */
static void positions_drop(txn_position **list, int (*drop)(const txn_position *pos, const void *arg),
                           const void *arg) {
  for (txn_position **at = list; *at;) {
    txn_position *pos = *at;
    if (!drop(pos, arg)) {
      at = &pos->next;
      continue;
    }
    *at = pos->next;
    position_free(pos);
  }
}

static int any_position(const txn_position *pos, const void *arg) {
  (void)pos;
  (void)arg;
  return 1;
}

static int position_of_table(const txn_position *pos, const void *vtab) {
  return pos->group == vtab;
}

static int position_unapproved(const txn_position *pos, const void *arg) {
  (void)arg;
  return !pos->approved;
}

static int position_above(const txn_position *pos, const void *level) {
  return pos->level > *(const int *)level;
}

/* Merges b into a (the furthest of each: the starts of one transaction's
** reads differ only where a kafka_commit moved the group between them),
** then frees b. */
static void position_merge(txn_position *a, txn_position *b) {
  group_position_merge(&a->list, b->list);
  group_position_merge(&a->starts, b->starts);
  position_free(b);
}

/* Adds list and starts (owned from now on) to *positions: merged into the
** one of the same group, level and approval. */
static int position_add(txn_position **positions, kafka_vtab *group, rd_kafka_topic_partition_list_t *list,
                        rd_kafka_topic_partition_list_t *starts, int level) {
  txn_position *pos = sqlite3_malloc64(sizeof *pos);
  if (!pos) {
    rd_kafka_topic_partition_list_destroy(list);
    if (starts) rd_kafka_topic_partition_list_destroy(starts);
    return SQLITE_NOMEM;
  }
  memset(pos, 0, sizeof *pos);
  pos->group = group;
  pos->list = list;
  pos->starts = starts;
  pos->level = level;
  for (txn_position *into = *positions; into; into = into->next)
    if (into->group == group && into->level == level && !into->approved) {
      position_merge(into, pos);
      return SQLITE_OK;
    }
  pos->next = *positions;
  *positions = pos;
  return SQLITE_OK;
}

/* Raises the group's waiting positions to at least list, which has just
** committed. They commit after it (with their transaction, or deferred
** while another statement was busy at their commit hook), and one read
** before it (a LIMIT 1) would move the group back over rows consumed since:
** a Kafka transaction's offsets, written later, win at the broker too. */
static void positions_floor(txn_coord *coord, const kafka_vtab *group, const rd_kafka_topic_partition_list_t *list) {
  for (txn_position *pos = coord->positions; pos; pos = pos->next)
    if (pos->group == group) group_position_floor(pos->list, list);
}

/* Commits list as the group's position, outside any Kafka transaction.
** What SELECTs of the group held lies behind it (they read before it, from
** the same committed offsets): committing that later would move the group
** back. The waiting positions are raised to it (positions_floor). */
static int group_moves(txn_coord *coord, kafka_vtab *group, const rd_kafka_topic_partition_list_t *list,
                       char **err) {
  positions_drop(&coord->held, position_of_table, group);
  int rc = group_commit(group, list, err);
  if (!rc) positions_floor(coord, group, list);
  return rc;
}

/* Commits one position; a failure is logged (its rows come again). */
static int position_commit(txn_coord *coord, const txn_position *pos) {
  char *err = NULL;
  int rc = group_moves(coord, pos->group, pos->list, &err);
  if (rc) sqlite3_log(SQLITE_WARNING, "%s (nothing lost: the next scan reads those rows again)", err);
  sqlite3_free(err);
  return rc;
}

/* Takes out of the waiting positions the first for which which(pos, arg)
** says so, with every other of its group which() also names merged into it
** (the furthest; NULL: none). A group's positions of several savepoint
** levels commit as one: committed one after the other, the last (the
** oldest: the list is newest first) would move the group back over what
** the newer ones read, in a Kafka transaction as in a plain commit. */
static txn_position *positions_take(txn_coord *coord, int (*which)(const txn_position *pos, const void *arg),
                                    const void *arg) {
  txn_position *taken = NULL;
  for (txn_position **at = &coord->positions; *at;) {
    txn_position *pos = *at;
    if (!which(pos, arg) || (taken && pos->group != taken->group)) {
      at = &pos->next;
      continue;
    }
    *at = pos->next;
    if (!taken) {
      taken = pos;
      continue;
    }
    position_merge(taken, pos);
  }
  return taken;
}

/* Commits and drops the positions for which which(pos, arg) says so. */
static void positions_commit(txn_coord *coord, int (*which)(const txn_position *pos, const void *arg),
                             const void *arg) {
  txn_position *pos;
  while ((pos = positions_take(coord, which, arg))) {
    position_commit(coord, pos);
    position_free(pos);
  }
}

/* The positions sent in a Kafka transaction: when it committed, what
** SELECTs of their groups held goes (as in position_commit), and they wait
** in coord->sent for the database file's commit, which comes after and can
** fail (sent_undo). A transaction that failed moved no group: they are
** freed, and the held positions stay for kafka_commit. */
static void sent_settle(txn_coord *coord, txn_position *sent, int committed) {
  while (sent) {
    txn_position *pos = sent;
    sent = pos->next;
    if (!committed) {
      position_free(pos);
      continue;
    }
    positions_drop(&coord->held, position_of_table, pos->group);
    pos->next = coord->sent;
    coord->sent = pos;
  }
}

/* The SQLite transaction whose Kafka transaction moved the groups did not
** commit (its file's commit failed, 'database is locked' or an I/O error,
** or another table's xSync did): each group goes back to where its scans
** started, so that the rows the file lost come again (the messages stay:
** at least once). The newest go first, so that the oldest, committed last,
** wins. */
static void sent_undo(txn_coord *coord) {
  while (coord->sent) {
    txn_position *pos = coord->sent;
    coord->sent = pos->next;
    char *err = NULL;
    if (pos->starts && group_commit(pos->group, pos->starts, &err))
      sqlite3_log(SQLITE_WARNING, "%s (the transaction did not commit after its Kafka transaction moved the "
                  "group: the rows it read are not read again)", err);
    sqlite3_free(err);
    position_free(pos);
  }
}

/* ------------------------------------------------------------------ hooks */

/* Non-zero while a statement run that was busy at the last commit hook
** still is: that commit may yet fail. */
static int commit_in_progress(const txn_coord *coord) {
  for (int i = 0; i < coord->n_committing; i++) {
    sqlite3_stmt *s = coord->committing[i].stmt;
    for (sqlite3_stmt *t = sqlite3_next_stmt(coord->db, NULL); t; t = sqlite3_next_stmt(coord->db, t))
      if (t == s && sqlite3_stmt_busy(t) && run_of(t) == coord->committing[i].run) return 1;
  }
  return 0;
}

static int position_approved(const txn_position *pos, const void *arg) {
  (void)arg;
  return pos->approved;
}

/* Commits the positions whose transaction's file commit has succeeded. */
static void settle(txn_coord *coord) {
  if (commit_in_progress(coord)) return;
  coord->n_committing = 0;
  positions_commit(coord, position_approved, NULL);
}

static int on_commit(void *arg) {
  txn_coord *coord = arg;
  settle(coord);
  coord->n_committing = 0;
  for (sqlite3_stmt *s = sqlite3_next_stmt(coord->db, NULL); s && coord->n_committing < COMMITTING_MAX;
       s = sqlite3_next_stmt(coord->db, s))
    if (sqlite3_stmt_busy(s)) coord->committing[coord->n_committing++] = (committing_run){s, run_of(s)};
  for (txn_position *pos = coord->positions; pos; pos = pos->next) pos->approved = 1;
  return 0;
}

/* A rollback drops the transaction's positions; within the statement whose
** commit hook approved them, the file's commit failed: those too. */
static void on_rollback(void *arg) {
  txn_coord *coord = arg;
  sent_undo(coord);
  if (commit_in_progress(coord)) positions_drop(&coord->positions, any_position, NULL);
  settle(coord);
  positions_drop(&coord->positions, position_unapproved, NULL);
  coord->depth = 0;
}

/* Installs the coordinator's hooks, or says why it cannot keep them. */
static int hooks_install(txn_coord *coord, const kafka_vtab *group, char **err) {
  void *commit_arg = sqlite3_commit_hook(coord->db, on_commit, coord);
  void *rollback_arg = sqlite3_rollback_hook(coord->db, on_rollback, coord);
  void *expected = coord->hooked ? coord : NULL;
  coord->hooked = 1;
  if (commit_arg == expected && rollback_arg == expected) return SQLITE_OK;
  /* Waiting positions may have missed their commit or rollback: dropped,
  ** their rows come again. */
  positions_drop(&coord->positions, position_unapproved, NULL);
  *err = sqlite3_mprintf(
      "kafka: group '%s' (table '%s'): the connection %s a commit or rollback hook of the application "
      "(sqlite3_commit_hook, sqlite3_rollback_hook); the extension needs both to move the group only "
      "once a statement that writes has committed, and SQLite keeps one of each and returns only the "
      "previous hook's argument, so they cannot be chained: the extension's hooks are installed now "
      "and the application's cannot be put back. Set the application's hooks on another connection, "
      "or read the group with a SELECT and commit it with kafka_commit('%s')",
      group->opts.group, group->table_name, coord->hooked && expected ? "had been given" : "had",
      group->table_name);
  return SQLITE_ERROR;
}

/* ----------------------------------------------------------- the clusters */

/* A transactional table written in the open transaction on the group's
** cluster (NULL: none), its producer started and fenced. */
static kafka_vtab *offsets_sink(txn_coord *coord, const kafka_vtab *group, char **err) {
  for (txn_table *s = coord->sinks; s; s = s->next) {
    if (!s->vtab->opts.transactional_id) continue;
    if (produce_start(s->vtab, err)) return NULL;
    if (cluster_same(s->vtab, group)) return s->vtab;
  }
  return NULL;
}

/* ------------------------------------------------------------ group reads */

static char *refused_in_transaction(const kafka_vtab *group) {
  return sqlite3_mprintf(
      /* Python's sqlite3 opens such a transaction before an INSERT unless
      ** isolation_level=None: the error says so, and stays short. */
      "kafka: group '%s' (topic '%s') cannot be read inside an explicit transaction (BEGIN ... "
      "COMMIT): a rollback could not move it back. Use autocommit (Python: sqlite3.connect(..., "
      "isolation_level=None)), a transactional_id output table on the same cluster, or a "
      "position kept in SQLite (sql/ingest-append.sql)",
      group->opts.group, group->opts.topic);
}

static char *refused_beside_a_writer(const kafka_vtab *group) {
  return sqlite3_mprintf(
      "kafka: group '%s' (topic '%s') cannot be read by a statement that writes while another "
      "statement that writes is running on the connection: SQLite would roll a failing one back "
      "alone and tell the extension nothing, and its rows' position would commit with the other. "
      "Finish (or reset) the other statement first",
      group->opts.group, group->opts.topic);
}

static char *refused_or_fail(const kafka_vtab *group) {
  return sqlite3_mprintf(
      "kafka: group '%s' (topic '%s') cannot be read by a statement with OR FAIL: a conflict "
      "keeps and commits the rows before it while the scan may have ended, and the group would "
      "move past the rows that were not written. Use OR ABORT (the default: the statement is "
      "all or nothing), OR IGNORE or OR REPLACE",
      group->opts.group, group->opts.topic);
}

int txn_group_scan(txn_coord *coord, kafka_vtab *group, kafka_client *consumer, int *kind, char **err) {
  settle(coord);
  cluster_learn(group, consumer);
  *kind = read_kind(coord->db, group);
  if (*kind == TXN_READ_PARTIAL) {
    *err = refused_or_fail(group);
    return SQLITE_ERROR;
  }
  if (!in_transaction(coord->db)) return SQLITE_OK;
  kafka_vtab *sink = offsets_sink(coord, group, err);
  if (*err) return SQLITE_ERROR;
  if (!sink && !sqlite3_get_autocommit(coord->db)) {
    *err = refused_in_transaction(group);
    return SQLITE_ERROR;
  }
  if (sqlite3_get_autocommit(coord->db) && statement_writers(coord->db) > 1) {
    *err = refused_beside_a_writer(group);
    return SQLITE_ERROR;
  }
  return hooks_install(coord, group, err);
}

int txn_open(txn_coord *coord) {
  return in_transaction(coord->db);
}

int txn_group_sink(txn_coord *coord, const kafka_vtab *group) {
  char *err = NULL;
  kafka_vtab *sink = in_transaction(coord->db) ? offsets_sink(coord, group, &err) : NULL;
  sqlite3_free(err);
  return sink != NULL;
}

void txn_group_read(txn_coord *coord, kafka_vtab *group, rd_kafka_topic_partition_list_t *list,
                    rd_kafka_topic_partition_list_t *starts, int kind) {
  int rc = SQLITE_OK;
  if (kind == TXN_READ_HELD) {
    rc = position_add(&coord->held, group, list, starts, 0);
  } else if (in_transaction(coord->db)) {
    rc = position_add(&coord->positions, group, list, starts, coord->depth);
  } else {
    txn_position pos = {group, list, starts, 0, 0, NULL};
    position_commit(coord, &pos);
    rd_kafka_topic_partition_list_destroy(list);
    if (starts) rd_kafka_topic_partition_list_destroy(starts);
  }
  if (rc) sqlite3_log(rc, "kafka: group '%s': out of memory (nothing lost: the next scan reads those rows again)",
                      group->opts.group);
}

/* The connection's group table named name (NULL: none). */
static kafka_vtab *group_named(const txn_coord *coord, const char *name) {
  for (txn_table *t = coord->groups; t && name; t = t->next)
    if (!sqlite3_stricmp(t->vtab->table_name, name)) return t->vtab;
  return NULL;
}

/* Takes the group's held position (one: they merge) out of the list. */
static txn_position *held_take(txn_coord *coord, const kafka_vtab *group) {
  for (txn_position **at = &coord->held; *at; at = &(*at)->next)
    if ((*at)->group == group) {
      txn_position *pos = *at;
      *at = pos->next;
      return pos;
    }
  return NULL;
}

/* kafka_commit('table'): commits the position the table's SELECTs held;
** the result is the number of partitions committed. */
static void kafka_commit_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  txn_coord *coord = sqlite3_user_data(ctx);
  const char *name = (const char *)sqlite3_value_text(argv[0]);
  settle(coord);
  kafka_vtab *group = group_named(coord, name);
  if (!group) {
    char *msg = sqlite3_mprintf("kafka_commit: no kafka table with a group named '%s' on this connection "
                                "(give the name of a table created with group = '...')", name ? name : "NULL");
    sqlite3_result_error(ctx, msg, -1);
    sqlite3_free(msg);
    return;
  }
  txn_position *pos = held_take(coord, group);
  char *err = NULL;
  if (pos && group_moves(coord, group, pos->list, &err))
    sqlite3_result_error(ctx, err ? err : "kafka_commit: out of memory", -1);
  else
    sqlite3_result_int(ctx, pos ? pos->list->cnt : 0);
  sqlite3_free(err);
  if (pos) position_free(pos);
}

int txn_register_functions(sqlite3 *db, txn_coord *coord) {
  return sqlite3_create_function(db, "kafka_commit", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, coord,
                                 kafka_commit_func, NULL, NULL);
}

/* ------------------------------------------------------------ the tables */

static int list_add(txn_table **list, kafka_vtab *vtab) {
  for (txn_table *t = *list; t; t = t->next)
    if (t->vtab == vtab) return SQLITE_OK;
  txn_table *t = sqlite3_malloc64(sizeof *t);
  if (!t) return SQLITE_NOMEM;
  t->vtab = vtab;
  t->committed = 0;
  t->next = *list;
  *list = t;
  return SQLITE_OK;
}

static void list_remove(txn_table **list, const kafka_vtab *vtab) {
  for (txn_table **at = list; *at; at = &(*at)->next)
    if ((*at)->vtab == vtab) {
      txn_table *gone = *at;
      *at = gone->next;
      sqlite3_free(gone);
      return;
    }
}

int txn_table_attach(txn_coord *coord, kafka_vtab *vtab) {
  return vtab->opts.group ? list_add(&coord->groups, vtab) : SQLITE_OK;
}

producer_registry *txn_producers(txn_coord *coord) {
  return &coord->producers;
}

void txn_forget(txn_coord *coord, kafka_vtab *vtab) {
  if (!coord) return;
  settle(coord);
  positions_drop(&coord->positions, position_of_table, vtab);
  positions_drop(&coord->held, position_of_table, vtab);
  positions_drop(&coord->sent, position_of_table, vtab);
  list_remove(&coord->sinks, vtab);
  list_remove(&coord->groups, vtab);
}

void txn_settle_connection(sqlite3 *db) {
  pthread_mutex_lock(&coords_lock);
  txn_coord *coord = coords;
  while (coord && coord->db != db) coord = coord->next_coord;
  pthread_mutex_unlock(&coords_lock);
  if (coord) settle(coord);
}

void txn_coord_free(void *arg) {
  txn_coord *coord = arg;
  if (!coord) return;
  coord_unlink(coord);
  settle(coord);
  positions_drop(&coord->positions, any_position, NULL);
  positions_drop(&coord->held, any_position, NULL);
  positions_drop(&coord->sent, any_position, NULL);
  while (coord->sinks) list_remove(&coord->sinks, coord->sinks->vtab);
  while (coord->groups) list_remove(&coord->groups, coord->groups->vtab);
  sqlite3_free(coord);
}

/* ------------------------------------------------ the module's transaction */

static txn_coord *coord_of(sqlite3_vtab *base) {
  return ((kafka_vtab *)base)->txn;
}

int txn_begin(sqlite3_vtab *base) {
  txn_coord *coord = coord_of(base);
  settle(coord);
  if (!coord->sinks) coord->depth = 0;
  return list_add(&coord->sinks, (kafka_vtab *)base);
}

static void sink_committed(txn_coord *coord, const kafka_vtab *sink) {
  for (txn_table *s = coord->sinks; s; s = s->next)
    if (s->vtab == sink) s->committed = 1;
}

/* The tables whose Kafka transaction this COMMIT committed (NULL: none),
** for the error of a later one that fails. */
static char *sinks_committed(txn_coord *coord) {
  sqlite3_str *text = sqlite3_str_new(NULL);
  for (txn_table *s = coord->sinks; s; s = s->next)
    if (s->committed)
      sqlite3_str_appendf(text, "%stopic '%s' (transactional_id '%s')", sqlite3_str_length(text) ? ", " : "",
                          s->vtab->opts.topic, s->vtab->opts.transactional_id);
  if (sqlite3_str_length(text)) return sqlite3_str_finish(text);
  sqlite3_free(sqlite3_str_finish(text));
  return NULL;
}

static int position_on_cluster(const txn_position *pos, const void *sink) {
  return cluster_same(pos->group, sink);
}

/* Puts the positions on the sink's cluster into its Kafka transaction;
** they go to *sent, whose groups' held positions they supersede once it
** commits (sent_settle). */
static int send_offsets(txn_coord *coord, kafka_vtab *sink, txn_position **sent, char **err) {
  int rc = SQLITE_OK;
  txn_position *pos;
  while (!rc && (pos = positions_take(coord, position_on_cluster, sink))) {
    rc = produce_send_offsets(sink, pos->group, pos->list, err);
    pos->next = *sent;
    *sent = pos;
  }
  return rc;
}

/* xSync: the deliveries, then (transactional_id) the groups' offsets and
** the Kafka transaction's commit. SQLite rolls back when it fails. */
int txn_sync(sqlite3_vtab *base) {
  kafka_vtab *sink = (kafka_vtab *)base;
  txn_coord *coord = sink->txn;
  char *err = NULL;
  txn_position *sent = NULL;
  int rc = produce_await(sink, &err);
  if (!rc && sink->opts.transactional_id) rc = send_offsets(coord, sink, &sent, &err);
  int committing = produce_in_transaction(sink);
  if (!rc) rc = produce_commit_transaction(sink, &err);
  sent_settle(coord, sent, rc == SQLITE_OK);
  if (rc) {
    char *committed = sinks_committed(coord);
    vtab_error(base, "%s%s%s%s", err ? err : "kafka: out of memory",
               committed ? " (this COMMIT had already committed the Kafka transaction of " : "",
               committed ? committed : "", committed ? ": those messages stay)" : "");
    sqlite3_free(committed);
    sqlite3_free(err);
    return rc;
  }
  if (committing) sink_committed(coord, sink);
  produce_transaction_end(sink);
  return SQLITE_OK;
}

/* xCommit, after the database file committed: the positions commit. */
int txn_commit(sqlite3_vtab *base) {
  txn_coord *coord = coord_of(base);
  list_remove(&coord->sinks, (kafka_vtab *)base);
  positions_drop(&coord->sent, any_position, NULL);
  coord->n_committing = 0;
  positions_commit(coord, any_position, NULL);
  coord->depth = 0;
  return SQLITE_OK;
}

int txn_rollback(sqlite3_vtab *base) {
  txn_coord *coord = coord_of(base);
  list_remove(&coord->sinks, (kafka_vtab *)base);
  on_rollback(coord);
  produce_rollback_transaction((kafka_vtab *)base);
  return SQLITE_OK;
}

int txn_savepoint(sqlite3_vtab *base, int i) {
  coord_of(base)->depth = i + 1;
  return produce_savepoint((kafka_vtab *)base, i);
}

int txn_release(sqlite3_vtab *base, int i) {
  txn_coord *coord = coord_of(base);
  for (txn_position *pos = coord->positions; pos; pos = pos->next)
    if (pos->level > i) pos->level = i;
  coord->depth = i;
  return produce_release((kafka_vtab *)base, i);
}

int txn_rollback_to(sqlite3_vtab *base, int i) {
  txn_coord *coord = coord_of(base);
  positions_drop(&coord->positions, position_above, &i);
  coord->depth = i + 1;
  return produce_rollback_to((kafka_vtab *)base, i);
}
