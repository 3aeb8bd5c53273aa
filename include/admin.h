/*
** Topic admin functions (ext/admin.c): kafka_create_topic() and
** kafka_delete_topic(), through librdkafka's Admin API.
*/
#ifndef KAFKA_ADMIN_H
#define KAFKA_ADMIN_H

#include "kafka_ext.h"

/* Registers the admin functions on db. */
int admin_register(sqlite3 *db);

#endif
