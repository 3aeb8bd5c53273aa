/*
** Which partition a key was written to (ext/partitioner.c): librdkafka's
** own partitioner functions, for the `partitioner` table option.
*/
#ifndef KAFKA_PARTITIONER_H
#define KAFKA_PARTITIONER_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

/* The partition a producer using `partitioner` chose for key (len bytes)
** in a topic of partition_cnt partitions, or -1 when it may have chosen
** any: an empty key (and a NULL one, which callers never pass) goes to a
** random or sticky partition under librdkafka's partitioners. */
int32_t partitioner_partition(kafka_partitioner partitioner, const void *key, size_t len,
                              int32_t partition_cnt);

/* The option's name of partitioner, for messages. */
const char *partitioner_name(kafka_partitioner partitioner);

#endif
