/*
** Per-connection transaction coordination (ext/txn.c): group positions
** that wait for the SQLite transaction of the statement that read them, and
** the kafka tables written in that transaction.
*/
#ifndef KAFKA_TXN_H
#define KAFKA_TXN_H

#include "kafka_ext.h"

typedef struct txn_coord txn_coord;

/* One per connection: the `kafka` module's client data. */
txn_coord *txn_coord_new(sqlite3 *db);
void txn_coord_free(void *coord);

/* The busy statement of the connection that writes (NULL: none): SQLite
** gives a virtual table no statement boundaries inside a transaction, but
** this statement and its run count (SQLITE_STMTSTATUS_RUN) identify one. */
sqlite3_stmt *txn_writing_statement(sqlite3 *db);

/* Non-zero when a statement on the connection writes: a group read by it
** must wait for its commit. */
int txn_statement_writes(sqlite3 *db);

/* A kafka table of the connection with transactional_id on the group
** table's cluster, written in the open transaction (NULL: none): the
** group's offsets then go into its Kafka transaction. */
kafka_vtab *txn_offsets_sink(txn_coord *coord, const kafka_vtab *group);

/* Keeps a group table's position (list, owned from now on) until the
** transaction that read it commits (then it is committed, or sent with a
** transactional sink's offsets) or rolls back (then it is dropped). The
** positions of one group from one statement run merge: the furthest. */
int txn_group_defer(txn_coord *coord, kafka_vtab *group, rd_kafka_topic_partition_list_t *list);

/* The kafka table's life in a transaction (produce.c): written (xBegin),
** about to commit (xSync: a transactional one takes the positions of the
** groups on its cluster, produce_send_offsets), committed (xCommit),
** rolled back (xRollback), and a statement of it rolled back
** (xRollbackTo). */
void txn_sink_begin(txn_coord *coord, kafka_vtab *sink);
int txn_sink_sync(txn_coord *coord, kafka_vtab *sink, char **err);
void txn_sink_commit(txn_coord *coord, kafka_vtab *sink);
void txn_sink_rollback(txn_coord *coord, kafka_vtab *sink);
void txn_statement_rollback(txn_coord *coord);

/* A COMMIT runs the tables' xSync one after the other: a Kafka transaction
** committed there cannot be undone when a later one fails. The first marks
** one as committed; the second lists them (NULL: none) for the error. */
void txn_sink_committed(txn_coord *coord, kafka_vtab *sink);
char *txn_sinks_committed(txn_coord *coord);

/* Tables with transactional_id that have a producer: another table of the
** connection on the same cluster with the same transactional_id shares it
** (txn_producer_sibling, NULL: none), so that one SQLite transaction over
** them is one Kafka transaction. */
void txn_producer_attach(txn_coord *coord, kafka_vtab *vtab);
void txn_producer_detach(txn_coord *coord, kafka_vtab *vtab);
kafka_vtab *txn_producer_sibling(txn_coord *coord, const kafka_vtab *vtab);

/* At disconnect: forgets the table, whose positions are dropped. */
void txn_forget(txn_coord *coord, kafka_vtab *vtab);

#endif
