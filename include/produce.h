/*
** Producing (ext/produce.c): INSERT as acknowledged production, and SQLite
** transactions as Kafka transactions with `transactional_id`.
*/
#ifndef KAFKA_PRODUCE_H
#define KAFKA_PRODUCE_H

#include "kafka_ext.h"

/* xUpdate: INSERT produces one message; UPDATE and DELETE are refused. */
int produce_update(sqlite3_vtab *vtab, int argc, sqlite3_value **argv, sqlite3_int64 *rowid);

/* xBegin, xSync, xCommit, xRollback: delivery of everything produced since
** xBegin is awaited at xSync, where a transaction is committed too. */
int produce_begin(sqlite3_vtab *vtab);
int produce_sync(sqlite3_vtab *vtab);
int produce_commit(sqlite3_vtab *vtab);
int produce_rollback(sqlite3_vtab *vtab);

/* xSavepoint, xRelease, xRollbackTo (module iVersion 2). Rolling back to a
** savepoint over messages produced in a Kafka transaction aborts it. */
int produce_savepoint(sqlite3_vtab *vtab, int i);
int produce_release(sqlite3_vtab *vtab, int i);
int produce_rollback_to(sqlite3_vtab *vtab, int i);

/* Creates the table's producer now if it has none (with transactional_id:
** init_transactions, which fences an earlier producer with the same id and
** aborts its open transaction). */
int produce_prepare(kafka_vtab *vtab, char **err);

/* Puts a group's offsets (list: the position to commit) into the table's
** Kafka transaction, beginning it when needed (transactional_id only). */
int produce_send_offsets(kafka_vtab *vtab, const char *group, const rd_kafka_topic_partition_list_t *list,
                         char **err);

/* Flushes (bounded) and destroys the table's producer, at disconnect. */
void produce_close(kafka_vtab *vtab);

#endif
