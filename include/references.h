/*
** Schema references (ext/references.c): the schemas a registry schema
** refers to by name (Protobuf's imports, the registry's `references`),
** fetched from the registry when a codec asks for one (include/codec.h's
** codec_imports). A fetched schema's own references join the known ones,
** so imports of imports resolve too.
*/
#ifndef KAFKA_REFERENCES_H
#define KAFKA_REFERENCES_H

#include "codec.h"
#include "registry.h"

typedef struct schema_references {
  codec_imports imports;             /* what a codec's parse takes */
  const registry_options *registry;
  cJSON *known;                      /* every {"name", "subject", "version"} seen */
} schema_references;

/* Starts with a schema's references (an array, or NULL for none). */
int references_init(schema_references *refs, const registry_options *registry, const cJSON *references);
void references_clear(schema_references *refs);

#endif
