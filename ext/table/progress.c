/*
** Progress of a long scan in the interactive sqlite3 shell: after a second,
** one line on stderr (messages read of messages to read, rate, time left),
** redrawn at most twice a second and erased when the scan ends. Only when
** the process is the sqlite3 shell with stdin, stdout and stderr all
** terminals (a person watching, nothing parsing the output), unless the
** option progress asks: progress = 1 always, progress = 0 never.
**
** The line is for scans that print nothing while they run (box, table
** and column modes, aggregates, filters): in the shell's streaming modes
** (list, csv, line) a row printed while the line is shown would share its
** terminal line. So, unless progress = 1, a scan during which this thread
** wrote anything else (Linux's per-thread I/O accounting: the shell
** printing rows) draws no more, and none at all when that happened in its
** first second. Writes of one byte do not count: librdkafka wakes its
** broker threads with those (a row is at least a character and a newline).
*/
#include "table.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

SQLITE_EXTENSION_INIT3

#define PROGRESS_AFTER_MS 1000
#define PROGRESS_EVERY_MS 500

/* Non-zero when this process is the sqlite3 shell (Linux: its command
** name; elsewhere never: then only progress = 1 shows the line). */
static int is_sqlite3_shell(void) {
  char name[32] = "";
  FILE *f = fopen("/proc/self/comm", "r");
  if (!f) return 0;
  if (!fgets(name, sizeof name, f)) name[0] = 0;
  fclose(f);
  return !strncmp(name, "sqlite3", 7);
}

static int interactive_shell(void) {
  static int known = -1; /* the answer does not change: asked once */
  if (known < 0) known = isatty(0) && isatty(1) && isatty(2) && is_sqlite3_shell();
  return known;
}

/* What this thread wrote so far: bytes and write calls (0 when unknown). */
static void thread_writes(long long *bytes, long long *calls) {
  char line[64];
  *bytes = *calls = 0;
  FILE *f = fopen("/proc/thread-self/io", "r");
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "wchar: %lld", bytes) != 1) sscanf(line, "syscw: %lld", calls);
  if (f) fclose(f);
}

void progress_start(scan_progress *p, const kafka_options *opts, int64_t total) {
  memset(p, 0, sizeof *p);
  p->on = total > 0 && (opts->progress == 1 || (opts->progress < 0 && interactive_shell()));
  p->watch_output = p->on && opts->progress < 0;
  if (p->watch_output) thread_writes(&p->written, &p->writes);
  p->topic = opts->topic;
  p->total = total;
  p->started = client_now_ms();
}

/* Non-zero when this thread wrote more than one-byte wake-ups since the
** last look (then the shell prints rows: no line). */
static int others_wrote(scan_progress *p) {
  long long bytes, calls;
  thread_writes(&bytes, &calls);
  int wrote = bytes - p->written > calls - p->writes;
  p->written = bytes;
  p->writes = calls;
  return wrote;
}

/* n with thousands separators. */
static char *grouped(int64_t n) {
  char digits[32];
  int len = snprintf(digits, sizeof digits, "%lld", (long long)(n > 0 ? n : 0));
  sqlite3_str *s = sqlite3_str_new(NULL);
  for (int i = 0; i < len; i++) {
    if (i && (len - i) % 3 == 0) sqlite3_str_appendchar(s, 1, ',');
    sqlite3_str_appendchar(s, 1, digits[i]);
  }
  return sqlite3_str_finish(s);
}

void progress_add(scan_progress *p, int64_t n) {
  if (!p->on) return;
  /* n counts the end-of-partition events too: never more than the total. */
  p->read = p->read + n < p->total ? p->read + n : p->total;
  long long now = client_now_ms(), elapsed = now - p->started;
  if (elapsed < PROGRESS_AFTER_MS || now - p->drawn < PROGRESS_EVERY_MS) return;
  p->drawn = now;
  if (p->watch_output && others_wrote(p)) {
    progress_end(p);
    return;
  }
  int64_t rate = p->read * 1000 / elapsed, left = p->total - p->read;
  char *read = grouped(p->read), *total = grouped(p->total), *per_s = grouped(rate);
  fprintf(stderr, "\rkafka: %s: %s of %s messages, %s/s, %lld s left\033[K", p->topic, read ? read : "",
          total ? total : "", per_s ? per_s : "", (long long)(rate > 0 && left > 0 ? (left + rate - 1) / rate : 0));
  fflush(stderr);
  p->shown = 1;
  if (p->watch_output) others_wrote(p); /* the line's own write */
  sqlite3_free(read);
  sqlite3_free(total);
  sqlite3_free(per_s);
}

void progress_end(scan_progress *p) {
  if (p->shown) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
  }
  p->on = p->shown = 0;
}
