/*
** Consumer-group mode (ext/group.c): where a group's scan starts, and the
** commit of its position when the scan delivered everything it read.
*/
#ifndef KAFKA_GROUP_H
#define KAFKA_GROUP_H

#include "client.h"
#include "scan.h"

/* Moves each partition's start up to the group's committed offset, or to
** low/high (option start) where the group has none. */
int group_starts(kafka_client *consumer, const kafka_options *opts, partition_scan *parts,
                 int n, const int64_t *low, const int64_t *high, char **err);

/* Commits, for every partition the scan read, the offset after the last
** message it read. */
int group_commit(kafka_client *consumer, const kafka_options *opts, const partition_scan *parts,
                 int n, char **err);

#endif
