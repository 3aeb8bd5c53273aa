/*
** Partition leaders moving and a broker going down and up, on a 3-broker
** librdkafka mock cluster, while the extension produces and scans.
**
** The program owns the mock cluster (nothing of it is reachable from SQL):
** the extension sees its bootstrap list as an ordinary cluster. A chaos
** thread moves the leader of a partition every CHAOS_EVERY_MS and now and
** then takes a broker down for BROKER_DOWN_MS, for CHAOS_ROUNDS rounds of
** each phase. Checked, exactly:
**   1. INSERT of N_ROWS keyed rows (idempotent producer, acks=all): every
**      row arrives once (count(*) and count(DISTINCT key) are N_ROWS);
**   2. a scan, read slowly while the chaos goes on, returns every row once.
** Prints one line per check; exit status 0 when all hold, 1 otherwise.
**
** Usage: mock_cluster path/to/kafka.so (built and run by tests/test_cluster.py)
*/
#define _POSIX_C_SOURCE 200809L
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N_BROKERS 3
#define N_PARTITIONS 3
#define N_ROWS 20000
#define BATCH_ROWS 400
#define CHAOS_EVERY_MS 100
#define BROKER_DOWN_MS 200
#define CHAOS_ROUNDS 24 /* about 3 s */
#define TOPIC "moving-leaders"

typedef struct chaos {
  rd_kafka_mock_cluster_t *mc;
  atomic_int stop;
  int leader_moves, broker_downs;
} chaos;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Round robin: each round moves one partition's leader to the next broker;
** every 8th round takes a broker down for a while, then up again. */
static void *run_chaos(void *arg) {
  chaos *ch = arg;
  for (unsigned round = 0; round < CHAOS_ROUNDS && !atomic_load(&ch->stop); round++) {
    int partition = (int)(round % N_PARTITIONS), broker = (int)(round / N_PARTITIONS % N_BROKERS) + 1;
    if (!rd_kafka_mock_partition_set_leader(ch->mc, TOPIC, partition, broker)) ch->leader_moves++;
    if (round % 8 == 7) {
      rd_kafka_mock_broker_set_down(ch->mc, broker);
      sleep_ms(BROKER_DOWN_MS);
      rd_kafka_mock_broker_set_up(ch->mc, broker);
      ch->broker_downs++;
    }
    sleep_ms(CHAOS_EVERY_MS);
  }
  return NULL;
}

static void start_chaos(chaos *ch, pthread_t *thread) {
  ch->leader_moves = ch->broker_downs = 0;
  atomic_store(&ch->stop, 0);
  pthread_create(thread, NULL, run_chaos, ch);
}

static void stop_chaos(chaos *ch, pthread_t thread) {
  atomic_store(&ch->stop, 1);
  pthread_join(thread, NULL);
}

static int exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
  if (rc) fprintf(stderr, "%s\n  -> %s\n", sql, err ? err : sqlite3_errstr(rc));
  sqlite3_free(err);
  return rc;
}

/* N_ROWS keyed rows, in INSERT statements of BATCH_ROWS: each statement
** waits for its acknowledgements, so production goes on while the chaos
** thread runs. */
static int insert_in_batches(sqlite3 *db) {
  int rc = SQLITE_OK;
  for (int from = 0; !rc && from < N_ROWS; from += BATCH_ROWS) {
    char *sql = sqlite3_mprintf("INSERT INTO t(key, value) WITH RECURSIVE n(i) AS (SELECT %d UNION ALL "
                                "SELECT i + 1 FROM n WHERE i < %d) SELECT 'k' || i, 'v' || i FROM n",
                                from, from + BATCH_ROWS - 1);
    rc = exec(db, sql);
    sqlite3_free(sql);
    sleep_ms(60);
  }
  return rc;
}

/* Runs a query returning two integers into a and b. */
static int two_ints(sqlite3 *db, const char *sql, sqlite3_int64 *a, sqlite3_int64 *b) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (!rc && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    *a = sqlite3_column_int64(st, 0);
    *b = sqlite3_column_int64(st, 1);
    rc = SQLITE_OK;
  }
  if (rc) fprintf(stderr, "%s\n  -> %s\n", sql, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return rc;
}

/* A slow reader: the chaos happens while the scan is under way. Keys are
** k0..k(N_ROWS-1); seen[] counts each. */
static int slow_scan(sqlite3 *db, sqlite3_int64 *rows, sqlite3_int64 *distinct) {
  static int seen[N_ROWS];
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, "SELECT key FROM t", -1, &st, NULL);
  *rows = *distinct = 0;
  for (int i = 0; i < N_ROWS; i++) seen[i] = 0;
  while (!rc && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *key = (const char *)sqlite3_column_text(st, 0);
    int k = key && key[0] == 'k' ? atoi(key + 1) : -1;
    if (k >= 0 && k < N_ROWS && seen[k]++ == 0) ++*distinct;
    if (++*rows % 100 == 0) sleep_ms(5);
    rc = SQLITE_OK;
  }
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  if (rc) fprintf(stderr, "slow scan -> %s\n", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return rc;
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *facility, const char *text) {
  (void)rk; (void)level; (void)facility; (void)text;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s path/to/kafka.so\n", argv[0]);
    return 2;
  }
  char errstr[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, quiet_log);
  rd_kafka_t *host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!host) {
    fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 2;
  }
  chaos ch = {.mc = rd_kafka_mock_cluster_new(host, N_BROKERS)};
  if (!ch.mc || rd_kafka_mock_topic_create(ch.mc, TOPIC, N_PARTITIONS, N_BROKERS)) {
    fprintf(stderr, "cannot start the mock cluster\n");
    return 2;
  }
  sqlite3 *db;
  char *err = NULL;
  sqlite3_open(":memory:", &db);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, NULL);
  if (sqlite3_load_extension(db, argv[1], NULL, &err)) {
    fprintf(stderr, "load %s: %s\n", argv[1], err);
    return 2;
  }
  char *create = sqlite3_mprintf("CREATE VIRTUAL TABLE t USING kafka(brokers='%q', topic='" TOPIC "', "
                                 "timeout_ms=30000)", rd_kafka_mock_cluster_bootstraps(ch.mc));
  int failed = exec(db, create) != SQLITE_OK;
  sqlite3_free(create);

  pthread_t thread;
  sqlite3_int64 rows = 0, distinct = 0;
  double t0 = now_s();
  start_chaos(&ch, &thread);
  failed |= insert_in_batches(db) != SQLITE_OK;
  stop_chaos(&ch, thread);
  failed |= two_ints(db, "SELECT count(*), count(DISTINCT key) FROM t", &rows, &distinct) != SQLITE_OK;
  int ok = rows == N_ROWS && distinct == N_ROWS;
  printf("insert: %lld rows, %lld distinct of %d (%d leader moves, %d broker downs, %.1f s): %s\n",
         rows, distinct, N_ROWS, ch.leader_moves, ch.broker_downs, now_s() - t0, ok ? "exact" : "WRONG");
  failed |= !ok;

  t0 = now_s();
  start_chaos(&ch, &thread);
  failed |= slow_scan(db, &rows, &distinct) != SQLITE_OK;
  stop_chaos(&ch, thread);
  ok = rows == N_ROWS && distinct == N_ROWS;
  printf("scan: %lld rows, %lld distinct of %d (%d leader moves, %d broker downs, %.1f s): %s\n",
         rows, distinct, N_ROWS, ch.leader_moves, ch.broker_downs, now_s() - t0, ok ? "exact" : "WRONG");
  failed |= !ok;

  sqlite3_close(db);
  rd_kafka_mock_cluster_destroy(ch.mc);
  rd_kafka_destroy(host);
  return failed;
}
