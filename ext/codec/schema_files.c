/*
** Schemas in files (include/codec.h, schema_files): an .avsc or .proto file
** read at CREATE, and a .proto file's imports found in its import
** directories the way protoc's --proto_path finds them (the first
** directory holding the import's name). Every import read is kept by name,
** so that the table can store the texts and compile them again when the
** database is reopened, wherever the files have gone.
*/
#include "base.h"
#include "codec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* Schema files are small: a bound keeps a wrong path (a device, a huge
** file) from eating memory. */
#define SCHEMA_FILE_MAX (16 * 1024 * 1024)

/* Reads path whole; *why (static or errno text) says why not. */
static char *read_whole(const char *path, const char **why) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    *why = strerror(errno);
    return NULL;
  }
  sqlite3_str *s = sqlite3_str_new(NULL);
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0 && sqlite3_str_length(s) <= SCHEMA_FILE_MAX)
    sqlite3_str_append(s, buf, (int)n);
  int failed = ferror(f), too_big = sqlite3_str_length(s) > SCHEMA_FILE_MAX;
  size_t len = (size_t)sqlite3_str_length(s);
  *why = failed ? strerror(errno) : too_big ? "larger than 16 MiB: not a schema file" : NULL;
  fclose(f);
  if (sqlite3_str_errcode(s) && !*why) *why = "out of memory";
  char *text = sqlite3_str_finish(s);
  if (text && strlen(text) != len && !*why) *why = "it holds a NUL byte: not a text file";
  if (*why) {
    sqlite3_free(text);
    return NULL;
  }
  return text ? text : sqlite3_mprintf("");
}

int schema_file_read(const char *option, const char *path, char **text, char **err) {
  const char *why = NULL;
  *text = read_whole(path, &why);
  if (!*text) {
    *err = sqlite3_mprintf("kafka: option %s '%s': cannot read the file: %s", option, path, why);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

char *schema_file_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return sqlite3_mprintf(".");
  return sqlite3_mprintf("%.*s", slash == path ? 1 : (int)(slash - path), path);
}

char *schema_file_import_name(const char *path, const char *dirs) {
  for (const char *d = dirs; d && *d;) {
    size_t n = strcspn(d, ":");
    while (n > 1 && d[n - 1] == '/') n--;
    if (n && !strncmp(path, d, n) && path[n] == '/') return sqlite3_mprintf("%s", path + n + 1);
    d += strcspn(d, ":");
    d += *d == ':';
  }
  const char *slash = strrchr(path, '/');
  return sqlite3_mprintf("%s", slash ? slash + 1 : path);
}

/* A codec_imports resolve: a known text, else the first import directory
** holding the name (then kept). */
static int resolve(void *arg, const char *name, char **text, char **err) {
  schema_files *files = arg;
  const cJSON *known = cJSON_GetObjectItemCaseSensitive(files->known, name);
  if (cJSON_IsString(known)) {
    *text = sqlite3_mprintf("%s", known->valuestring);
    return *text ? SQLITE_OK : SQLITE_NOMEM;
  }
  if (!files->dirs) {
    *err = sqlite3_mprintf("it is not among the imports the table stored at CREATE");
    return SQLITE_ERROR;
  }
  for (const char *d = files->dirs; *d;) {
    size_t n = strcspn(d, ":");
    char *path = sqlite3_mprintf("%.*s/%s", (int)n, d, name);
    const char *why = NULL;
    *text = path ? read_whole(path, &why) : NULL;
    sqlite3_free(path);
    if (!path) return SQLITE_NOMEM;
    if (*text) return schema_files_add(files, name, *text);
    d += n;
    d += *d == ':';
  }
  *err = sqlite3_mprintf("no file of that name in the import directories '%s'", files->dirs);
  return SQLITE_ERROR;
}

int schema_files_init(schema_files *files, const char *dirs) {
  files->imports.resolve = resolve;
  files->imports.arg = files;
  files->dirs = dirs ? sqlite3_mprintf("%s", dirs) : NULL;
  files->known = cJSON_CreateObject();
  return files->known && (!dirs || files->dirs) ? SQLITE_OK : SQLITE_NOMEM;
}

int schema_files_add(schema_files *files, const char *name, const char *text) {
  if (cJSON_GetObjectItemCaseSensitive(files->known, name)) return SQLITE_OK;
  return cJSON_AddStringToObject(files->known, name, text) ? SQLITE_OK : SQLITE_NOMEM;
}

void schema_files_clear(schema_files *files) {
  sqlite3_free(files->dirs);
  cJSON_Delete(files->known);
  memset(files, 0, sizeof *files);
}
