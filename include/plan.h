/*
** Query planning (ext/plan.c): which predicates xBestIndex pushes down to
** Kafka, and the scan_plan xFilter rebuilds from them.
*/
#ifndef KAFKA_PLAN_H
#define KAFKA_PLAN_H

#include <stdint.h>

#include "kafka_ext.h"

#define PLAN_NO_LIMIT INT64_MAX

/* What one scan reads. Offsets are inclusive bounds; partition bounds are
** inclusive too. A partition list (partition = / IN) narrows further. */
typedef struct scan_plan {
  int empty;            /* a constraint can never hold (e.g. = NULL) */
  int32_t part_lo, part_hi;
  int32_t *part_list;   /* NULL: every partition in [part_lo, part_hi] */
  int n_part_list;
  int64_t offset_lo, offset_hi;
  int64_t timestamp_lo; /* -1: none; > 0: start at the first offset at or after it */
  int64_t timestamp_hi; /* INT64_MAX: none; rows above it are skipped */
  int64_t limit;        /* PLAN_NO_LIMIT: none */
  int tail;             /* ORDER BY offset DESC LIMIT n: the newest rows first */
  int64_t follow_ms;    /* -1: snapshot; else follow until this much quiet */
  int keys_given;       /* a key = / key IN entry was applied */
  sqlite3_value **keys; /* its non-NULL keys (copies) */
  int n_keys;
} scan_plan;

/* xBestIndex of the `kafka` module. */
int plan_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info);

/* Rebuilds the plan xBestIndex chose from xFilter's arguments. */
int plan_from_filter(scan_plan *plan, int idx_num, const char *idx_str, int argc,
                     sqlite3_value **argv, char **err);

/* Narrows the plan's partitions to those the plan's keys map to under
** partitioner in a topic of partition_cnt partitions (no change when
** there are no keys, or one is empty and so may be anywhere). */
int plan_narrow_by_keys(scan_plan *plan, kafka_partitioner partitioner, int32_t partition_cnt);

/* Non-zero when partition p is one the plan reads. */
int plan_wants_partition(const scan_plan *plan, int32_t p);

void plan_free(scan_plan *plan);

#endif
