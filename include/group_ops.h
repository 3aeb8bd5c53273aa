/*
** Consumer group operations (ext/group_ops.c): the kafka_group_members
** table, kafka_reset_group() and kafka_delete_group().
*/
#ifndef KAFKA_GROUP_OPS_H
#define KAFKA_GROUP_OPS_H

#include "kafka_ext.h"

/* Registers the group functions and the kafka_group_members table on db. */
int group_ops_register(sqlite3 *db);

/* Milliseconds since the epoch of an ISO 8601 UTC time
** ('2026-01-01T00:00:00Z', '2026-01-01 00:00:00.250+02:00', '2026-01-01';
** no zone means UTC). Returns 0 when text is not one. */
int group_ops_parse_time(const char *text, sqlite3_int64 *ms);

#endif
