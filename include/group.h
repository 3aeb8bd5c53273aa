/*
** Consumer-group mode (ext/group.c): where a group's scan starts, and the
** commit of its position once the statement that read it has succeeded.
*/
#ifndef KAFKA_GROUP_H
#define KAFKA_GROUP_H

#include "client.h"
#include "scan.h"

/* A cursor's group position across the scans of its statement (a join's
** inner loop rescans): where each partition started at the first scan, so
** that every rescan starts there too, and how far the scans delivered. */
typedef struct group_state {
  rd_kafka_topic_partition_list_t *starts;  /* committed offset, or low/high per `start` */
  rd_kafka_topic_partition_list_t *reached; /* the position to commit */
  int complete;                             /* the last scan delivered all it read */
  struct group_state *next_open;            /* the next older open cursor of the table */
} group_state;

/* At cursor open: the cursor's state joins the table's open ones (a cursor
** that closes while another is open hands its position over, see group.c). */
void group_open(kafka_vtab *vtab, group_state *gs);

/* Moves each partition's start up to the group's start: its committed
** offset (asked at the cursor's first scan of the partition), or low/high
** (option start) where it has none or it lies outside [low, high]. Refused
** inside an explicit transaction unless the offsets can go into a Kafka
** transaction (see group.c). */
int group_starts(kafka_client *consumer, const kafka_options *opts, group_state *gs,
                 partition_scan *parts, int n, const int64_t *low, const int64_t *high,
                 char **err);

/* Records the end of one scan: complete when it reached its end or LIMIT. */
void group_scan_end(group_state *gs, const kafka_options *opts, const partition_scan *parts, int n,
                    int complete);

/* At cursor close, when the last scan was complete and the statement was
** not interrupted: hands the position to another open cursor of the table
** when there is one, else commits it now (autocommit, a statement that
** writes nothing) or hands it to the connection's transaction (txn.h);
** then frees the state. */
void group_close(group_state *gs, const kafka_options *opts, int interrupted);

/* Raises *into (created when NULL) to every partition's offset in from. */
void group_position_merge(rd_kafka_topic_partition_list_t **into, const rd_kafka_topic_partition_list_t *from);

/* Commits list as the group's position, with the table's idle consumer or
** a new one (bounded by timeout_ms). */
int group_commit(kafka_vtab *vtab, const rd_kafka_topic_partition_list_t *list, char **err);

#endif
