/*
** Per-connection transaction coordination: a group table's position read by
** a statement that writes moves only once everything that statement (or
** its transaction) did has committed.
**
** SQLite's commit order (vdbeaux.c, sqlite3VdbeHalt and vdbeCommit) decides
** where that can be known:
**
**   1. the statement's cursors are closed (the group's scan registers its
**      position here: txn_group_defer);
**   2. foreign-key checks; a failure rolls back (the rollback hook fires);
**   3. xSync of every written virtual table: a kafka sink awaits its
**      deliveries and commits its Kafka transaction, into which a
**      transactional sink on the group's cluster puts the group's offsets
**      (send_offsets_to_transaction): they commit together or not at all;
**   4. the commit hook, only when some database file has a write
**      transaction: the positions left are committed here, and one that
**      fails turns SQLite's commit into a rollback (the statement fails and
**      its rows are not stored);
**   5. the database file commit, then xCommit of the written virtual tables:
**      a kafka-only statement (no file write, so no commit hook) commits the
**      positions left at its sink's xCommit.
**
** Any rollback (the rollback hook, a sink's xRollback, or its xRollbackTo
** for a failed statement inside a transaction) drops the positions: the
** group stays where it was and the rows come again.
**
** SQLite tells nothing about a failed statement that wrote only plain tables
** inside an explicit transaction, nor about a ROLLBACK of a transaction that
** wrote nothing; group.c refuses those (see group_starts). The connection's
** commit and rollback hooks are this file's while a position waits (SQLite
** keeps one of each per connection, and gives no way to call the previous).
**
** It also keeps the connection's tables with transactional_id that have a
** producer, so that tables on one cluster naming the same id share one
** (produce.c), and which of them committed at the current COMMIT (for the
** error of a later one that fails).
*/
#include "base.h"
#include "table.h"

#include <string.h>

SQLITE_EXTENSION_INIT3

/* A group table's position waiting for its transaction. */
typedef struct txn_position {
  kafka_vtab *group;
  rd_kafka_topic_partition_list_t *list;
  sqlite3_stmt *stmt; /* the statement run that read it ... */
  int stmt_run;       /* ... (SQLITE_STMTSTATUS_RUN) */
  struct txn_position *next;
} txn_position;

/* A kafka table written in the open transaction. */
typedef struct txn_sink {
  kafka_vtab *vtab;
  int committed; /* its Kafka transaction committed at this COMMIT's xSync */
  struct txn_sink *next;
} txn_sink;

struct txn_coord {
  sqlite3 *db;
  txn_position *positions;
  txn_sink *sinks;
  txn_sink *producers; /* the tables with transactional_id that have a producer */
  int hooked; /* the commit and rollback hooks are set */
};

txn_coord *txn_coord_new(sqlite3 *db) {
  txn_coord *coord = sqlite3_malloc64(sizeof *coord);
  if (coord) memset(coord, 0, sizeof *coord);
  if (coord) coord->db = db;
  return coord;
}

sqlite3_stmt *txn_writing_statement(sqlite3 *db) {
  sqlite3_stmt *stmt = NULL;
  while ((stmt = sqlite3_next_stmt(db, stmt)))
    if (sqlite3_stmt_busy(stmt) && !sqlite3_stmt_readonly(stmt)) return stmt;
  return NULL;
}

int txn_statement_writes(sqlite3 *db) {
  return txn_writing_statement(db) != NULL;
}

static void position_free(txn_position *pos) {
  rd_kafka_topic_partition_list_destroy(pos->list);
  sqlite3_free(pos);
}

/* Drops the positions for which drop(pos, arg) says so. */
static void positions_drop(txn_coord *coord, int (*drop)(const txn_position *pos, const void *arg),
                           const void *arg) {
  for (txn_position **at = &coord->positions; *at;) {
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

static int position_of_statement(const txn_position *pos, const void *stmt) {
  return pos->stmt == stmt && pos->stmt_run == sqlite3_stmt_status(pos->stmt, SQLITE_STMTSTATUS_RUN, 0);
}

static int same_cluster(const kafka_vtab *a, const kafka_vtab *b) {
  return !strcmp(a->opts.brokers, b->opts.brokers);
}

static void hooks_set(txn_coord *coord, int on);

/* Commits every waiting position; returns non-zero when one failed (each
** failure is in sqlite3_log: those rows come again). */
static int positions_commit(txn_coord *coord) {
  int failed = 0;
  while (coord->positions) {
    txn_position *pos = coord->positions;
    char *err = NULL;
    if (group_commit(pos->group, pos->list, &err)) {
      failed = 1;
      sqlite3_log(SQLITE_WARNING, "%s (nothing lost: the transaction is rolled back or, when it had "
                  "committed already, the next scan reads those rows again)", err);
    }
    sqlite3_free(err);
    coord->positions = pos->next;
    position_free(pos);
  }
  hooks_set(coord, 0);
  return failed;
}

/* Before the database file commits: a position that cannot be committed
** turns the commit into a rollback, so that rows and position agree. */
static int on_commit(void *arg) {
  return positions_commit(arg);
}

static void on_rollback(void *arg) {
  txn_coord *coord = arg;
  positions_drop(coord, any_position, NULL);
  hooks_set(coord, 0);
}

static void hooks_set(txn_coord *coord, int on) {
  if (coord->hooked == on) return;
  sqlite3_commit_hook(coord->db, on ? on_commit : NULL, on ? coord : NULL);
  sqlite3_rollback_hook(coord->db, on ? on_rollback : NULL, on ? coord : NULL);
  coord->hooked = on;
}

/* The position kept for group in this run of stmt, or NULL. */
static txn_position *position_find(txn_coord *coord, const kafka_vtab *group, sqlite3_stmt *stmt, int run) {
  for (txn_position *pos = coord->positions; pos; pos = pos->next)
    if (pos->group == group && pos->stmt == stmt && pos->stmt_run == run) return pos;
  return NULL;
}

int txn_group_defer(txn_coord *coord, kafka_vtab *group, rd_kafka_topic_partition_list_t *list) {
  sqlite3_stmt *stmt = txn_writing_statement(coord->db);
  int run = stmt ? sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_RUN, 0) : 0;
  /* Several cursors of one statement over the group: one position, the
  ** furthest (committed one after the other, the last would win). */
  txn_position *pos = position_find(coord, group, stmt, run);
  if (pos) {
    group_position_merge(&pos->list, list);
    rd_kafka_topic_partition_list_destroy(list);
    return SQLITE_OK;
  }
  pos = sqlite3_malloc64(sizeof *pos);
  if (!pos) return SQLITE_NOMEM;
  pos->group = group;
  pos->list = list;
  pos->stmt = stmt;
  pos->stmt_run = run;
  pos->next = coord->positions;
  coord->positions = pos;
  hooks_set(coord, 1);
  return SQLITE_OK;
}

kafka_vtab *txn_offsets_sink(txn_coord *coord, const kafka_vtab *group) {
  for (txn_sink *s = coord->sinks; s; s = s->next)
    if (s->vtab->opts.transactional_id && same_cluster(s->vtab, group)) return s->vtab;
  return NULL;
}


/* Adds vtab to a list of tables once; returns 0 when out of memory. */
static int list_add(txn_sink **list, kafka_vtab *vtab) {
  for (txn_sink *s = *list; s; s = s->next)
    if (s->vtab == vtab) return 1;
  txn_sink *s = sqlite3_malloc64(sizeof *s);
  if (!s) return 0;
  s->vtab = vtab;
  s->committed = 0;
  s->next = *list;
  *list = s;
  return 1;
}

static void list_remove(txn_sink **list, kafka_vtab *vtab) {
  for (txn_sink **at = list; *at; at = &(*at)->next)
    if ((*at)->vtab == vtab) {
      txn_sink *gone = *at;
      *at = gone->next;
      sqlite3_free(gone);
      return;
    }
}

/* Out of memory, the sink takes no group's offsets: they commit at the hook. */
void txn_sink_begin(txn_coord *coord, kafka_vtab *sink) {
  list_add(&coord->sinks, sink);
}

static void sink_remove(txn_coord *coord, kafka_vtab *sink) {
  list_remove(&coord->sinks, sink);
}

/* Out of memory, the table keeps a producer of its own. */
void txn_producer_attach(txn_coord *coord, kafka_vtab *vtab) {
  list_add(&coord->producers, vtab);
}

void txn_producer_detach(txn_coord *coord, kafka_vtab *vtab) {
  list_remove(&coord->producers, vtab);
}

kafka_vtab *txn_producer_sibling(txn_coord *coord, const kafka_vtab *vtab) {
  for (txn_sink *s = coord->producers; s; s = s->next)
    if (s->vtab != vtab && same_cluster(s->vtab, vtab) &&
        !strcmp(s->vtab->opts.transactional_id, vtab->opts.transactional_id))
      return s->vtab;
  return NULL;
}

int txn_sink_sync(txn_coord *coord, kafka_vtab *sink, char **err) {
  int rc = SQLITE_OK;
  for (txn_position **at = &coord->positions; *at && !rc;) {
    txn_position *pos = *at;
    if (!same_cluster(pos->group, sink)) {
      at = &pos->next;
      continue;
    }
    rc = produce_send_offsets(sink, pos->group->opts.group, pos->list, err);
    *at = pos->next;
    position_free(pos);
  }
  return rc;
}

void txn_sink_committed(txn_coord *coord, kafka_vtab *sink) {
  for (txn_sink *s = coord->sinks; s; s = s->next)
    if (s->vtab == sink) s->committed = 1;
}

char *txn_sinks_committed(txn_coord *coord) {
  sqlite3_str *text = sqlite3_str_new(NULL);
  for (txn_sink *s = coord->sinks; s; s = s->next)
    if (s->committed)
      sqlite3_str_appendf(text, "%stopic '%s' (transactional_id '%s')", sqlite3_str_length(text) ? ", " : "",
                          s->vtab->opts.topic, s->vtab->opts.transactional_id);
  if (sqlite3_str_length(text)) return sqlite3_str_finish(text);
  sqlite3_free(sqlite3_str_finish(text));
  return NULL;
}

void txn_sink_commit(txn_coord *coord, kafka_vtab *sink) {
  sink_remove(coord, sink);
  if (coord->positions) positions_commit(coord);
}

void txn_sink_rollback(txn_coord *coord, kafka_vtab *sink) {
  sink_remove(coord, sink);
  on_rollback(coord);
}

void txn_statement_rollback(txn_coord *coord) {
  sqlite3_stmt *stmt = txn_writing_statement(coord->db);
  if (stmt) positions_drop(coord, position_of_statement, stmt);
  if (!coord->positions) hooks_set(coord, 0);
}

void txn_forget(txn_coord *coord, kafka_vtab *vtab) {
  if (!coord) return;
  positions_drop(coord, position_of_table, vtab);
  sink_remove(coord, vtab);
  if (!coord->positions) hooks_set(coord, 0);
}

void txn_coord_free(void *arg) {
  txn_coord *coord = arg;
  if (!coord) return;
  positions_drop(coord, any_position, NULL);
  while (coord->sinks) sink_remove(coord, coord->sinks->vtab);
  while (coord->producers) txn_producer_detach(coord, coord->producers->vtab);
  sqlite3_free(coord);
}
