/*
** libFuzzer target: URLs as errors show them (url_shown(), ext/base/options.c).
** The input is one URL, malformed or not. Whatever libcurl takes as its
** user name or password, and whatever precedes the last '@' (a password
** may hold '/', '@', ':' unencoded, which libcurl then reads as a host or
** a port), is a secret: with its letters and digits changed (the shape
** kept), the shown URL stays the same. The shown URL never holds an '@'.
*/
#include "base.h"

#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Letters and digits of [start, start + n) of url shifted by one. */
static char *shifted(const char *url, size_t start, size_t n) {
  char *changed = strdup(url);
  for (char *c = changed + start; c < changed + start + n; c++)
    *c = *c == 'z' ? 'a' : *c == 'Z' ? 'A' : *c == '9' ? '0' : isalnum((unsigned char)*c) ? *c + 1 : *c;
  return changed;
}

static void check_hidden(const char *url, const char *shown, size_t start, size_t n, const char *what) {
  if (!n) return;
  char *changed = shifted(url, start, n);
  char *shown2 = url_shown(changed);
  if (strcmp(shown, shown2)) {
    fprintf(stderr, "the shown URL depends on its %s:\n%s -> %s\n%s -> %s\n", what, url, shown, changed,
            shown2);
    abort();
  }
  sqlite3_free(shown2);
  free(changed);
}

/* Where libcurl's idea of a part (user, password) is in the URL text. */
static void check_curl_part(const char *url, const char *shown, CURLU *parsed, CURLUPart part,
                            const char *what) {
  char *value = NULL;
  if (curl_url_get(parsed, part, &value, 0) != CURLUE_OK || !value) return;
  /* Credentials come before an '@': the value's first place before the last one. */
  const char *scheme_end = strstr(url, "://"), *last_at = strrchr(url, '@');
  const char *at = strstr(scheme_end ? scheme_end + 3 : url, value);
  if (at && last_at && at + strlen(value) <= last_at) check_hidden(url, shown, (size_t)(at - url), strlen(value), what);
  curl_free(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *url = malloc(size + 1);
  memcpy(url, data, size);
  url[size] = 0;
  char *shown = url_shown(url);
  if (!shown) abort();
  if (strchr(shown, '@')) {
    fprintf(stderr, "an '@' in the shown URL: %s -> %s\n", url, shown);
    abort();
  }
  /* Everything before the last '@' but a scheme (RFC 3986's letters). */
  const char *last_at = strrchr(url, '@');
  const char *scheme_end = strstr(url, "://");
  size_t scheme = isalpha((unsigned char)*url) ? strspn(url, "abcdefghijklmnopqrstuvwxyz"
                                                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") : 0;
  size_t from = scheme_end && scheme_end < last_at && scheme == (size_t)(scheme_end - url)
                    ? (size_t)(scheme_end + 3 - url) : 0;
  if (last_at) check_hidden(url, shown, from, (size_t)(last_at - url) - from, "text before the last '@'");
  CURLU *parsed = curl_url();
  if (parsed && curl_url_set(parsed, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
    check_curl_part(url, shown, parsed, CURLUPART_USER, "user name");
    check_curl_part(url, shown, parsed, CURLUPART_PASSWORD, "password");
  }
  curl_url_cleanup(parsed);
  sqlite3_free(shown);
  free(url);
  return 0;
}
