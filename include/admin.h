/*
** Topic admin functions (ext/admin.c): kafka_create_topic() and
** kafka_delete_topic(), through librdkafka's Admin API; and the `options`
** argument they share with the catalog tables.
*/
#ifndef KAFKA_ADMIN_H
#define KAFKA_ADMIN_H

#include "kafka_ext.h"

/* Registers the admin functions on db. */
int admin_register(sqlite3 *db);

/* The options of a call that is not a table (an admin function or a
** catalog table): brokers, then text (NULL for none), `name=value` items
** separated by commas outside quotes, of which only timeout_ms and
** rdkafka.<property> are accepted. func names the call in errors. *opts
** must be released with options_free() either way. */
int admin_options(kafka_options *opts, const char *func, const char *brokers, const char *text,
                  char **err);

#endif
