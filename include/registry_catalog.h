/*
** The Schema Registry catalog (ext/registry_catalog.c): kafka_subjects,
** kafka_schemas and kafka_register_schema.
*/
#ifndef KAFKA_REGISTRY_CATALOG_H
#define KAFKA_REGISTRY_CATALOG_H

#include "kafka_ext.h"

/* Registers the registry catalog tables and function on db. */
int registry_catalog_register(sqlite3 *db);

#endif
