/*
** libFuzzer target: the headers column (ext/base/format.c). The input is the
** JSON an INSERT gives for headers. Whatever format_headers_parse()
** accepts must come back from format_headers_json() (what SELECT shows)
** as JSON that parses again to the same headers: a read-modify-write of
** a message through SQL keeps its headers.
*/
#include "base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The headers as SELECT shows them, after one more trip through INSERT. */
static char *round_trip(const char *json) {
  rd_kafka_headers_t *hdrs = NULL;
  char *err = NULL;
  if (format_headers_parse(json, &hdrs, &err)) {
    fprintf(stderr, "headers JSON from SELECT refused by INSERT: %s\n%s\n", err, json);
    abort();
  }
  char *again = format_headers_json(hdrs);
  rd_kafka_headers_destroy(hdrs);
  return again;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *json = malloc(size + 1);
  memcpy(json, data, size);
  json[size] = 0;
  rd_kafka_headers_t *hdrs = NULL;
  char *err = NULL;
  int rc = format_headers_parse(json, &hdrs, &err);
  if (rc == SQLITE_OK) {
    char *shown = format_headers_json(hdrs);
    /* No headers show as NULL, which INSERT takes as none. */
    if (shown) {
      char *again = round_trip(shown);
      if (!again || strcmp(shown, again)) {
        fprintf(stderr, "headers changed on a round trip:\n%s\n%s\n", shown, again ? again : "(null)");
        abort();
      }
      sqlite3_free(again);
    } else if (rd_kafka_header_cnt(hdrs)) {
      abort();
    }
    sqlite3_free(shown);
    rd_kafka_headers_destroy(hdrs);
  } else if (rc == SQLITE_ERROR && !err) {
    abort(); /* an error that says nothing */
  }
  sqlite3_free(err);
  free(json);
  return 0;
}
