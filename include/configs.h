/*
** Topic and broker configs (ext/configs.c): the kafka_topic_configs and
** kafka_broker_configs tables and kafka_alter_topic(), through
** DescribeConfigs and AlterConfigs.
*/
#ifndef KAFKA_CONFIGS_H
#define KAFKA_CONFIGS_H

#include "kafka_ext.h"
#include "catalog.h"

/* The tables kafka_topic_configs(brokers, topic) and
** kafka_broker_configs(brokers, id), for catalog_register_tables(). */
extern const catalog_table configs_tables[2];

/* Registers kafka_alter_topic() on db. */
int configs_register(sqlite3 *db);

/* The value of config on broker id (NULL: none, or not answered;
** sqlite3_free it), e.g. its broker.rack. */
char *configs_broker_value(catalog_call *call, int32_t id, const char *config);

#endif
