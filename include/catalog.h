/*
** sqlite-kafka: the catalog layer (ext/catalog/): catalog tables, admin, operations, ACLs, configs, group operations, the registry catalog.
**
** One header per layer; a layer includes the header of the layer below it
** and never one above (tests/test_layers.py checks it).
*/
#ifndef KAFKA_CATALOG_H
#define KAFKA_CATALOG_H

#include "client.h"

/* ==== catalog ==== */
/*
** The cluster catalog (ext/catalog/catalog.c): kafka_topics, kafka_partitions,
** kafka_groups and kafka_group_offsets, eponymous-only virtual tables used
** as table-valued functions; and the machinery other files use to add
** tables of the same kind (ext/catalog/acl.c, ext/catalog/configs.c), over a cluster or
** over another source (ext/catalog/registry_catalog.c: a Schema Registry).
*/

typedef struct catalog_cell {
  int type; /* SQLITE_NULL, SQLITE_INTEGER or SQLITE_TEXT */
  sqlite3_int64 i;
  char *text;
} catalog_cell;

/* The rows of one call, row after row, n_columns cells each. */
typedef struct catalog_rows {
  int n_columns;
  catalog_cell *cells;
  int n_cells, n_alloc;
  int nomem;
} catalog_rows;

/* What a table's fill function works with. */
typedef struct catalog_call {
  const char *func;
  kafka_client *client;
  const kafka_options *opts;
  const char *arg; /* the argument after brokers as text, NULL for none */
  catalog_rows *rows;
  const char *arg2; /* the second argument after brokers as text, NULL for none */
} catalog_call;

/* How a table takes the argument after brokers. */
enum catalog_arg_kind {
  CATALOG_ARG_TEXT = 0,     /* a required non-empty text */
  CATALOG_ARG_OPTIONAL,     /* a text or NULL (absent: call->arg is NULL) */
  CATALOG_ARG_INTEGER       /* a required integer (call->arg is its text) */
};

typedef struct catalog_table {
  const char *name;
  const char *columns; /* the visible columns of the schema */
  int n_columns;
  const char *arg;     /* the argument after brokers, or NULL */
  int (*fill)(catalog_call *call, char **err);
  enum catalog_arg_kind arg_kind;
} catalog_table;

/* A table with a second required argument after arg, an integer or a
** text (call->arg2: its text), such as a time. */
typedef struct catalog_arg2_table {
  catalog_table table; /* must come first */
  const char *arg2;
} catalog_arg2_table;

/* A table over another source than a cluster: its first argument, named
** `source`, is the value of option `option` (a Schema Registry URL for
** schema_registry), which the fill reads in call->opts. No options
** argument and no client (call->client is NULL); the source argument never
** reads back (it may hold credentials). */
typedef struct catalog_source_table {
  catalog_table table; /* must come first */
  const char *source;
  const char *option;
} catalog_source_table;

/* Appending cells to the current row: an integer; an integer where v < 0
** (no such offset or broker) is NULL; text made by sqlite3_mprintf()
** (taken); text (copied); broker ids as a JSON array [1,2,3]. */
void catalog_put_int(catalog_rows *rows, sqlite3_int64 v);
void catalog_put_known(catalog_rows *rows, sqlite3_int64 v);
void catalog_put_owned(catalog_rows *rows, char *text);
void catalog_put_text(catalog_rows *rows, const char *text);
void catalog_put_ids(catalog_rows *rows, const int32_t *ids, int n);

/* Metadata of one topic, or of every topic when topic is NULL, within
** timeout_ms; *md is released with rd_kafka_metadata_destroy(). */
int catalog_metadata(catalog_call *call, const char *topic, const struct rd_kafka_metadata **md,
                     char **err);

/* The number of partitions of topic, or an error naming it ("func: topic
** 'x' does not exist on brokers '...'"). */
int catalog_topic_partitions(catalog_call *call, const char *topic, int *n, char **err);

/* The committed offsets (ListConsumerGroupOffsets) of the group named by
** call->arg: of every partition it committed, or of those in `only`. */
int catalog_committed_offsets(catalog_call *call, const rd_kafka_topic_partition_list_t *only,
                              rd_kafka_topic_partition_list_t **out, char **err);

/* Registers n tables (static storage) on db. */
int catalog_register_tables(sqlite3 *db, const catalog_table *tables, size_t n);
int catalog_register_source_tables(sqlite3 *db, const catalog_source_table *tables, size_t n);
int catalog_register_arg2_tables(sqlite3 *db, const catalog_arg2_table *tables, size_t n);

/* Registers the catalog tables on db. */
int catalog_register(sqlite3 *db);

/* ==== admin ==== */
/*
** Admin functions (ext/catalog/admin.c): kafka_create_topic() and
** kafka_delete_topic(); the `options` argument they share with the catalog
** tables; and what every admin function uses (ext/catalog/ops.c and friends):
** argument checks, one call's client, one bounded Admin API request.
*/

/* Registers the admin functions on db. */
int admin_register(sqlite3 *db);

/* Registers func, a function that changes the cluster or the registry,
** as name (static text) taking min_args to max_args arguments,
** SQLITE_DIRECTONLY (no view or trigger may call it) and refused on a
** read-only connection (connection_read_only()). */
int admin_define(sqlite3 *db, const char *name, int min_args, int max_args,
                 void (*func)(sqlite3_context *, int, sqlite3_value **));

/* The options of a call that is not a table (an admin function or a
** catalog table): brokers, then text (NULL for none), `name=value` items
** separated by commas outside quotes, of which only timeout_ms, config and
** rdkafka.<property> are accepted. func names the call in errors. *opts
** must be released with options_free() either way. */
int admin_options(kafka_options *opts, const char *func, const char *brokers, const char *text,
                  char **err);

/* Splits options text in place on the commas outside quotes; empty items
** are dropped. Returns the number of items stored in items (at most max). */
int admin_split_items(char *text, char **items, int max);

/* Sets err (or "out of memory" when NULL) as the call's error; frees it. */
void admin_result_error(sqlite3_context *ctx, char *err);

/* Sets the error "func: name must be what". */
void admin_arg_error(sqlite3_context *ctx, const char *func, const char *name, const char *what);

/* A required non-empty text argument, or NULL after setting an error. */
const char *admin_text_arg(sqlite3_context *ctx, sqlite3_value *v, const char *func, const char *name);

/* Optional text argument i: *out is NULL when it is absent or NULL.
** Returns 0 after setting an error when it is not text. */
int admin_optional_text(sqlite3_context *ctx, int argc, sqlite3_value **argv, int i, const char *func,
                        const char *name, const char **out);

/* Integer argument i in [min, max]. An absent or NULL optional one keeps
** *out's default. Returns 0 after setting an error. */
int admin_int_arg(sqlite3_context *ctx, int argc, sqlite3_value **argv, int i, const char *func,
                  const char *name, int min, int max, int optional, int *out);

/* What an admin function does with its client: sets the result on
** success; returns an SQLite code with *err set on failure. */
typedef int admin_op(sqlite3_context *ctx, kafka_client *client, const kafka_options *opts, void *arg,
                     char **err);

/* Runs op with a client for brokers and options (offsets as high
** watermarks, read_uncommitted, as Kafka's tools use), setting the error
** when it fails. mock_lacks: NULL, or the request the mock cluster lacks,
** refused at once on `mock` brokers. */
void admin_run(sqlite3_context *ctx, const char *func, const char *brokers, const char *options,
               const char *mock_lacks, admin_op *op, void *arg);

/* Starts an Admin API request on rk whose result goes to queue. */
typedef client_admin_start admin_start;

/* The message of a failed request or of one item of its result: "no
** answer from brokers ... within timeout_ms" when e is a timeout or lost
** connection, else "func: what: why" (why NULL: e's description). */
char *admin_error(kafka_client *client, const kafka_options *opts, const char *func, const char *what,
                  rd_kafka_resp_err_t e, const char *why);

/* One Admin API request of type op, bounded by timeout_ms: *ev is its
** result event (the caller destroys it), or SQLITE_ERROR with *err saying
** "func: what: why" (the request's own error or no answer in time). */
int admin_request(kafka_client *client, const kafka_options *opts, rd_kafka_admin_op_t op,
                  const char *func, const char *what, admin_start *start, void *arg,
                  rd_kafka_event_t **ev, char **err);

/* ==== messages ==== */
/*
** kafka_messages(brokers, topic [, options]) (ext/catalog/messages.c): a
** topic read as a kafka table reads it, without CREATE.
*/

/* Registers the kafka_messages table-valued function on db. */
int messages_register(sqlite3 *db);

/* The error of a group in a result ("func: group 'g': ..."; a timeout said
** as such). */
char *admin_group_error(kafka_client *client, const kafka_options *opts, const char *func,
                        const char *group, rd_kafka_resp_err_t e, const char *why);

/* SQLITE_OK when the group exists on the cluster (DescribeConsumerGroups;
** a Dead group does not); otherwise SQLITE_ERROR with *err saying "func:
** group 'g' does not exist on brokers '...'", as Kafka's tools say it, or
** why the cluster could not tell. A real cluster only: the mock has no
** DescribeGroups. */
int admin_require_group(kafka_client *client, const kafka_options *opts, const char *func,
                        const char *group, char **err);

/* The group's description (owned by *ev, which the caller destroys); a
** group that does not exist is an error that says so, or with missing_ok
** *out NULL. */
int admin_describe_group(kafka_client *client, const kafka_options *opts, const char *func,
                         const char *group, int missing_ok, rd_kafka_event_t **ev,
                         const rd_kafka_ConsumerGroupDescription_t **out, char **err);

/* ==== configs ==== */
/*
** Topic and broker configs (ext/catalog/configs.c): the kafka_topic_configs and
** kafka_broker_configs tables and kafka_alter_topic(), through
** DescribeConfigs and AlterConfigs.
*/

/* The tables kafka_topic_configs(brokers, topic) and
** kafka_broker_configs(brokers, id), for catalog_register_tables(). */
extern const catalog_table configs_tables[2];

/* Registers kafka_alter_topic() on db. */
int configs_register(sqlite3 *db);

/* The value of config on broker id (NULL: none, or not answered;
** sqlite3_free it), e.g. its broker.rack. */
char *configs_broker_value(catalog_call *call, int32_t id, const char *config);

/* ==== acl ==== */
/*
** ACLs (ext/catalog/acl.c): the kafka_acls table, kafka_create_acl() and
** kafka_delete_acl(), through DescribeAcls, CreateAcls and DeleteAcls.
*/

/* Registers the ACL functions and the kafka_acls table on db. */
int acl_register(sqlite3 *db);

/* ==== group_ops ==== */
/*
** Consumer group operations (ext/catalog/group_ops.c): the kafka_group_members
** table, kafka_reset_group() and kafka_delete_group().
*/

/* Registers the group functions and the kafka_group_members table on db. */
int group_ops_register(sqlite3 *db);

/* ==== ops ==== */
/*
** Operating a cluster from SQL (ext/catalog/ops.c): kafka_brokers,
** kafka_add_partitions() and kafka_delete_records(); and the registration
** of every operations function and table (configs.c, group_ops.c, acl.c).
*/

/* Registers the operations functions and tables on db. */
int ops_register(sqlite3 *db);

/* ==== registry_catalog ==== */
/*
** The Schema Registry catalog (ext/catalog/registry_catalog.c): kafka_subjects,
** kafka_schemas and kafka_register_schema.
*/

/* Registers the registry catalog tables and function on db. */
int registry_catalog_register(sqlite3 *db);

#endif
