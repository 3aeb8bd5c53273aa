/*
** Query planning (ext/plan.c): which predicates xBestIndex pushes down to
** Kafka, and the scan_plan xFilter rebuilds from them.
*/
#ifndef KAFKA_PLAN_H
#define KAFKA_PLAN_H

#include <stdint.h>

#include "kafka_ext.h"

#define PLAN_NO_LIMIT INT64_MAX

/* The rowid of a message is offset * ROWID_PARTITIONS + partition: a pure
** function of (partition, offset), the same in every scan, ordered by
** offset first. Partitions from ROWID_PARTITIONS on cannot be read (a scan
** refuses them); an offset so large that the product does not fit an
** int64 (beyond 92,233,720,368,547) gets rowid INT64_MAX. */
#define ROWID_PARTITIONS 100000

/* Saturating int64 arithmetic for every bound (as SQLite's series.c). */
static inline int64_t sat_add64(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
  if (b < 0 && a < INT64_MIN - b) return INT64_MIN;
  return a + b;
}

static inline int64_t sat_sub64(int64_t a, int64_t b) {
  if (b < 0 && a > INT64_MAX + b) return INT64_MAX;
  if (b > 0 && a < INT64_MIN + b) return INT64_MIN;
  return a - b;
}

/* For a, b >= 0 (window sizes, row counts). */
static inline int64_t sat_mul64(int64_t a, int64_t b) {
  return a && b > INT64_MAX / a ? INT64_MAX : a * b;
}

/* What one scan reads. Offsets are inclusive bounds; partition bounds are
** inclusive too. A partition list (partition = / IN) narrows further. */
typedef struct scan_plan {
  int empty;            /* a constraint can never hold (e.g. = NULL) */
  int32_t part_lo, part_hi;
  int64_t *part_list;   /* NULL: every partition in [part_lo, part_hi] */
  int n_part_list;
  int64_t offset_lo, offset_hi;
  int64_t *offset_list; /* offset IN: the offsets, sorted, distinct; NULL: none */
  int n_offset_list;
  int64_t timestamp_lo; /* -1: none; > 0: start at the first offset at or after it */
  int64_t timestamp_hi; /* INT64_MAX: none; rows above it are skipped */
  int64_t rowid_lo, rowid_hi; /* rows outside are skipped (the offsets
                              ** bound them only roughly) */
  int64_t limit;        /* PLAN_NO_LIMIT: none; else LIMIT + OFFSET (saturated) */
  int order;            /* PLAN_HEAD / PLAN_TAIL: read windows, sorted (below) */
  int64_t follow_ms;    /* -1: snapshot; else follow until this much quiet */
  int keys_given;       /* a key = / key IN entry was applied */
  sqlite3_value **keys; /* its non-NULL keys (copies) */
  int n_keys;
} scan_plan;

/* plan.order: ORDER BY offset or rowid with a LIMIT, answered from each
** partition's first (PLAN_HEAD) or last (PLAN_TAIL) LIMIT rows. */
#define PLAN_HEAD 2
#define PLAN_TAIL 1

/* The rowid of the message at (partition, offset). */
int64_t plan_rowid(int32_t partition, int64_t offset);

/* xBestIndex of the `kafka` module. */
int plan_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info);

/* Rebuilds the plan xBestIndex chose from xFilter's arguments. */
int plan_from_filter(scan_plan *plan, int idx_num, const char *idx_str, int argc,
                     sqlite3_value **argv, char **err);

/* Non-zero when the message at (partition, offset) with timestamp ts
** passes the bounds the scan checks on every row (not the offsets: the
** partition's range is read exactly). */
int plan_wants_row(const scan_plan *plan, int32_t partition, int64_t offset, int64_t ts);

/* offset IN: the first listed offset after `offset`, or -1 when none. */
int64_t plan_next_offset(const scan_plan *plan, int64_t offset);
/* Narrows the plan's partitions to those the plan's keys map to under
** partitioner in a topic of partition_cnt partitions (no change when
** there are no keys, or one is empty and so may be anywhere). */
int plan_narrow_by_keys(scan_plan *plan, kafka_partitioner partitioner, int32_t partition_cnt);

/* Non-zero when partition p is one the plan reads. */
int plan_wants_partition(const scan_plan *plan, int32_t p);

void plan_free(scan_plan *plan);

#endif
