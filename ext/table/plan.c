/*
** Planning: the predicates xBestIndex pushes down to Kafka and the
** scan_plan xFilter rebuilds from them.
**
** The contract between xBestIndex and xFilter. idxStr lists, in argv order
** and separated by ", ", one entry per constraint handed to xFilter, so that
** EXPLAIN QUERY PLAN reads as what was pushed down:
**
**   idxStr entry          argv value     effect on the scan
**   --------------------  -------------  -------------------------------------
**   partition =           integer        read that partition only
**   partition IN          IN list        read those partitions (all at once)
**   offset IN             IN list        read those offsets (all at once: a
**                                        far one is sought, not read to)
**   partition > >= < <=   integer        read a range of partitions
**   offset = > >= < <=    integer        start at / stop before offsets
**   timestamp = > >=      ms             start with offsets-for-times
**   timestamp < <=        ms             filter only (timestamps need not grow)
**   time = > >= < <=      ISO text       the timestamps whose text passes
**                                        (narrow_time), then as timestamp
**   rowid = > >= < <=     integer        the offsets (and for =, the
**                                        partition) those rowids map to
**   key =                 text or blob   with option partitioner: read only
**   key IN                IN list        the partitions the keys map to
**   follow =              ms             follow mode: end after this much quiet
**   LIMIT                 integer        stop after that many rows ...
**   OFFSET                integer        ... plus these (SQLite skips them)
**   ORDER BY offset DESC  (none)         idxNum PLAN_TAIL: the newest LIMIT
**                                        rows of each partition, newest first
**   ORDER BY offset       (none)         idxNum PLAN_HEAD: the oldest LIMIT
**                                        rows of each partition, oldest first;
**                                        without LIMIT, one partition is read
**                                        in order anyway
**   ORDER BY rowid [DESC] (none)         the same (rowid is offset-major)
**
** Every constraint except follow is also re-checked by SQLite (omit = 0),
** so pushdown can make a query faster but never different; LIMIT and
** OFFSET are applied by SQLite too. The cursor applies the same bounds to
** every row itself (scan.c), which is what makes LIMIT safe to push, and
** LIMIT is taken only when nothing is left for SQLite to filter or sort
** after the cursor: every WHERE term taken, and no ORDER BY or one the
** cursor's order satisfies. A key term only narrows the partitions (the
** cursor does not compare keys), so it does not count as taken for LIMIT.
*/
#include "base.h"
#include "table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

#define TAKEN 1
#define TAKEN_NARROWS 2 /* argv gets it, rows are still filtered by SQLite only */
#define FULL_SCAN_ROWS 1000000.0
/* What one xFilter costs before its first row, in rows of a scan: a
** positioned read waits for a fetch round trip (about 6 ms on a broker,
** where a scan reads a message in about 0.5 us), so a join that would make
** more positioned reads than a full scan is worth is planned as a scan. */
#define FILTER_COST_ROWS 10000.0
#define ROWID_COLUMN (-1) /* SQLite's iColumn for the rowid */
#define ANY_COLUMN (-2)   /* LIMIT and OFFSET name no column */

typedef struct pushable {
  int column;
  unsigned char op;
  const char *text;
} pushable;

static const pushable pushables[] = {
    {KAFKA_COL_PARTITION, SQLITE_INDEX_CONSTRAINT_EQ, "partition ="},
    {KAFKA_COL_PARTITION, SQLITE_INDEX_CONSTRAINT_GT, "partition >"},
    {KAFKA_COL_PARTITION, SQLITE_INDEX_CONSTRAINT_GE, "partition >="},
    {KAFKA_COL_PARTITION, SQLITE_INDEX_CONSTRAINT_LT, "partition <"},
    {KAFKA_COL_PARTITION, SQLITE_INDEX_CONSTRAINT_LE, "partition <="},
    {KAFKA_COL_OFFSET, SQLITE_INDEX_CONSTRAINT_EQ, "offset ="},
    {KAFKA_COL_OFFSET, SQLITE_INDEX_CONSTRAINT_GT, "offset >"},
    {KAFKA_COL_OFFSET, SQLITE_INDEX_CONSTRAINT_GE, "offset >="},
    {KAFKA_COL_OFFSET, SQLITE_INDEX_CONSTRAINT_LT, "offset <"},
    {KAFKA_COL_OFFSET, SQLITE_INDEX_CONSTRAINT_LE, "offset <="},
    {KAFKA_COL_TIMESTAMP, SQLITE_INDEX_CONSTRAINT_EQ, "timestamp ="},
    {KAFKA_COL_TIMESTAMP, SQLITE_INDEX_CONSTRAINT_GT, "timestamp >"},
    {KAFKA_COL_TIMESTAMP, SQLITE_INDEX_CONSTRAINT_GE, "timestamp >="},
    {KAFKA_COL_TIMESTAMP, SQLITE_INDEX_CONSTRAINT_LT, "timestamp <"},
    {KAFKA_COL_TIMESTAMP, SQLITE_INDEX_CONSTRAINT_LE, "timestamp <="},
    {KAFKA_COL_TIME, SQLITE_INDEX_CONSTRAINT_EQ, "time ="},
    {KAFKA_COL_TIME, SQLITE_INDEX_CONSTRAINT_GT, "time >"},
    {KAFKA_COL_TIME, SQLITE_INDEX_CONSTRAINT_GE, "time >="},
    {KAFKA_COL_TIME, SQLITE_INDEX_CONSTRAINT_LT, "time <"},
    {KAFKA_COL_TIME, SQLITE_INDEX_CONSTRAINT_LE, "time <="},
    {ROWID_COLUMN, SQLITE_INDEX_CONSTRAINT_EQ, "rowid ="},
    {ROWID_COLUMN, SQLITE_INDEX_CONSTRAINT_GT, "rowid >"},
    {ROWID_COLUMN, SQLITE_INDEX_CONSTRAINT_GE, "rowid >="},
    {ROWID_COLUMN, SQLITE_INDEX_CONSTRAINT_LT, "rowid <"},
    {ROWID_COLUMN, SQLITE_INDEX_CONSTRAINT_LE, "rowid <="},
    {KAFKA_COL_FOLLOW, SQLITE_INDEX_CONSTRAINT_EQ, "follow ="},
    {KAFKA_COL_KEY, SQLITE_INDEX_CONSTRAINT_EQ, "key ="},
    {ANY_COLUMN, SQLITE_INDEX_CONSTRAINT_LIMIT, "LIMIT"},
    {ANY_COLUMN, SQLITE_INDEX_CONSTRAINT_OFFSET, "OFFSET"},
};
#define N_PUSHABLE ((int)(sizeof pushables / sizeof *pushables))
#define ORDER_TEXT "ORDER BY "

static const pushable *find_pushable(const struct sqlite3_index_constraint *c) {
  for (int i = 0; i < N_PUSHABLE; i++) {
    int any_column = pushables[i].column == ANY_COLUMN;
    if (pushables[i].op == c->op && (any_column || pushables[i].column == c->iColumn))
      return &pushables[i];
  }
  return NULL;
}

/* A constant right-hand side known at planning time, for the estimates. */
static int rhs_integer(sqlite3_index_info *info, int i, sqlite3_int64 *out) {
  sqlite3_value *v = NULL;
  if (sqlite3_vtab_rhs_value(info, i, &v) != SQLITE_OK || !v) return 0;
  if (sqlite3_value_numeric_type(v) != SQLITE_INTEGER) return 0;
  *out = sqlite3_value_int64(v);
  return 1;
}

/* Rows a plan reads, roughly: what makes SQLite prefer pushdown. */
static double estimate_rows(sqlite3_index_info *info, const int *taken, int order) {
  double rows = FULL_SCAN_ROWS;
  int offset_lo = 0, offset_hi = 0;
  sqlite3_int64 limit = -1;
  for (int i = 0; i < info->nConstraint; i++) {
    if (!taken[i]) continue;
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    int offsets = c->iColumn == KAFKA_COL_OFFSET || c->iColumn == ROWID_COLUMN;
    if (c->op == SQLITE_INDEX_CONSTRAINT_LIMIT) { rhs_integer(info, i, &limit); continue; }
    if (c->iColumn == KAFKA_COL_PARTITION) rows /= c->op == SQLITE_INDEX_CONSTRAINT_EQ ? 8 : 2;
    else if (c->iColumn == KAFKA_COL_KEY) rows /= 8;
    else if (offsets && c->op == SQLITE_INDEX_CONSTRAINT_EQ) offset_lo = offset_hi = 1;
    else if (offsets && (c->op & (SQLITE_INDEX_CONSTRAINT_GT | SQLITE_INDEX_CONSTRAINT_GE))) offset_lo = 1;
    else if (offsets) offset_hi = 1;
    else if ((c->iColumn == KAFKA_COL_TIMESTAMP || c->iColumn == KAFKA_COL_TIME) && !(c->op & (SQLITE_INDEX_CONSTRAINT_LT | SQLITE_INDEX_CONSTRAINT_LE))) rows /= 4;
  }
  if (offset_lo && offset_hi) rows = rows > 100 ? 100 : rows;
  else if (offset_lo || offset_hi) rows /= 4;
  if (limit >= 0 && limit < rows) rows = limit > 0 ? (double)limit : 1;
  if (order && rows < 1) rows = 1;
  return rows;
}

/* Non-zero when every WHERE term SQLite passed is taken: only then may
** LIMIT and OFFSET be, since SQLite 3.40 offers them even when the table
** leaves a term (say `value = 'x'`) for SQLite to check after the cursor
** stopped. */
static int all_taken(sqlite3_index_info *info, const int *taken) {
  for (int i = 0; i < info->nConstraint; i++) {
    unsigned char op = info->aConstraint[i].op;
    if (taken[i] != TAKEN && op != SQLITE_INDEX_CONSTRAINT_LIMIT && op != SQLITE_INDEX_CONSTRAINT_OFFSET) return 0;
  }
  return 1;
}

/* The order the cursor yields, when it is the ORDER BY (offset or rowid,
** which is offset-major): with a LIMIT, from the partitions' heads or
** tails (*order: PLAN_HEAD or PLAN_TAIL); without one, offset ASC when a
** single partition is read. A group's position must be committed in offset
** order, and a follow scan has no tail: neither reads windows (SQLite
** sorts what they read). Terms after a rowid term never decide anything
** (rowids are unique): Datasette's `ORDER BY rowid DESC, rowid` is
** `ORDER BY rowid DESC`. */
static int order_consumed(sqlite3_vtab *vtab, sqlite3_index_info *info, int one_partition,
                          int windows_ok, int *order) {
  *order = 0;
  if (info->nOrderBy < 1) return 0;
  int column = info->aOrderBy[0].iColumn, desc = info->aOrderBy[0].desc;
  if (info->nOrderBy > 1 && column != ROWID_COLUMN) return 0;
  if (column != KAFKA_COL_OFFSET && column != ROWID_COLUMN) return 0;
  if (!desc && one_partition) return 1;
  if (!windows_ok || ((kafka_vtab *)vtab)->opts.group) return 0;
  *order = desc ? PLAN_TAIL : PLAN_HEAD;
  return 1;
}

static int is_limit(unsigned char op) {
  return op == SQLITE_INDEX_CONSTRAINT_LIMIT || op == SQLITE_INDEX_CONSTRAINT_OFFSET;
}

static int binary_collation(sqlite3_index_info *info, int i) {
  const char *collation = sqlite3_vtab_collation(info, i);
  return !collation || !sqlite3_stricmp(collation, "BINARY");
}

/* `key =` narrows the partitions only when the table names its
** partitioner, the key is what producers hashed (not a registry format's
** decoded JSON: CREATE refuses that combination, a table created before
** reads every partition) and the comparison is byte-wise (a COLLATE
** NOCASE term matches keys that hash elsewhere). A `time` bound is found
** by comparing bytes too. */
static int text_pushable(sqlite3_vtab *vtab, sqlite3_index_info *info, int i, const pushable *p) {
  const kafka_options *opts = &((kafka_vtab *)vtab)->opts;
  if (p->column == KAFKA_COL_TIME) return binary_collation(info, i);
  return p->column != KAFKA_COL_KEY ||
         (opts->partitioner != KAFKA_PARTITIONER_NONE && !codec_for(opts->key_format) && binary_collation(info, i));
}

/* Whether constraint i (an `=`) is an IN list handed over whole. */
static int takes_in_list(sqlite3_index_info *info, int i, const pushable *p) {
  return p->op == SQLITE_INDEX_CONSTRAINT_EQ &&
         (p->column == KAFKA_COL_PARTITION || p->column == KAFKA_COL_OFFSET || p->column == KAFKA_COL_KEY) &&
         sqlite3_vtab_in(info, i, 1);
}

static const char *entry_text(const pushable *p, int in) {
  if (!in) return p->text;
  switch (p->column) {
  case KAFKA_COL_KEY: return "key IN";
  case KAFKA_COL_OFFSET: return "offset IN";
  default: return "partition IN";
  }
}

/* idxNum bit of a plan whose `follow =` has no value when the scan starts
** (bound through a join to a table read after this one): a follow scan is
** a parameter of the scan, not a filter on rows, so that plan is costed
** out and, chosen anyway, fails in xFilter rather than read no rows. */
#define PLAN_FOLLOW_UNBOUND 4
#define UNUSABLE_COST 1e18

/* A constraint on follow other than `follow = <ms>` (follow > 1000, IS
** NULL, ...): SQLite would compare it with the column's NULL and return
** no rows; the extension cannot honour it, so it is an error. */
static int refuse_follow_constraint(sqlite3_vtab *vtab, sqlite3_index_info *info, int *unbound) {
  *unbound = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->iColumn != KAFKA_COL_FOLLOW) continue;
    if (c->op == SQLITE_INDEX_CONSTRAINT_EQ) {
      *unbound |= !c->usable;
      continue;
    }
    return vtab_error(vtab, "kafka: follow takes only `follow = <milliseconds>` (how long a scan "
                            "waits for new messages), not another comparison: it would match no rows");
  }
  return SQLITE_OK;
}

/* LIMIT and OFFSET go last in argv; SQLite still applies both itself
** (omit stays 0: SQLite 3.40 does not skip the OFFSET rows when a table
** omits it), the cursor only stops after LIMIT + OFFSET rows. */
int plan_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info) {
  int taken[info->nConstraint > 0 ? info->nConstraint : 1], follow_unbound;
  if (refuse_follow_constraint(vtab, info, &follow_unbound)) return SQLITE_ERROR;
  sqlite3_str *idx = sqlite3_str_new(NULL);
  int argc = 0, one_partition = 0, has_limit = 0, follow = 0;
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    const pushable *p = c->usable && !is_limit(c->op) ? find_pushable(c) : NULL;
    if (p && !text_pushable(vtab, info, i, p)) p = NULL;
    int argument = c->iColumn >= KAFKA_COL_TYPED + ((kafka_vtab *)vtab)->opts.n_columns;
    taken[i] = argument ? TAKEN : !p ? 0 : p->column == KAFKA_COL_KEY ? TAKEN_NARROWS : TAKEN;
    has_limit |= c->op == SQLITE_INDEX_CONSTRAINT_LIMIT && c->usable;
    if (!p) continue;
    int in = takes_in_list(info, i, p);
    one_partition |= p->column == KAFKA_COL_PARTITION && p->op == SQLITE_INDEX_CONSTRAINT_EQ && !in;
    follow |= p->column == KAFKA_COL_FOLLOW;
    info->aConstraintUsage[i].argvIndex = ++argc;
    info->aConstraintUsage[i].omit = p->column == KAFKA_COL_FOLLOW;
    sqlite3_str_appendf(idx, "%s%s", argc > 1 ? ", " : "", entry_text(p, in));
  }
  int can_limit = has_limit && all_taken(info, taken), order;
  info->orderByConsumed = order_consumed(vtab, info, one_partition, can_limit && !follow, &order);
  if (info->nOrderBy && !info->orderByConsumed) can_limit = 0;
  for (int i = 0; can_limit && i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (!c->usable || !is_limit(c->op)) continue;
    taken[i] = TAKEN;
    info->aConstraintUsage[i].argvIndex = ++argc;
    sqlite3_str_appendf(idx, "%s%s", argc > 1 ? ", " : "", find_pushable(c)->text);
  }
  info->idxNum = order;
  if (info->orderByConsumed)
    sqlite3_str_appendf(idx, "%s" ORDER_TEXT "%s%s", argc ? ", " : "",
                        info->aOrderBy[0].iColumn == ROWID_COLUMN ? "rowid" : "offset",
                        info->aOrderBy[0].desc ? " DESC" : "");
  double rows = estimate_rows(info, taken, order);
  info->estimatedRows = (sqlite3_int64)rows;
  info->estimatedCost = follow_unbound ? UNUSABLE_COST : rows + FILTER_COST_ROWS;
  if (follow_unbound) info->idxNum |= PLAN_FOLLOW_UNBOUND;
  info->idxStr = sqlite3_str_finish(idx);
  info->needToFreeIdxStr = 1;
  return info->idxStr || !(argc || info->orderByConsumed) ? SQLITE_OK : SQLITE_NOMEM;
}

int64_t plan_rowid(int32_t partition, int64_t offset) {
  return sat_add64(sat_mul64(offset, ROWID_PARTITIONS), partition);
}

/* The integers just at or below (*down) and at or above (*up) a numeric
** value; returns -1 when it is below every int64, 1 when above, else 0. */
static int integer_bracket(sqlite3_value *v, int type, sqlite3_int64 *down, sqlite3_int64 *up) {
  if (type == SQLITE_INTEGER) {
    *down = *up = sqlite3_value_int64(v);
    return 0;
  }
  double d = sqlite3_value_double(v);
  if (d >= 9223372036854775808.0) return 1;
  if (d < -9223372036854775808.0) return -1;
  *down = (sqlite3_int64)floor(d);
  *up = (sqlite3_int64)ceil(d);
  return 0;
}

/* Integer bounds lo <= x <= hi implied by `x op v`, following SQLite's
** comparison rules for an INTEGER column: text that looks numeric compares
** as a number, other text and blobs compare above every number, NULL never
** compares; a REAL compares exactly, also beyond the int64 range. Returns
** 0 when no row can match. */
static int narrow(int op, sqlite3_value *v, sqlite3_int64 *lo, sqlite3_int64 *hi) {
  int type = sqlite3_value_numeric_type(v);
  int below_all = op == SQLITE_INDEX_CONSTRAINT_LT || op == SQLITE_INDEX_CONSTRAINT_LE;
  if (type == SQLITE_NULL) return 0;
  if (type == SQLITE_TEXT || type == SQLITE_BLOB) return below_all;
  sqlite3_int64 down, up;
  int outside = integer_bracket(v, type, &down, &up);
  if (outside) return outside > 0 ? below_all : !below_all && op != SQLITE_INDEX_CONSTRAINT_EQ;
  switch (op) {
  case SQLITE_INDEX_CONSTRAINT_EQ:
    if (down != up) return 0;
    if (down > *lo) *lo = down;
    if (down < *hi) *hi = down;
    break;
  case SQLITE_INDEX_CONSTRAINT_GT: if (down == INT64_MAX) return 0; if (down + 1 > *lo) *lo = down + 1; break;
  case SQLITE_INDEX_CONSTRAINT_GE: if (up > *lo) *lo = up; break;
  case SQLITE_INDEX_CONSTRAINT_LT: if (up == INT64_MIN) return 0; if (up - 1 < *hi) *hi = up - 1; break;
  case SQLITE_INDEX_CONSTRAINT_LE: if (down < *hi) *hi = down; break;
  }
  return *lo <= *hi;
}

/* The first timestamp in [0, FORMAT_TIME_MAX_MS + 1] whose time text is
** above text[0..n-1] (strict) or at or above it, as SQLite's BINARY
** collation compares: bytes, then length. */
static int64_t first_time_from(const char *text, int n, int strict) {
  int64_t lo = 0, hi = FORMAT_TIME_MAX_MS + 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    char t[FORMAT_TIME_LEN + 1];
    format_iso_time(mid, t);
    int c = memcmp(t, text, (size_t)(n < FORMAT_TIME_LEN ? n : FORMAT_TIME_LEN));
    if (!c) c = FORMAT_TIME_LEN - n;
    if (strict ? c > 0 : c >= 0) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

static int is_ascii(const unsigned char *s, int n) {
  for (int i = 0; i < n; i++)
    if (s[i] >= 0x80) return 0;
  return 1;
}

/* Timestamp bounds lo <= ts <= hi implied by `time op v`. The time text
** grows with the timestamp, so the rows whose text passes the comparison
** are a range of timestamps, found by binary search: exact for text of
** any precision ('2026-12-07T07:00' is below '2026-12-07T07:00:00.000Z',
** and a row at that instant passes >= but not =). Only text is bounded:
** a number may meet the column as a number (an INTEGER column's value,
** below every text), and non-ASCII text compares in another order in a
** UTF-16 database. A row without a time (NULL) passes no comparison.
** Returns 0 when no row can match. */
static int narrow_time(int op, sqlite3_value *v, sqlite3_int64 *lo, sqlite3_int64 *hi) {
  int type = sqlite3_value_type(v);
  if (type == SQLITE_NULL) return 0;
  /* sqlite3_value_text() of a BLOB would mark the argument itself as
  ** text, and the next xFilter of an IN loop gets the same argument. */
  if (type != SQLITE_TEXT) return 1;
  const unsigned char *text = sqlite3_value_text(v);
  int n = sqlite3_value_bytes(v);
  if (!text || !is_ascii(text, n)) return 1;
  int ge = op == SQLITE_INDEX_CONSTRAINT_GE || op == SQLITE_INDEX_CONSTRAINT_EQ;
  int le = op == SQLITE_INDEX_CONSTRAINT_LE || op == SQLITE_INDEX_CONSTRAINT_EQ;
  sqlite3_int64 from = 0, to = FORMAT_TIME_MAX_MS;
  if (ge || op == SQLITE_INDEX_CONSTRAINT_GT) from = first_time_from((const char *)text, n, !ge);
  if (le || op == SQLITE_INDEX_CONSTRAINT_LT) to = first_time_from((const char *)text, n, le) - 1;
  if (from > *lo) *lo = from;
  if (to < *hi) *hi = to;
  return *lo <= *hi;
}

/* The int64 a value equals exactly (after numeric affinity), if any. */
static int exact_integer(sqlite3_value *v, sqlite3_int64 *out) {
  int type = sqlite3_value_numeric_type(v);
  sqlite3_int64 up;
  if (type != SQLITE_INTEGER && type != SQLITE_FLOAT) return 0;
  return !integer_bracket(v, type, out, &up) && *out == up;
}

/* The values of an IN list (argv of sqlite3_vtab_in) that are integers in
** [lo, hi] and, with keep, also in keep[0..n_keep-1] (a second IN list on
** the same column intersects the first). */
static int in_values(sqlite3_value *list, sqlite3_int64 lo, sqlite3_int64 hi, const int64_t *keep,
                     int n_keep, int64_t **out, int *n_out) {
  int64_t *values = NULL;
  int n = 0, rc;
  sqlite3_value *v;
  for (rc = sqlite3_vtab_in_first(list, &v); rc == SQLITE_OK && v; rc = sqlite3_vtab_in_next(list, &v)) {
    sqlite3_int64 x;
    if (!exact_integer(v, &x) || x < lo || x > hi) continue;
    int kept = !keep;
    for (int i = 0; i < n_keep && !kept; i++) kept = keep[i] == x;
    if (!kept) continue;
    int64_t *grown = sqlite3_realloc64(values, sizeof *grown * (n + 1));
    if (!grown) { rc = SQLITE_NOMEM; break; }
    values = grown;
    values[n++] = x;
  }
  *out = values;
  *n_out = n;
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Narrows the plan's partition list to an IN list's values. */
static int add_partitions_in(scan_plan *plan, sqlite3_value *list) {
  int64_t *values;
  int n;
  int rc = in_values(list, 0, INT32_MAX, plan->part_list, plan->n_part_list, &values, &n);
  sqlite3_free(plan->part_list);
  plan->part_list = values;
  plan->n_part_list = n;
  if (!n) plan->empty = 1;
  return rc;
}

static int by_int64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Narrows the plan's offsets to an IN list's values: sorted, distinct,
** and the offset bounds to their first and last. */
static int add_offsets_in(scan_plan *plan, sqlite3_value *list) {
  int64_t *values;
  int n;
  int rc = in_values(list, 0, INT64_MAX, plan->offset_list, plan->n_offset_list, &values, &n);
  if (n) qsort(values, (size_t)n, sizeof *values, by_int64);
  int distinct = 0;
  for (int i = 0; i < n; i++)
    if (!distinct || values[distinct - 1] != values[i]) values[distinct++] = values[i];
  sqlite3_free(plan->offset_list);
  plan->offset_list = values;
  plan->n_offset_list = distinct;
  if (!distinct) plan->empty = 1;
  else {
    if (values[0] > plan->offset_lo) plan->offset_lo = values[0];
    if (values[distinct - 1] < plan->offset_hi) plan->offset_hi = values[distinct - 1];
  }
  return rc;
}

/* What xFilter's arguments bound before they become the plan's fields. */
typedef struct filter_bounds {
  sqlite3_int64 part_lo, part_hi, ts_hi, rowid_lo, rowid_hi, limit, limit_extra;
} filter_bounds;

/* follow = <ms>: a whole number of milliseconds, 0 or more; anything else
** is an error (follow is not re-checked by SQLite: omit = 1). */
static int apply_follow(scan_plan *plan, sqlite3_value *v, char **err) {
  int type = sqlite3_value_numeric_type(v);
  sqlite3_int64 down = -1, up = 0;
  if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) integer_bracket(v, type, &down, &up);
  if (down == up && down >= 0) {
    plan->follow_ms = down;
    return SQLITE_OK;
  }
  *err = sqlite3_mprintf("kafka: follow = %s: follow must be a whole number of milliseconds, 0 or more",
                         type == SQLITE_NULL ? "NULL" : type == SQLITE_BLOB ? "a blob"
                                                      : (const char *)sqlite3_value_text(v));
  return SQLITE_ERROR;
}

/* Records the keys of the first `key =` / `key IN` entry (a later one can
** only narrow further, so skipping it reads more, never less); they become
** partitions once the topic's partition count is known (plan_narrow_by_keys). */
static int add_keys(scan_plan *plan, int in, sqlite3_value *arg) {
  if (plan->keys_given) return SQLITE_OK;
  plan->keys_given = 1;
  sqlite3_value *v = arg;
  int rc = in ? sqlite3_vtab_in_first(arg, &v) : SQLITE_OK;
  for (; rc == SQLITE_OK && v; rc = in ? sqlite3_vtab_in_next(arg, &v) : SQLITE_DONE) {
    if (sqlite3_value_type(v) == SQLITE_NULL) continue;
    sqlite3_value **grown = sqlite3_realloc64(plan->keys, sizeof *grown * (plan->n_keys + 1));
    if (!grown) return SQLITE_NOMEM;
    plan->keys = grown;
    if (!(plan->keys[plan->n_keys] = sqlite3_value_dup(v))) return SQLITE_NOMEM;
    plan->n_keys++;
  }
  if (!plan->n_keys) plan->empty = 1; /* = NULL, IN (NULL): no row */
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Applies one idxStr entry with its argv value to the plan. */
static int apply_entry(scan_plan *plan, const pushable *p, int in, sqlite3_value *v,
                       filter_bounds *b, char **err) {
  if (p->column == KAFKA_COL_KEY) return add_keys(plan, in, v);
  if (in) return p->column == KAFKA_COL_OFFSET ? add_offsets_in(plan, v) : add_partitions_in(plan, v);
  sqlite3_int64 ts_lo = plan->timestamp_lo;
  switch (p->column) {
  case KAFKA_COL_PARTITION: plan->empty |= !narrow(p->op, v, &b->part_lo, &b->part_hi); break;
  case ROWID_COLUMN: plan->empty |= !narrow(p->op, v, &b->rowid_lo, &b->rowid_hi); break;
  case KAFKA_COL_OFFSET: {
    sqlite3_int64 lo = plan->offset_lo, hi = plan->offset_hi;
    plan->empty |= !narrow(p->op, v, &lo, &hi);
    plan->offset_lo = lo;
    plan->offset_hi = hi;
    break;
  }
  case KAFKA_COL_TIMESTAMP:
    /* A message without a timestamp (-1, shown as NULL) matches no bound. */
    plan->empty |= !narrow(p->op, v, &ts_lo, &b->ts_hi);
    plan->timestamp_lo = ts_lo < 0 ? 0 : ts_lo;
    break;
  case KAFKA_COL_TIME:
    plan->empty |= !narrow_time(p->op, v, &ts_lo, &b->ts_hi);
    plan->timestamp_lo = ts_lo < 0 ? 0 : ts_lo;
    break;
  case KAFKA_COL_FOLLOW: return apply_follow(plan, v, err);
  default:
    if (p->op == SQLITE_INDEX_CONSTRAINT_LIMIT) b->limit = sqlite3_value_int64(v) >= 0 ? sqlite3_value_int64(v) : PLAN_NO_LIMIT;
    else b->limit_extra = sqlite3_value_int64(v) > 0 ? sqlite3_value_int64(v) : 0;
  }
  return SQLITE_OK;
}

/* Rowid bounds become offset bounds, and one rowid its partition too:
** plan_rowid() is offset-major and never decreases; rowid INT64_MAX also
** stands for every offset too large to have an exact rowid. */
static void apply_rowids(scan_plan *plan, filter_bounds *b) {
  if (b->rowid_hi < 0) plan->empty = 1;
  if (b->rowid_lo > 0 && b->rowid_lo / ROWID_PARTITIONS > plan->offset_lo)
    plan->offset_lo = b->rowid_lo / ROWID_PARTITIONS;
  if (b->rowid_hi >= 0 && b->rowid_hi < INT64_MAX && b->rowid_hi / ROWID_PARTITIONS < plan->offset_hi)
    plan->offset_hi = b->rowid_hi / ROWID_PARTITIONS;
  if (b->rowid_lo == b->rowid_hi && b->rowid_hi >= 0 && b->rowid_hi < INT64_MAX) {
    sqlite3_int64 p = b->rowid_hi % ROWID_PARTITIONS;
    if (p > b->part_lo) b->part_lo = p;
    if (p < b->part_hi) b->part_hi = p;
  }
}

static const pushable *pushable_by_text(const char *text, size_t len, int *in) {
  for (int i = 0; i < N_PUSHABLE; i++) {
    for (*in = 0; *in < 2; (*in)++) {
      const char *t = entry_text(&pushables[i], *in);
      if (strlen(t) == len && !strncmp(t, text, len)) return &pushables[i];
    }
  }
  return NULL;
}

/* The length of the idxStr entry at s, 0 at the end of the entries. */
static size_t entry_length(const char *s) {
  return *s && strncmp(s, ORDER_TEXT, strlen(ORDER_TEXT)) ? strcspn(s, ",") : 0;
}

/* The entry after the one of length len at s. */
static const char *next_entry(const char *s, size_t len) {
  for (s += len; *s == ',' || *s == ' ';) s++;
  return s;
}

int plan_argc(const char *idx_str) {
  int n = 0;
  size_t len;
  for (const char *s = idx_str ? idx_str : ""; (len = entry_length(s)); s = next_entry(s, len)) n++;
  return n;
}

int plan_from_filter(scan_plan *plan, int idx_num, const char *idx_str, int argc,
                     sqlite3_value **argv, char **err) {
  memset(plan, 0, sizeof *plan);
  plan->offset_hi = INT64_MAX;
  plan->timestamp_lo = -1;
  plan->follow_ms = -1;
  plan->order = idx_num & (PLAN_HEAD | PLAN_TAIL);
  if (idx_num & PLAN_FOLLOW_UNBOUND) {
    *err = sqlite3_mprintf("kafka: follow = <ms> must have its value when the scan starts (a "
                           "constant, a parameter, or a column of a table read before this one), "
                           "not one SQLite reads after it: it would match no rows");
    return SQLITE_ERROR;
  }
  filter_bounds b = {0, INT32_MAX, INT64_MAX, INT64_MIN, INT64_MAX, PLAN_NO_LIMIT, 0};
  const char *s = idx_str ? idx_str : "";
  size_t len;
  for (int arg = 0; (len = entry_length(s)); arg++) {
    int in;
    const pushable *p = pushable_by_text(s, len, &in);
    if (!p || arg >= argc) {
      *err = sqlite3_mprintf("kafka: internal error: bad plan '%s'", idx_str);
      return SQLITE_ERROR;
    }
    int rc = apply_entry(plan, p, in, argv[arg], &b, err);
    if (rc) return rc;
    s = next_entry(s, len);
  }
  apply_rowids(plan, &b);
  plan->rowid_lo = b.rowid_lo;
  plan->rowid_hi = b.rowid_hi;
  plan->limit = b.limit == PLAN_NO_LIMIT ? PLAN_NO_LIMIT : sat_add64(b.limit, b.limit_extra);
  plan->timestamp_hi = b.ts_hi;
  if (b.part_lo > b.part_hi) plan->empty = 1;
  plan->part_lo = (int32_t)(plan->empty ? 0 : b.part_lo);
  plan->part_hi = (int32_t)(plan->empty ? 0 : b.part_hi);
  return SQLITE_OK;
}

int plan_wants_row(const scan_plan *plan, int32_t partition, int64_t offset, int64_t ts) {
  int64_t rowid = plan_rowid(partition, offset);
  if (plan->offset_list &&
      !bsearch(&offset, plan->offset_list, (size_t)plan->n_offset_list, sizeof offset, by_int64))
    return 0;
  return ts >= plan->timestamp_lo && ts <= plan->timestamp_hi && rowid >= plan->rowid_lo &&
         rowid <= plan->rowid_hi;
}

int64_t plan_next_offset(const scan_plan *plan, int64_t offset) {
  int lo = 0, hi = plan->n_offset_list; /* the first listed offset > offset is in [lo, hi] */
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (plan->offset_list[mid] <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo < plan->n_offset_list ? plan->offset_list[lo] : -1;
}

static int list_has(const int64_t *list, int n, int64_t p) {
  for (int i = 0; i < n; i++)
    if (list[i] == p) return 1;
  return 0;
}

int plan_wants_partition(const scan_plan *plan, int32_t p) {
  if (p < plan->part_lo || p > plan->part_hi) return 0;
  return !plan->part_list || list_has(plan->part_list, plan->n_part_list, p);
}

/* The bytes a key compares as: a blob's own; any other value's text, as
** SQLite compares a TEXT key column (key = 42 is key = '42'). */
static const void *key_bytes(sqlite3_value *v, size_t *len) {
  const void *bytes = sqlite3_value_type(v) == SQLITE_BLOB ? sqlite3_value_blob(v)
                                                          : (const void *)sqlite3_value_text(v);
  *len = (size_t)sqlite3_value_bytes(v);
  return bytes;
}

int plan_narrow_by_keys(scan_plan *plan, kafka_partitioner partitioner, int32_t partition_cnt) {
  if (!plan->n_keys) return SQLITE_OK;
  int64_t *wanted = sqlite3_malloc64(sizeof *wanted * plan->n_keys);
  if (!wanted) return SQLITE_NOMEM;
  int n = 0;
  for (int i = 0; i < plan->n_keys; i++) {
    size_t len;
    const void *bytes = key_bytes(plan->keys[i], &len);
    int32_t p = partitioner_partition(partitioner, bytes, len, partition_cnt);
    if (p < 0) { /* an empty key: it may be in any partition */
      sqlite3_free(wanted);
      return SQLITE_OK;
    }
    if (!list_has(wanted, n, p) && (!plan->part_list || list_has(plan->part_list, plan->n_part_list, p)))
      wanted[n++] = p;
  }
  sqlite3_free(plan->part_list);
  plan->part_list = wanted; /* never NULL: n may be 0, reading nothing */
  plan->n_part_list = n;
  return SQLITE_OK;
}

void plan_free(scan_plan *plan) {
  sqlite3_free(plan->part_list);
  sqlite3_free(plan->offset_list);
  plan->part_list = NULL;
  plan->offset_list = NULL;
  for (int i = 0; i < plan->n_keys; i++) sqlite3_value_free(plan->keys[i]);
  sqlite3_free(plan->keys);
  plan->keys = NULL;
  plan->n_keys = 0;
}
