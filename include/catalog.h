/*
** The cluster catalog (ext/catalog.c): kafka_topics, kafka_partitions,
** kafka_groups and kafka_group_offsets, eponymous-only virtual tables used
** as table-valued functions.
*/
#ifndef KAFKA_CATALOG_H
#define KAFKA_CATALOG_H

#include "kafka_ext.h"

/* Registers the catalog tables on db. */
int catalog_register(sqlite3 *db);

#endif
