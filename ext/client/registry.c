/*
** Schema Registry client: one libcurl request per call, bounded by the
** table's timeout_ms, with the answer parsed as JSON. What the registry
** says on an error (its error_code and message) is part of our message;
** the credentials never are.
*/
#include "base.h"
#include "client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* An answer larger than this is not a registry's: the request fails. */
#define MAX_ANSWER_BYTES (64 << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;
static void curl_init(void) { curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }

/* SQLite unloads the extension when its last connection closes: libcurl's
** global state (and OpenSSL's, through it) is released with it. */
__attribute__((destructor)) static void curl_done(void) {
  if (curl_ready) curl_global_cleanup();
}

void registry_schema_clear(registry_schema *s) {
  sqlite3_free(s->schema);
  sqlite3_free(s->type);
  cJSON_Delete(s->references);
  memset(s, 0, sizeof *s);
}

static char *shown_url(const registry_options *r) { return url_shown(r->url); }

static size_t on_data(char *data, size_t size, size_t n, void *arg) {
  sqlite3_str *answer = arg;
  if ((size_t)sqlite3_str_length(answer) + n > MAX_ANSWER_BYTES) return 0;
  sqlite3_str_append(answer, data, (int)n);
  return sqlite3_str_errcode(answer) ? 0 : size * n;
}

/* libcurl's progress callback, at least once a second: non-zero ends the
** transfer (CURLE_ABORTED_BY_CALLBACK) once sqlite3_interrupt() was called. */
static int on_progress(void *probe, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  return client_interrupted(probe);
}

/* Applies the connection options: timeouts, credentials, TLS files. */
static void configure(CURL *curl, const registry_options *r) {
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)r->timeout_ms);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  if (r->basic_auth) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(curl, CURLOPT_USERPWD, r->basic_auth);
  }
  if (r->ssl_ca) curl_easy_setopt(curl, CURLOPT_CAINFO, r->ssl_ca);
  if (r->ssl_cert) curl_easy_setopt(curl, CURLOPT_SSLCERT, r->ssl_cert);
  if (r->ssl_key) curl_easy_setopt(curl, CURLOPT_SSLKEY, r->ssl_key);
}

/* The error of an HTTP status: the registry's own message when it sent one. */
static char *status_error(const registry_options *r, const char *what, long status,
                          const char *answer) {
  char *url = shown_url(r);
  cJSON *json = answer ? cJSON_Parse(answer) : NULL;
  const cJSON *message = cJSON_GetObjectItemCaseSensitive(json, "message");
  const char *said = cJSON_IsString(message) ? message->valuestring : "";
  const char *meaning = status == 404                   ? "not found"
                        : status == 401 || status == 403 ? "not authorized (check schema_registry.basic_auth)"
                        : status == 409                 ? "incompatible with the subject's earlier versions"
                        : status == 422                 ? "rejected as invalid"
                                                        : "failed";
  char *err = sqlite3_mprintf("kafka: schema registry %s: %s: %s (HTTP %ld)%s%s", url, what, meaning,
                              status, *said ? ": " : "", said);
  cJSON_Delete(json);
  sqlite3_free(url);
  return err;
}

/* One request: method GET, or POST of body. *out is the JSON answer. */
static int request(const registry_options *r, const char *path, const char *body,
                   const char *what, cJSON **out, char **err) {
  pthread_once(&curl_once, curl_init);
  CURL *curl = curl_easy_init();
  size_t base_len = strlen(r->url);
  if (base_len && r->url[base_len - 1] == '/') base_len--; /* the path brings its own */
  char *url = sqlite3_mprintf("%.*s%s", (int)base_len, r->url, path);
  sqlite3_str *answer = sqlite3_str_new(NULL);
  struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/vnd.schemaregistry.v1+json, application/json");
  if (body) headers = curl_slist_append(headers, "Content-Type: application/vnd.schemaregistry.v1+json");
  if (!curl || !url || !headers) {
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    sqlite3_free(url);
    sqlite3_free(sqlite3_str_finish(answer));
    return SQLITE_NOMEM;
  }
  configure(curl, r);
  sqlite3_stmt *probe = NULL;
  if (r->db && sqlite3_prepare_v2(r->db, "SELECT 1", -1, &probe, NULL) == SQLITE_OK) {
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, probe);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  }
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, answer);
  if (body) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
  CURLcode res = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  sqlite3_finalize(probe);
  sqlite3_free(url);
  char *text = sqlite3_str_finish(answer);
  int rc = SQLITE_OK;
  if (res == CURLE_ABORTED_BY_CALLBACK) {
    *err = sqlite3_mprintf("interrupted");
    rc = SQLITE_INTERRUPT;
  } else if (res != CURLE_OK) {
    char *shown = shown_url(r);
    *err = sqlite3_mprintf("kafka: schema registry %s: %s: %s%s", shown, what,
                           res == CURLE_OPERATION_TIMEDOUT ? "no answer within timeout_ms: " : "unreachable: ",
                           curl_easy_strerror(res));
    sqlite3_free(shown);
    rc = SQLITE_ERROR;
  } else if (status < 200 || status > 299) {
    *err = status_error(r, what, status, text);
    rc = SQLITE_ERROR;
  } else if (!(*out = text ? cJSON_Parse(text) : NULL)) {
    char *shown = shown_url(r);
    *err = sqlite3_mprintf("kafka: schema registry %s: %s: the answer is not JSON", shown, what);
    sqlite3_free(shown);
    rc = SQLITE_ERROR;
  }
  sqlite3_free(text);
  return rc;
}

int registry_get(const registry_options *r, const char *path, cJSON **out, char **err) {
  return request(r, path, NULL, path, out, err);
}

char *registry_escape(const char *s) {
  char *e = curl_easy_escape(NULL, s, 0);
  char *out = e ? sqlite3_mprintf("%s", e) : NULL;
  curl_free(e);
  return out;
}

/* Fills *out from an answer holding schema, schemaType, id and version. */
static int schema_from_json(const cJSON *json, int32_t id, registry_schema *out) {
  const cJSON *schema = cJSON_GetObjectItemCaseSensitive(json, "schema");
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "schemaType");
  const cJSON *jid = cJSON_GetObjectItemCaseSensitive(json, "id");
  const cJSON *version = cJSON_GetObjectItemCaseSensitive(json, "version");
  const cJSON *references = cJSON_GetObjectItemCaseSensitive(json, "references");
  if (!cJSON_IsString(schema)) return SQLITE_ERROR;
  if (cJSON_GetArraySize(references) && !(out->references = cJSON_Duplicate(references, 1))) return SQLITE_NOMEM;
  out->id = cJSON_IsNumber(jid) ? (int32_t)jid->valuedouble : id;
  out->version = cJSON_IsNumber(version) ? (int)version->valuedouble : 0;
  out->schema = sqlite3_mprintf("%s", schema->valuestring);
  out->type = sqlite3_mprintf("%s", cJSON_IsString(type) ? type->valuestring : "AVRO");
  return out->schema && out->type ? SQLITE_OK : SQLITE_NOMEM;
}

static int schema_request(const registry_options *r, const char *path, const char *what,
                          int32_t id, registry_schema *out, char **err) {
  cJSON *json = NULL;
  int rc = path && what ? request(r, path, NULL, what, &json, err) : SQLITE_NOMEM;
  if (!rc && (rc = schema_from_json(json, id, out)) == SQLITE_ERROR) {
    char *shown = shown_url(r);
    *err = sqlite3_mprintf("kafka: schema registry %s: %s: the answer has no schema", shown, what);
    sqlite3_free(shown);
  }
  cJSON_Delete(json);
  return rc;
}

int registry_by_id(const registry_options *r, int32_t id, registry_schema *out, char **err) {
  char *path = sqlite3_mprintf("/schemas/ids/%d", (int)id);
  char *what = sqlite3_mprintf("schema id %d", (int)id);
  int rc = schema_request(r, path, what, id, out, err);
  sqlite3_free(path);
  sqlite3_free(what);
  return rc;
}

int registry_version(const registry_options *r, const char *subject, const char *version,
                     registry_schema *out, char **err) {
  char *subj = registry_escape(subject);
  char *path = subj ? sqlite3_mprintf("/subjects/%s/versions/%s", subj, version) : NULL;
  char *what = sqlite3_mprintf("subject '%s' version %s", subject, version);
  int rc = schema_request(r, path, what, 0, out, err);
  sqlite3_free(subj);
  sqlite3_free(path);
  sqlite3_free(what);
  return rc;
}

int registry_register(const registry_options *r, const char *subject, const char *schema,
                      const char *type, int32_t *id, char **err) {
  cJSON *body = cJSON_CreateObject();
  cJSON_AddStringToObject(body, "schema", schema);
  if (strcmp(type, "AVRO")) cJSON_AddStringToObject(body, "schemaType", type);
  char *text = cJSON_PrintUnformatted(body);
  cJSON_Delete(body);
  char *subj = registry_escape(subject);
  char *path = subj ? sqlite3_mprintf("/subjects/%s/versions", subj) : NULL;
  char *what = sqlite3_mprintf("registering a schema under subject '%s'", subject);
  cJSON *answer = NULL;
  int rc = text && path && what ? request(r, path, text, what, &answer, err) : SQLITE_NOMEM;
  const cJSON *jid = cJSON_GetObjectItemCaseSensitive(answer, "id");
  if (!rc && !cJSON_IsNumber(jid)) {
    char *shown = shown_url(r);
    *err = sqlite3_mprintf("kafka: schema registry %s: %s: the answer has no id", shown, what);
    sqlite3_free(shown);
    rc = SQLITE_ERROR;
  }
  if (!rc) *id = (int32_t)jid->valuedouble;
  cJSON_Delete(answer);
  cJSON_free(text);
  sqlite3_free(subj);
  sqlite3_free(path);
  sqlite3_free(what);
  return rc;
}
