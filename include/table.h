/*
** sqlite-kafka: the table layer (ext/table/): the `kafka` module: planning, scanning, groups, transactions, producing, registry schemas.
**
** One header per layer; a layer includes the header of the layer below it
** and never one above (tests/test_layers.py checks it).
*/
#ifndef KAFKA_TABLE_H
#define KAFKA_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "codec.h"

/* ==== the table (ext/table/module.c) ==== */
/*
** One sqlite3_vtab struct (kafka_vtab) for the `kafka` module; its cursor
** (kafka_cursor) is scan.c's.
*/
struct kafka_producer;
struct kafka_client;
struct txn_coord;
struct table_schemas;
struct producer_member;
typedef struct group_member group_member;

/* The tables of a connection with transactional_id that have a producer
** (produce.c): another table on the same cluster naming the same
** transactional_id shares it, so that one SQLite transaction over them is
** one Kafka transaction. */
typedef struct producer_registry {
  struct producer_member *members;
} producer_registry;

typedef struct kafka_vtab {
  sqlite3_vtab base;               /* must come first */
  sqlite3 *db;
  kafka_options opts;
  struct kafka_producer *producer; /* created on the first INSERT */
  struct kafka_client *idle;       /* a consumer kept for the next scan */
  struct kafka_client *idle_point; /* one kept for positioned reads (scan.c) */
  struct group_member *member;     /* its membership of the group, once joined (member.c) */
  int prefetch_partitions;         /* the topic's partitions at connect: sizes a scan's prefetch */
  struct txn_coord *txn;           /* the connection's transaction coordinator */
  producer_registry *producers;    /* the connection's shared producers (produce.c) */
  struct table_schemas *schemas;   /* registry formats (schemas.c), or NULL */
  struct group_state *open_groups; /* group mode: its open cursors' states, newest first (group.c) */
  char *db_name, *table_name;      /* where the table is (its shadow table's place) */
  char *cluster_id;                /* the cluster's id, once a client learned it (txn.c) */
} kafka_vtab;

/* Registers the `kafka` module on db, with the connection's transaction
** coordinator as its client data. */
int module_register(sqlite3 *db);

/* A table that no schema declares, for reading only: what the
** table-valued function kafka_messages (ext/catalog/messages.c) scans
** with the scan_* methods, a cursor's pVtab set to it. Takes opts (also
** when out of memory: then NULL). */
kafka_vtab *module_table_new(sqlite3 *db, kafka_options *opts);
void module_table_free(kafka_vtab *vtab);

/* ==== cluster ==== */
/*
** Which cluster a table is on (ext/table/cluster.c).
*/

/* Learns the table's cluster id from a client of it (once; bounded). */
void cluster_learn(kafka_vtab *vtab, kafka_client *client);

/* Non-zero when two tables are on one cluster: the same cluster id, or,
** until both are known (or a cluster has none, as the mock), the same
** brokers text. */
int cluster_same(const kafka_vtab *a, const kafka_vtab *b);

/* ==== member ==== */
/*
** A group table's membership of its group (ext/table/member.c): the fence
** of an exactly-once pipeline.
*/

/* Joins the table's group (once; the member stays until the table goes)
** and waits, bounded by timeout_ms and interruptible, for its assignment:
** any (join = 1: partitions < 0), or all `partitions` of the topic (the
** fence of a pipeline without join). A member that never held them all and
** is given only some yields: an error, and it leaves the group. */
int member_wait(kafka_vtab *vtab, int partitions, sqlite3_stmt *interrupt_probe, char **err);

/* The member's assignment now (NULL: not joined); the caller destroys it. */
rd_kafka_topic_partition_list_t *member_assignment(const kafka_vtab *vtab);

/* A copy of a position without the partitions a join = 1 table's member no
** longer owns (a revoked partition's position is its new owner's). */
rd_kafka_topic_partition_list_t *member_owned(const kafka_vtab *vtab, const rd_kafka_topic_partition_list_t *list);

/* The group metadata its Kafka transaction's offsets carry: the member's
** (generation and member id: the broker refuses them after a rebalance),
** or, for a table that never joined, the group id alone. */
rd_kafka_consumer_group_metadata_t *member_metadata(const kafka_vtab *vtab);

/* The member's consumer (NULL: not joined): a group commit goes through it
** (a group with members refuses a commit from outside it). */
kafka_client *member_client(const kafka_vtab *vtab);

/* Non-zero for the broker's answers that refuse a member's offsets: it is
** no longer the member it was (a rebalance, a broker that forgot it). */
int member_refused(rd_kafka_resp_err_t e);

/* Leaves the group (bounded), if joined. */
void member_leave(kafka_vtab *vtab);

/* ==== partitioner ==== */
/*
** Which partition a key was written to (ext/table/partitioner.c): librdkafka's
** own partitioner functions, for the `partitioner` table option.
*/

/* The partition a producer using `partitioner` chose for key (len bytes)
** in a topic of partition_cnt partitions, or -1 when it may have chosen
** any: an empty key (and a NULL one, which callers never pass) goes to a
** random or sticky partition under librdkafka's partitioners. */
int32_t partitioner_partition(kafka_partitioner partitioner, const void *key, size_t len,
                              int32_t partition_cnt);

/* ==== plan ==== */
/*
** Query planning (ext/table/plan.c): which predicates xBestIndex pushes down to
** Kafka, and the scan_plan xFilter rebuilds from them.
*/

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

/* xBestIndex of the `kafka` module. A constraint on a column past the
** table's (typed) columns is a table-valued function's argument: taken by
** the function's xBestIndex, so counted as taken here. */
int plan_best_index(sqlite3_vtab *vtab, sqlite3_index_info *info);

/* The number of xFilter arguments the plan's idxStr entries take: a
** table-valued function's own arguments follow them (argvIndex after
** plan_best_index's, omitted). */
int plan_argc(const char *idx_str);

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

/* ==== scan ==== */
/*
** Scanning (ext/table/scan.c): the `kafka` module's cursor, reading partitions
** through a librdkafka consumer.
*/

/* One partition of a scan: what it reads and how far it got. */
typedef struct partition_scan {
  int32_t partition;
  int64_t start;  /* first offset to read */
  int64_t end;    /* offset to stop before; INT64_MAX when following */
  int64_t stop;   /* offset IN: where the partition's last run must end */
  int64_t next;   /* offset after the last message read; -1 before any */
  int done;
} partition_scan;

int scan_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **cursor);
int scan_close(sqlite3_vtab_cursor *cursor);
int scan_filter(sqlite3_vtab_cursor *cursor, int idx_num, const char *idx_str, int argc,
                sqlite3_value **argv);
int scan_next(sqlite3_vtab_cursor *cursor);
int scan_eof(sqlite3_vtab_cursor *cursor);
int scan_column(sqlite3_vtab_cursor *cursor, sqlite3_context *ctx, int column);
int scan_rowid(sqlite3_vtab_cursor *cursor, sqlite3_int64 *rowid);

/* Releases the table's idle consumer (at disconnect). */
void scan_release_idle(kafka_vtab *vtab);

/* ==== progress ==== */
/*
** A long scan's progress line in the interactive sqlite3 shell
** (ext/table/progress.c).
*/

typedef struct scan_progress {
  int on;
  int shown;            /* the line is on the screen */
  const char *topic;    /* the table's (borrowed) */
  int64_t total, read;  /* messages to read, and read so far */
  long long started, drawn; /* client_now_ms() of the start and the last line */
  int watch_output;     /* stop when the shell prints (see progress.c) */
  long long written, writes; /* this thread's bytes and write calls at the last look */
} scan_progress;

/* A scan starts that reads total messages (0: unknown, no line: follow
** mode, head and tail windows). */
void progress_start(scan_progress *p, const kafka_options *opts, int64_t total);

/* n more messages were read: draws the line when it is due. */
void progress_add(scan_progress *p, int64_t n);

/* The scan ended: erases the line. */
void progress_end(scan_progress *p);

/* ==== schemas ==== */
/*
** A table's registry schemas (ext/table/schemas.c): what CREATE learns from the
** Schema Registry (the value subject's typed columns, kept in the table's
** shadow table <name>_registry so that reopening the database does not
** need the registry), the writer schemas of messages (fetched by id and
** cached for the process: ids are immutable), and the framed encoding and
** decoding of keys and values in the codec formats (include/codec.h).
*/

/* The shadow table's name suffix: <table>_registry. */
#define SCHEMAS_SHADOW "registry"

/* xCreate: registers value_schema, checks the subjects, learns the typed
** columns when none are declared and stores them in the shadow table. */
int schemas_create(kafka_vtab *vtab, const char *db, const char *table, char **err);

/* A table without a shadow table (kafka_messages' table, which only
** reads): the plain sides' schemas read as CREATE reads them (a file or
** an option's text), each time it is made. */
int schemas_reader(kafka_vtab *vtab, char **err);

/* xConnect: the typed columns CREATE learned, from the shadow table. */
int schemas_connect(kafka_vtab *vtab, const char *db, const char *table, char **err);

/* xDestroy: drops the shadow table. */
int schemas_destroy(kafka_vtab *vtab, const char *db, const char *table);

/* xRename: renames the shadow table with its table. */
int schemas_rename(kafka_vtab *vtab, const char *new_name);

/* Non-zero when a table name suffix is the shadow table's (xShadowName). */
int schemas_shadow_name(const char *suffix);

/* Decodes a framed key (key != 0) or value into JSON text (*json,
** sqlite3_malloc'd) and its schema id. On failure returns SQLITE_ERROR
** with *why (sqlite3_mprintf) saying why, with the schema id when known. */
int schemas_decode(kafka_vtab *vtab, int key, const void *data, size_t len, char **json,
                   int32_t *id, char **why);

/* Decodes a framed value straight into the typed columns the statement
** wants (codec decode_columns: opts.columns, wanted and out as there).
** SQLITE_NOTFOUND when its codec cannot (no decode_columns, or these
** columns); on failure SQLITE_ERROR with *why as schemas_decode says it. */
int schemas_decode_columns(kafka_vtab *vtab, const void *data, size_t len,
                           const unsigned char *wanted, sql_value *out, char **why);

/* Encodes JSON text as a framed key or value (*out, sqlite3_malloc'd)
** with the subject's latest schema (value_schema_id, or the schema
** registered at CREATE, when given). */
int schemas_encode(kafka_vtab *vtab, int key, const char *json, size_t len, void **out,
                   size_t *out_len, char **err);

/* Encodes an INSERT's typed columns (values[i] for the table's column i)
** as a framed value: straight from the columns when the codec can, else
** through the JSON they compose. */
int schemas_encode_columns(kafka_vtab *vtab, sqlite3_value **values, void **out, size_t *out_len,
                           char **err);

/* The schema id of a framed value: 0, or -1 when it has none (not in the
** wire format, or a plain value: SPEC section 13). */
int schemas_schema_id(kafka_vtab *vtab, const void *data, size_t len, int32_t *id);

/* Releases the table's state (at disconnect). */
void schemas_free(kafka_vtab *vtab);

/* ==== txn ==== */
/*
** The transaction coordinator (ext/table/txn.c): the one place that decides
** when a group table's position commits. The module's transaction methods,
** the group scans and the cursors' closes report to it; it calls group.c
** and produce.c, which never call it back (see txn.c for the rules).
*/

typedef struct txn_coord txn_coord;

/* One per connection: the `kafka` module's client data. */
txn_coord *txn_coord_new(sqlite3 *db);
void txn_coord_free(void *coord);

/* Registers kafka_commit(table) on db, with coord. */
int txn_register_functions(sqlite3 *db, txn_coord *coord);

/* A group table of the connection (its positions are kept by name for
** kafka_commit); at disconnect, txn_forget drops its positions. */
int txn_table_attach(txn_coord *coord, kafka_vtab *vtab);
void txn_forget(txn_coord *coord, kafka_vtab *vtab);

/* Commits the positions of the connection's transactions that have
** committed since (a catalog function calls it before it reads offsets). */
void txn_settle_connection(sqlite3 *db);

/* How a statement reads a group table: writing (the transaction decides),
** a SELECT that hands the rows straight to its caller (direct: its position
** commits as a statement that writes would), any other SELECT (held: for
** kafka_commit). */
enum { TXN_READ_WRITES = 1, TXN_READ_DIRECT, TXN_READ_HELD,
       TXN_READ_PARTIAL /* writes with OR FAIL: refused */ };

/* At a group cursor's first scan, with the scan's consumer: refuses a read
** the coordinator cannot account for (with an error that names the way
** that works), starts a transactional output's producer, and says how the
** statement reads (*kind, TXN_READ_...). */
int txn_group_scan(txn_coord *coord, kafka_vtab *group, kafka_client *consumer, int *kind, char **err);

/* Non-zero when the group's offsets go into a Kafka transaction of the
** open transaction: a scan SQLite stopped early counts as complete. */
int txn_group_sink(txn_coord *coord, const kafka_vtab *group);

/* Non-zero when a group read now waits for a transaction (an explicit one,
** or the autocommit one of a statement that writes). */
int txn_open(txn_coord *coord);

/* At a group cursor's close: the position it delivered (list, owned from
** now on): committed now, held for kafka_commit, or kept until its
** transaction commits (then committed, or sent with a transactional
** table's offsets) or rolls back, or its savepoint does (then dropped).
** starts (owned from now on, may be NULL): where its scans started. */
void txn_group_read(txn_coord *coord, kafka_vtab *group, rd_kafka_topic_partition_list_t *list,
                    rd_kafka_topic_partition_list_t *starts, int kind);

/* The `kafka` module's xBegin, xSync, xCommit, xRollback, xSavepoint,
** xRelease and xRollbackTo. */
int txn_begin(sqlite3_vtab *vtab);
int txn_sync(sqlite3_vtab *vtab);
int txn_commit(sqlite3_vtab *vtab);
int txn_rollback(sqlite3_vtab *vtab);
int txn_savepoint(sqlite3_vtab *vtab, int i);
int txn_release(sqlite3_vtab *vtab, int i);
int txn_rollback_to(sqlite3_vtab *vtab, int i);

/* The connection's producer registry (kept here, used by produce.c). */
producer_registry *txn_producers(txn_coord *coord);

/* ==== produce ==== */
/*
** Producing (ext/table/produce.c): INSERT as acknowledged production, and SQLite
** transactions as Kafka transactions with `transactional_id`.
*/

/* xUpdate: INSERT produces one message; UPDATE and DELETE are refused. */
int produce_update(sqlite3_vtab *vtab, int argc, sqlite3_value **argv, sqlite3_int64 *rowid);

/* Creates the table's producer now if it has none: with transactional_id,
** init_transactions fences an earlier producer with the same id and aborts
** its open transaction. */
int produce_start(kafka_vtab *vtab, char **err);

/* Awaits the deliveries of everything produced since the transaction
** began (bounded); an error when one failed. */
int produce_await(kafka_vtab *vtab, char **err);

/* Puts a group table's offsets (list: the position to commit) into the
** table's Kafka transaction, beginning it when needed (transactional_id
** only), with the group's metadata (member_metadata). */
int produce_send_offsets(kafka_vtab *vtab, const kafka_vtab *group_table, const rd_kafka_topic_partition_list_t *list,
                         char **err);

/* Non-zero while the table's Kafka transaction is open. */
int produce_in_transaction(const kafka_vtab *vtab);

/* Commits the table's Kafka transaction (none open: nothing to do). */
int produce_commit_transaction(kafka_vtab *vtab, char **err);

/* The transaction is over (committed): the counts start again. */
void produce_transaction_end(kafka_vtab *vtab);

/* Rolled back: the Kafka transaction is aborted; without one, what was
** produced cannot be taken back and its delivery is awaited. */
void produce_rollback_transaction(kafka_vtab *vtab);

/* Savepoint i begins, is released, is rolled back to. Rolling back to a
** savepoint over messages produced in a Kafka transaction aborts it. */
int produce_savepoint(kafka_vtab *vtab, int i);
int produce_release(kafka_vtab *vtab, int i);
int produce_rollback_to(kafka_vtab *vtab, int i);

/* Flushes (bounded) and destroys the table's producer, at disconnect. */
void produce_close(kafka_vtab *vtab);

/* ==== group ==== */
/*
** Consumer-group mode (ext/table/group.c): where a group's scan starts, and the
** commit of its position once the statement that read it has succeeded.
*/

/* A cursor's group position across the scans of its statement (a join's
** inner loop rescans): where each partition started at the first scan, so
** that every rescan starts there too, and how far the scans delivered. */
typedef struct group_state {
  rd_kafka_topic_partition_list_t *starts;  /* committed offset, or low/high per `start` */
  rd_kafka_topic_partition_list_t *reached; /* the position to commit */
  int complete;                             /* the last scan delivered all it read */
  int read_kind;                            /* how its statement reads (TXN_READ_..., txn.c) */
  struct group_state *next_open;            /* the next older open cursor of the table */
} group_state;

/* At cursor open: the cursor's state joins the table's open ones (a cursor
** that closes while another is open hands its position over, see group.c). */
void group_open(kafka_vtab *vtab, group_state *gs);

/* Moves each partition's start up to the group's start: its committed
** offset (asked at the cursor's first scan of the partition), or low/high
** (option start) where it has none or it lies outside [low, high]. */
int group_starts(kafka_client *consumer, const kafka_options *opts, group_state *gs,
                 partition_scan *parts, int n, const int64_t *low, const int64_t *high,
                 char **err);

/* Records the end of one scan: complete when it reached its end or LIMIT. */
void group_scan_end(group_state *gs, const kafka_options *opts, const partition_scan *parts, int n,
                    int complete);

/* At cursor close: the position to report (the caller's, NULL: none),
** when the last scan was complete (or complete_anyway: a Kafka transaction
** takes the offsets) and the statement was not interrupted. With
** hand_over (a statement that writes nothing), a cursor that closes while
** another of the table is open hands it its position instead: a writing
** statement's position must not go to another statement. *starts gets
** the offsets the cursor's scans started from with the position (the
** caller's; NULL without one). Then frees the state. */
rd_kafka_topic_partition_list_t *group_close(group_state *gs, kafka_vtab *vtab, int interrupted,
                                             int complete_anyway, int hand_over,
                                             rd_kafka_topic_partition_list_t **starts);

/* Raises *into (created when NULL) to every partition's offset in from. */
void group_position_merge(rd_kafka_topic_partition_list_t **into, const rd_kafka_topic_partition_list_t *from);

/* Raises the offset of each partition of list that floor names to at
** least floor's; adds none. */
void group_position_floor(rd_kafka_topic_partition_list_t *list, const rd_kafka_topic_partition_list_t *floor);

/* Commits list as the group's position, with the table's idle consumer or
** a new one (bounded by timeout_ms). */
int group_commit(kafka_vtab *vtab, const rd_kafka_topic_partition_list_t *list, char **err);

#endif
