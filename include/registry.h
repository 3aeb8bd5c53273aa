/*
** Schema Registry client (ext/registry.c): the Confluent REST API (as
** Confluent's registry and Apicurio's /apis/ccompat/v7 serve it) over
** libcurl. Every request is bounded by the table's timeout_ms; errors name
** the registry (its URL without any user:password) and what was asked, and
** never show schema_registry.basic_auth.
*/
#ifndef KAFKA_REGISTRY_H
#define KAFKA_REGISTRY_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "options.h"

/* One version of a subject's schema. Strings are sqlite3_malloc'd. */
typedef struct registry_schema {
  int32_t id;
  int version;     /* 0 when fetched by id */
  char *schema;    /* the schema text */
  char *type;      /* AVRO, JSON or PROTOBUF (the registry leaves AVRO out) */
  cJSON *references; /* [{"name", "subject", "version"}] of the schemas it imports, or NULL */
} registry_schema;

void registry_schema_clear(registry_schema *s);

/* GET /schemas/ids/{id}. */
int registry_by_id(const registry_options *r, int32_t id, registry_schema *out, char **err);

/* GET /subjects/{subject}/versions/{version}; version "latest" or a number. */
int registry_version(const registry_options *r, const char *subject, const char *version,
                     registry_schema *out, char **err);

/* POST /subjects/{subject}/versions: registers (or finds) a schema of
** type `type` (AVRO, JSON, PROTOBUF); *id is its id. */
int registry_register(const registry_options *r, const char *subject, const char *schema,
                      const char *type, int32_t *id, char **err);

/* A subject as a URL path segment: percent-encoded (sqlite3_malloc'd). */
char *registry_escape(const char *subject);

/* GET of any path below the base URL, e.g. "/subjects": the JSON answer. */
int registry_get(const registry_options *r, const char *path, cJSON **out, char **err);

#endif
