/*
** Operating a cluster from SQL (ext/ops.c): kafka_brokers,
** kafka_add_partitions() and kafka_delete_records(); and the registration
** of every operations function and table (configs.c, group_ops.c, acl.c).
*/
#ifndef KAFKA_OPS_H
#define KAFKA_OPS_H

#include "kafka_ext.h"

/* Registers the operations functions and tables on db. */
int ops_register(sqlite3 *db);

#endif
