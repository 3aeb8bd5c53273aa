/*
** Schema references: an import's name is looked up among the references
** known so far, and the schema it names (subject, version) is fetched
** from the registry, bounded by timeout_ms like every registry request.
*/
#include "base.h"
#include "codec.h"

#include <stdio.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

static const cJSON *reference_named(const cJSON *known, const char *name) {
  const cJSON *ref;
  cJSON_ArrayForEach(ref, known) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(ref, "name");
    if (cJSON_IsString(n) && !strcmp(n->valuestring, name)) return ref;
  }
  return NULL;
}

/* A codec_imports resolve: the text of the schema an import names. */
static int resolve(void *arg, const char *name, char **text, char **err) {
  schema_references *refs = arg;
  const cJSON *ref = reference_named(refs->known, name);
  const cJSON *subject = cJSON_GetObjectItemCaseSensitive(ref, "subject");
  const cJSON *version = cJSON_GetObjectItemCaseSensitive(ref, "version");
  if (!cJSON_IsString(subject) || !cJSON_IsNumber(version)) {
    *err = sqlite3_mprintf("the schema's references name no schema \"%s\"", name);
    return SQLITE_ERROR;
  }
  char number[16];
  snprintf(number, sizeof number, "%d", (int)version->valuedouble);
  registry_schema found = {0};
  char *why = NULL;
  int rc = registry_version(refs->registry, subject->valuestring, number, &found, &why);
  if (rc == SQLITE_ERROR) *err = sqlite3_mprintf("%s", why + (strncmp(why, "kafka: ", 7) ? 0 : 7));
  const cJSON *nested, *imports_of_found = rc ? NULL : found.references;
  cJSON_ArrayForEach(nested, imports_of_found) {
    cJSON *copy = cJSON_Duplicate(nested, 1);
    if (!copy || !cJSON_AddItemToArray(refs->known, copy)) rc = SQLITE_NOMEM;
  }
  if (!rc) {
    *text = found.schema;
    found.schema = NULL;
  }
  registry_schema_clear(&found);
  sqlite3_free(why);
  return rc;
}

int references_init(schema_references *refs, const registry_options *registry, const cJSON *references) {
  refs->imports.resolve = resolve;
  refs->imports.arg = refs;
  refs->registry = registry;
  refs->known = references ? cJSON_Duplicate(references, 1) : cJSON_CreateArray();
  return refs->known ? SQLITE_OK : SQLITE_NOMEM;
}

void references_clear(schema_references *refs) {
  cJSON_Delete(refs->known);
  refs->known = NULL;
}
