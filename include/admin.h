/*
** Admin functions (ext/admin.c): kafka_create_topic() and
** kafka_delete_topic(); the `options` argument they share with the catalog
** tables; and what every admin function uses (ext/ops.c and friends):
** argument checks, one call's client, one bounded Admin API request.
*/
#ifndef KAFKA_ADMIN_H
#define KAFKA_ADMIN_H

#include "kafka_ext.h"
#include "client.h"

/* Registers the admin functions on db. */
int admin_register(sqlite3 *db);

/* Registers func as name taking min_args to max_args arguments,
** SQLITE_DIRECTONLY (no view or trigger may call it). */
int admin_define(sqlite3 *db, const char *name, int min_args, int max_args,
                 void (*func)(sqlite3_context *, int, sqlite3_value **));

/* The options of a call that is not a table (an admin function or a
** catalog table): brokers, then text (NULL for none), `name=value` items
** separated by commas outside quotes, of which only timeout_ms and
** rdkafka.<property> are accepted. func names the call in errors. *opts
** must be released with options_free() either way. */
int admin_options(kafka_options *opts, const char *func, const char *brokers, const char *text,
                  char **err);

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
typedef void admin_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue, void *arg);

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

#endif
