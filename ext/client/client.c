/*
** librdkafka handles: configuration, the shared in-process mock cluster,
** metadata and topic creation. Every call that waits on the cluster is
** bounded by the table's timeout_ms.
*/
#define _GNU_SOURCE /* dladdr */
#include "base.h"
#include "client.h"

#include <ctype.h>
#include <dlfcn.h>

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* A scan consumer's prefetch (queued.max.messages.kbytes): 16 KB a
** partition of the topic, at least 1 MB and at most 16 MB. librdkafka 2.0.2
** counts the limit over the whole consumer queue, so 1 MB split over 1,000
** partitions left each fetch little to bring and count(*) waited on the
** network (1.3-1.8x the plain consumer); 16 MB brought it level (measured:
** 200k x 100 B in 1,000 partitions). Topics up to 64 partitions keep 1 MB,
** and with it their speed and peak RSS. */
#define PREFETCH_KBYTES_MIN 1024
#define PREFETCH_KBYTES_MIN_TEXT "1024"
#define PREFETCH_KBYTES_PER_PARTITION 16
#define PREFETCH_KBYTES_MAX 16384
#include <time.h>

SQLITE_EXTENSION_INIT3

#define MOCK_MAX_BROKERS 16
#define MOCK_MAX_PARTITIONS 1000
#define DESTROY_WAIT_MS 5000
#define NO_GROUP_ID "sqlite-kafka.no-group"
/* client_retry's tries: short, so that sqlite3_interrupt() is noticed
** within about a second, growing so that a slow broker still answers. */
#define RETRY_SLICE_MS 250
#define RETRY_SLICE_MAX_MS 1000
/* Logged connection failures of each bootstrap broker before it counts
** as down (see note_bootstrap_failure). */
#define BOOTSTRAP_FAILS 2
/* How long past its request timeout the answer of an Admin API request
** may take to arrive. */
#define ANSWER_MARGIN_MS 500

/* One mock cluster per broker count, shared by every table of the process
** and kept until it exits: its topics live as long as the process. The
** mock creates any topic a metadata request names, so the topics created
** through the extension are listed here: only those exist. */
static struct {
  pthread_mutex_t lock;
  rd_kafka_t *host[MOCK_MAX_BROKERS + 1];
  rd_kafka_mock_cluster_t *cluster[MOCK_MAX_BROKERS + 1];
  char **topics; /* "N:topic" for the cluster of N brokers */
  int n_topics;
} mock = {PTHREAD_MUTEX_INITIALIZER, {0}, {0}, NULL, 0};

int brokers_are_mock(const char *brokers) {
  return !strcmp(brokers, "mock") || !strncmp(brokers, "mock:", 5);
}

static void remember_error(kafka_client *client, const char *text) {
  if (!client) return;
  pthread_mutex_lock(&client->lock);
  snprintf(client->last_error, sizeof client->last_error, "%s", text);
  pthread_mutex_unlock(&client->lock);
}

/* A connection to a bootstrap broker failed (refused, not resolved, TLS or
** SASL failed): librdkafka logs "[thrd:NAME]: NAME: why" with facility
** FAIL, NAME ending in "/bootstrap". Once each bootstrap broker has failed
** so BOOTSTRAP_FAILS times, every one is down (the ALL_BROKERS_DOWN event
** would say so too, but it waits in the consumer's queue, which nothing
** polls during a request). Not at the first failure: a name with several
** addresses (localhost: ::1 and 127.0.0.1) is tried one address per
** attempt, and the next may answer. A name that does not resolve has no
** address left. */
static void note_bootstrap_failure(kafka_client *client, const char *text) {
  const char *name = strstr(text, "]: ");
  if (!name) return;
  name += 3;
  const char *end = strstr(name, ": ");
  size_t len = end ? (size_t)(end - name) : 0;
  if (len < 10 || len >= sizeof client->failed[0] || strncmp(end - 10, "/bootstrap", 10)) return;
  int weight = strstr(end, "Failed to resolve") ? BOOTSTRAP_FAILS : 1;
  pthread_mutex_lock(&client->lock);
  if (!*client->first_failure) snprintf(client->first_failure, sizeof client->first_failure, "%s", text);
  int i = 0;
  while (i < client->n_failed && (strlen(client->failed[i]) != len || strncmp(client->failed[i], name, len))) i++;
  if (i == client->n_failed && i < CLIENT_MAX_BOOTSTRAP) {
    snprintf(client->failed[i], sizeof client->failed[0], "%.*s", (int)len, name);
    client->fails[client->n_failed++] = 0;
  }
  if (i < client->n_failed) client->fails[i] += weight;
  int down = 0;
  for (int j = 0; j < client->n_failed; j++) down += client->fails[j] >= BOOTSTRAP_FAILS;
  if (client->n_bootstrap && down >= client->n_bootstrap) client->all_down = 1;
  pthread_mutex_unlock(&client->lock);
}

/* librdkafka logs to stderr unless told otherwise: the shell's output must
** stay the query's, so warnings are kept for error messages instead. */
static void on_log(const rd_kafka_t *rk, int level, const char *facility, const char *text) {
  kafka_client *client = rd_kafka_opaque(rk);
  if (level <= LOG_WARNING) remember_error(client, text);
  if (client && !strcmp(facility, "FAIL")) note_bootstrap_failure(client, text);
}

/* ALL_BROKERS_DOWN ("1/1 brokers are down") is noted but does not replace
** the error that says why (the refused connect, the failed resolve). */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  (void)rk;
  kafka_client *client = opaque;
  char text[512];
  snprintf(text, sizeof text, "%s: %s", rd_kafka_err2name(err), reason);
  if (err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    remember_error(client, text);
    return;
  }
  pthread_mutex_lock(&client->lock);
  client->all_down = 1;
  if (!*client->last_error) snprintf(client->last_error, sizeof client->last_error, "%s", text);
  pthread_mutex_unlock(&client->lock);
}

/* The client never reached a broker and librdkafka says every one is down. */
static int unreachable(kafka_client *client) {
  pthread_mutex_lock(&client->lock);
  int down = client->all_down && !client->answered;
  pthread_mutex_unlock(&client->lock);
  return down;
}

static void mark_answered(kafka_client *client) {
  pthread_mutex_lock(&client->lock);
  client->answered = 1;
  pthread_mutex_unlock(&client->lock);
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *facility, const char *text) {
  (void)rk; (void)level; (void)facility; (void)text;
}

/* Threads that outlive the connections run this library's code: the mock
** cluster's (quiet_log, for the rest of the process) and a destroy left to
** finish on its own (see client_destroy_handle). The library must stay
** loaded after SQLite closes the last connection that loaded it (and
** unloads it), or those threads crash. */
static void pin_library(void) {
  Dl_info info;
  if (dladdr((void *)pin_library, &info) && info.dli_fname) dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE);
}

static rd_kafka_mock_cluster_t *mock_cluster(int brokers, char **err) {
  pthread_mutex_lock(&mock.lock);
  if (!mock.cluster[brokers]) {
    pin_library();
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    mock.host[brokers] = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!mock.host[brokers]) rd_kafka_conf_destroy(conf);
    else mock.cluster[brokers] = rd_kafka_mock_cluster_new(mock.host[brokers], brokers);
    if (!mock.cluster[brokers])
      *err = sqlite3_mprintf("kafka: cannot start the mock cluster: %s",
                             mock.host[brokers] ? "rd_kafka_mock_cluster_new failed" : errstr);
  }
  rd_kafka_mock_cluster_t *mc = mock.cluster[brokers];
  pthread_mutex_unlock(&mock.lock);
  return mc;
}

/* The broker count of the mock cluster named by brokers (`mock` is
** `mock:1`), or 0 after setting *err. */
static int mock_brokers(const char *brokers, char **err) {
  if (brokers[4] != ':') return 1;
  char *end;
  long v = strtol(brokers + 5, &end, 10);
  if (!*end && v >= 1 && v <= MOCK_MAX_BROKERS) return (int)v;
  *err = sqlite3_mprintf("kafka: option brokers: '%s' must be mock or mock:N with N from 1 to %d",
                         brokers, MOCK_MAX_BROKERS);
  return 0;
}

static rd_kafka_mock_cluster_t *mock_for(const char *brokers, char **err) {
  int n = mock_brokers(brokers, err);
  return n ? mock_cluster(n, err) : NULL;
}

/* Finds (or, with add, records) a topic created on a mock cluster. */
static int mock_topic(const char *brokers, const char *topic, int add) {
  char *err = NULL;
  int n = mock_brokers(brokers, &err);
  sqlite3_free(err);
  char *name = sqlite3_mprintf("%d:%s", n, topic);
  if (!name) return 0;
  pthread_mutex_lock(&mock.lock);
  int found = 0;
  for (int i = 0; i < mock.n_topics && !found; i++) found = !strcmp(mock.topics[i], name);
  char **grown = found || !add ? NULL : realloc(mock.topics, sizeof *grown * (mock.n_topics + 1));
  if (grown) {
    mock.topics = grown;
    mock.topics[mock.n_topics++] = strdup(name);
  }
  pthread_mutex_unlock(&mock.lock);
  sqlite3_free(name);
  return found;
}

int client_mock_has_topic(const char *brokers, const char *topic) {
  return mock_topic(brokers, topic, 0);
}

/* ---------------------------------------------------- similar topics -- */

#define SIMILAR_MAX 3

/* The Levenshtein distance of a and b, byte-wise and ignoring ASCII case,
** or more than max when it is (rows of max + 2 bytes need not be kept). */
static size_t edit_distance(const char *a, const char *b, size_t max) {
  size_t n = strlen(b), la = strlen(a);
  if ((la > n ? la - n : n - la) > max || n > 1000) return max + 1;
  size_t row[n + 1];
  for (size_t j = 0; j <= n; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= n; j++) {
      size_t above = row[j];
      size_t change = diagonal + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
      row[j] = change < above + 1 ? change : above + 1;
      if (row[j - 1] + 1 < row[j]) row[j] = row[j - 1] + 1;
      diagonal = above;
    }
  }
  return row[n];
}

typedef struct similar_topics {
  const char *topic;
  size_t max;                        /* the farthest a similar name may be */
  char *names[SIMILAR_MAX];          /* the closest so far, closest first */
  size_t distance[SIMILAR_MAX];
  int n;
} similar_topics;

/* Keeps name when it is among the closest to the topic asked for. */
static void similar_consider(similar_topics *s, const char *name) {
  size_t d = edit_distance(s->topic, name, s->max);
  if (d > s->max || !strcmp(name, s->topic) || !strncmp(name, "__", 2)) return;
  int at = s->n;
  while (at > 0 && (d < s->distance[at - 1] || (d == s->distance[at - 1] && strcmp(name, s->names[at - 1]) < 0)))
    at--;
  char *copy = at < SIMILAR_MAX ? sqlite3_mprintf("%s", name) : NULL;
  if (!copy) return;
  if (s->n == SIMILAR_MAX) sqlite3_free(s->names[--s->n]);
  memmove(&s->names[at + 1], &s->names[at], sizeof *s->names * (size_t)(s->n - at));
  memmove(&s->distance[at + 1], &s->distance[at], sizeof *s->distance * (size_t)(s->n - at));
  s->names[at] = copy;
  s->distance[at] = d;
  s->n++;
}

/* The topics the extension created on the mock cluster of brokers. */
static void similar_mock(similar_topics *s, const char *brokers) {
  char *err = NULL;
  char *prefix = sqlite3_mprintf("%d:", mock_brokers(brokers, &err));
  sqlite3_free(err);
  if (!prefix) return;
  size_t len = strlen(prefix);
  pthread_mutex_lock(&mock.lock);
  for (int i = 0; i < mock.n_topics; i++)
    if (!strncmp(mock.topics[i], prefix, len)) similar_consider(s, mock.topics[i] + len);
  pthread_mutex_unlock(&mock.lock);
  sqlite3_free(prefix);
}

char *client_similar_topics(kafka_client *client, const kafka_options *opts, const char *topic) {
  similar_topics s = {topic, strlen(topic) / 3 > 2 ? strlen(topic) / 3 : 2, {NULL}, {0}, 0};
  if (brokers_are_mock(opts->brokers)) {
    similar_mock(&s, opts->brokers);
  } else {
    const struct rd_kafka_metadata *md;
    /* A hint is not worth a long wait: the error is already known. */
    if (!rd_kafka_metadata(client->rk, 1, NULL, &md, opts->timeout_ms < 2000 ? opts->timeout_ms : 2000)) {
      for (int i = 0; i < md->topic_cnt; i++)
        if (!md->topics[i].err) similar_consider(&s, md->topics[i].topic);
      rd_kafka_metadata_destroy(md);
    }
  }
  sqlite3_str *text = sqlite3_str_new(NULL);
  for (int i = 0; i < s.n; i++) {
    sqlite3_str_appendf(text, "%s'%s'", i ? ", " : "similar topics: ", s.names[i]);
    sqlite3_free(s.names[i]);
  }
  return sqlite3_str_finish(text);
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char **err) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) == RD_KAFKA_CONF_OK) return SQLITE_OK;
  *err = option_is_secret(name) ? sqlite3_mprintf("kafka: property %s: invalid value", name)
                                : sqlite3_mprintf("kafka: property %s: %s", name, errstr);
  return SQLITE_ERROR;
}

/* The extension's defaults for each role; rdkafka.* options may override
** the ones that are not reserved (see options.c). */
static int conf_defaults(rd_kafka_conf_t *conf, const kafka_options *opts, client_role role,
                         char **err) {
  char timeout[16];
  snprintf(timeout, sizeof timeout, "%d", opts->timeout_ms < 1000 ? 1000 : opts->timeout_ms);
  if (role == CLIENT_PRODUCER) {
    /* Java's partitioner, so keyed rows land where Java clients put them;
    ** a message not delivered within timeout_ms fails rather than lingers;
    ** a broker back from a restart is reconnected to within a second (not
    ** up to 10), so that an INSERT retried then succeeds; INSERT ... SELECT
    ** waits on a queue of 64 MiB, not librdkafka's 1 GiB (as fast, measured). */
    const char *defaults[][2] = {{"enable.idempotence", "true"}, {"acks", "all"},
                                 {"partitioner", "murmur2_random"},
                                 {"message.timeout.ms", timeout},
                                 {"reconnect.backoff.max.ms", "1000"},
                                 {"queue.buffering.max.kbytes", "65536"}};
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
      if (conf_set(conf, defaults[i][0], defaults[i][1], err)) return SQLITE_ERROR;
    return SQLITE_OK;
  }
  /* Scans end on the end-of-partition signal; offsets are committed by the
  ** extension only when a statement completes (group mode); a table's idle
  ** consumer reconnects to a restarted broker within a second, as above.
  ** A fetch at a partition's end waits fetch.wait.max.ms for data, and the
  ** next request to that broker (the next positioned read of an IN list or
  ** a join, the next statement's metadata) waits behind it: 10 ms, not
  ** 100, makes a positioned read cost about 10 ms (only an idle follow
  ** scan pays, with a fetch every 10 ms per broker). */
  const char *defaults[][2] = {
      {"reconnect.backoff.max.ms", "1000"},
      {"enable.partition.eof", "true"},  {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"}, {"allow.auto.create.topics", "false"},
      {"fetch.wait.max.ms", "10"},       {"auto.offset.reset", "error"},
      /* Prefetch: at most 1 MB or 100k messages. librdkafka 2.0.2 stops
      ** fetching at these limits and resumes only at its next wake-up (up
      ** to a second later); a scan wakes it when the queue has drained to
      ** half (keep_fetching, scan.c), so small limits read as fast as large
      ** ones did (measured: 1M messages of 35 and 100 bytes, 10 KB values,
      ** an Avro GROUP BY whose decoding keeps the queue full). The byte
      ** limit counts keys and values only, and librdkafka keeps some 250
      ** bytes more for each queued message: a scan slower than the broker
      ** (SELECT key, value into the shell) filled 16 MB of 100 B values to
      ** 95 MB of peak RSS, 1 MB to 25 MB (21 MB with nothing queued). */
      {"queued.min.messages", "100000"}, {"queued.max.messages.kbytes", PREFETCH_KBYTES_MIN_TEXT},
      {"isolation.level", opts->read_uncommitted ? "read_uncommitted" : "read_committed"}};
  for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
    if (conf_set(conf, defaults[i][0], defaults[i][1], err)) return SQLITE_ERROR;
  return SQLITE_OK;
}

/* The distinct brokers of a bootstrap list; 0 (unknown: never fail fast)
** past CLIENT_MAX_BOOTSTRAP. */
static int count_bootstrap(const char *list) {
  char seen[CLIENT_MAX_BOOTSTRAP][256];
  int n = 0;
  for (const char *p = list; *p;) {
    p += strspn(p, " ,");
    size_t len = strcspn(p, " ,");
    if (!len) break;
    int known = 0;
    for (int i = 0; i < n && !known; i++) known = strlen(seen[i]) == len && !strncmp(seen[i], p, len);
    if (!known && (n == CLIENT_MAX_BOOTSTRAP || len >= sizeof seen[0])) return 0;
    if (!known) snprintf(seen[n++], sizeof seen[0], "%.*s", (int)len, p);
    p += len;
  }
  return n;
}

int client_conf(const kafka_options *opts, client_role role, kafka_client *client,
                rd_kafka_conf_t **out, char **err) {
  const char *bootstrap = opts->brokers;
  if (brokers_are_mock(opts->brokers)) {
    rd_kafka_mock_cluster_t *mc = mock_for(opts->brokers, err);
    if (!mc) return SQLITE_ERROR;
    bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
  }
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  int rc = conf_set(conf, "bootstrap.servers", bootstrap, err);
  if (!rc) rc = conf_defaults(conf, opts, role, err);
  /* librdkafka's assign() needs a group: a table without one gets a group
  ** id that never joins and never commits. */
  if (!rc && role == CLIENT_CONSUMER)
    rc = conf_set(conf, "group.id", opts->group ? opts->group : NO_GROUP_ID, err);
  if (!rc && opts->transactional_id && role == CLIENT_PRODUCER)
    rc = conf_set(conf, "transactional.id", opts->transactional_id, err);
  for (int i = 0; !rc && i < opts->n_rdkafka; i++)
    rc = conf_set(conf, opts->rdkafka[i].name, opts->rdkafka[i].value, err);
  if (rc) {
    rd_kafka_conf_destroy(conf);
    return rc;
  }
  rd_kafka_conf_set_opaque(conf, client);
  if (client) client->n_bootstrap = count_bootstrap(bootstrap);
  rd_kafka_conf_set_log_cb(conf, on_log);
  rd_kafka_conf_set_error_cb(conf, on_error);
  *out = conf;
  return SQLITE_OK;
}

int client_open(kafka_client *client, client_role role, rd_kafka_conf_t *conf, char **err) {
  char errstr[512];
  client->rk = rd_kafka_new(role == CLIENT_PRODUCER ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf,
                            errstr, sizeof errstr);
  if (client->rk) return SQLITE_OK;
  rd_kafka_conf_destroy(conf);
  *err = sqlite3_mprintf("kafka: cannot create the %s: %s",
                         role == CLIENT_PRODUCER ? "producer" : "consumer", errstr);
  return SQLITE_ERROR;
}

int client_prefetch_kbytes(int partitions) {
  int64_t kbytes = (int64_t)partitions * PREFETCH_KBYTES_PER_PARTITION;
  return kbytes < PREFETCH_KBYTES_MIN ? PREFETCH_KBYTES_MIN
         : kbytes > PREFETCH_KBYTES_MAX ? PREFETCH_KBYTES_MAX : (int)kbytes;
}

static int user_sets(const kafka_options *opts, const char *property) {
  for (int i = 0; i < opts->n_rdkafka; i++)
    if (!strcmp(opts->rdkafka[i].name, property)) return 1;
  return 0;
}

/* A consumer from the options, with `defaults` (n pairs) set where the
** user gave no rdkafka.<property> of that name, and a rebalance callback
** (NULL: none). */
static int new_consumer(const kafka_options *opts, const char *const (*defaults)[2], int n,
                        client_rebalance_cb on_rebalance, kafka_client **out, char **err) {
  kafka_client *client = sqlite3_malloc64(sizeof *client);
  if (!client) return SQLITE_NOMEM;
  memset(client, 0, sizeof *client);
  pthread_mutex_init(&client->lock, NULL);
  rd_kafka_conf_t *conf = NULL; /* client_conf frees its own on failure */
  int rc = client_conf(opts, CLIENT_CONSUMER, client, &conf, err);
  for (int i = 0; !rc && i < n; i++)
    if (!user_sets(opts, defaults[i][0])) rc = conf_set(conf, defaults[i][0], defaults[i][1], err);
  if (rc && conf) rd_kafka_conf_destroy(conf);
  if (!rc && on_rebalance) rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
  if (!rc) rc = client_open(client, CLIENT_CONSUMER, conf, err);
  if (!rc) rd_kafka_poll_set_consumer(client->rk);
  if (rc) {
    client_free(client);
    return rc;
  }
  *out = client;
  return SQLITE_OK;
}

int client_new_scan_consumer(const kafka_options *opts, int partitions, kafka_client **out, char **err) {
  char kbytes[16];
  snprintf(kbytes, sizeof kbytes, "%d", client_prefetch_kbytes(partitions));
  const char *const prefetch[][2] = {{"queued.max.messages.kbytes", kbytes}};
  return new_consumer(opts, prefetch, client_prefetch_kbytes(partitions) > PREFETCH_KBYTES_MIN, NULL, out, err);
}

int client_new_consumer(const kafka_options *opts, kafka_client **out, char **err) {
  return new_consumer(opts, NULL, 0, NULL, out, err);
}

/* A member joins with the eager `range` protocol unless the user names
** another: its rebalance revokes every partition before the member rejoins,
** so a member never holds an assignment of a generation older than the
** one it commits with (see member.c). Not cooperative-sticky: librdkafka
** 2.0.2 asserts (aborting the process) when a consumer closes during a
** cooperative-sticky rebalance (librdkafka #4312, fixed in 2.2.1), which
** is when a newcomer that yields leaves the group. A member killed without leaving
** holds its partitions until the broker drops it: after 6 s (the broker's
** least session.timeout.ms by default), not 45, so that a pipeline
** restarted after a crash takes the group over within timeout_ms. It
** fetches nothing (its partitions are paused), so a small queue. */
int client_new_member(const kafka_options *opts, client_rebalance_cb on_rebalance, kafka_client **out,
                      char **err) {
  static const char *const member[][2] = {{"partition.assignment.strategy", "range"},
                                          {"session.timeout.ms", "6000"},
                                          {"heartbeat.interval.ms", "1000"},
                                          {"queued.max.messages.kbytes", "64"}};
  return new_consumer(opts, member, (int)(sizeof member / sizeof *member), on_rebalance, out, err);
}

/* What a bounded destroy shares with the thread that runs it. */
typedef struct handle_destroy {
  pthread_mutex_t lock;
  pthread_cond_t finished_cond;
  int finished, abandoned;
  rd_kafka_t *rk;
  void (*release)(void *owner);
  void *owner;
} handle_destroy;

static void handle_destroy_free(handle_destroy *d) {
  pthread_cond_destroy(&d->finished_cond);
  pthread_mutex_destroy(&d->lock);
  sqlite3_free(d);
}

static void *destroy_main(void *arg) {
  handle_destroy *d = arg;
  /* A consumer leaves cleanly first; with no subscription this is quick. */
  if (rd_kafka_type(d->rk) == RD_KAFKA_CONSUMER) rd_kafka_consumer_close(d->rk);
  rd_kafka_destroy(d->rk);
  d->release(d->owner);
  pthread_mutex_lock(&d->lock);
  d->finished = 1;
  int abandoned = d->abandoned;
  pthread_cond_signal(&d->finished_cond);
  pthread_mutex_unlock(&d->lock);
  if (abandoned) handle_destroy_free(d);
  return NULL;
}

/* librdkafka 2.0.2's rd_kafka_destroy() can wait for ever on a broker thread
** that never exits (after a topic it read was deleted, or across a broker
** restart: librdkafka issue #3007). So it runs on a thread of its own and
** is waited for up to DESTROY_WAIT_MS; one that has not finished by then is
** left to finish (or not) on that thread, which then releases the owner:
** callbacks of the handle may still use it until then. The library stays
** loaded for it (pin_library). */
void client_destroy_handle(rd_kafka_t *rk, void (*release)(void *owner), void *owner) {
  handle_destroy *d = sqlite3_malloc64(sizeof *d);
  pthread_t thread;
  if (!d) {
    destroy_main(&(handle_destroy){.rk = rk, .release = release, .owner = owner});
    return;
  }
  memset(d, 0, sizeof *d);
  pthread_mutex_init(&d->lock, NULL);
  pthread_cond_init(&d->finished_cond, NULL);
  d->rk = rk;
  d->release = release;
  d->owner = owner;
  if (pthread_create(&thread, NULL, destroy_main, d)) {
    destroy_main(d);
    handle_destroy_free(d);
    return;
  }
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += DESTROY_WAIT_MS / 1000;
  pthread_mutex_lock(&d->lock);
  while (!d->finished && pthread_cond_timedwait(&d->finished_cond, &d->lock, &until) == 0) {}
  int finished = d->finished;
  d->abandoned = !finished;
  pthread_mutex_unlock(&d->lock);
  if (finished) {
    /* Joined, not just signalled: the thread runs this library's code to
    ** its end, and SQLite may unload the library right after the close. */
    pthread_join(thread, NULL);
    handle_destroy_free(d);
  } else {
    pthread_detach(thread);
    pin_library();
  }
}

static void client_release(void *owner) {
  kafka_client *client = owner;
  pthread_mutex_destroy(&client->lock);
  sqlite3_free(client);
}

int client_watch(kafka_client *client, sqlite3 *db) {
  int rc = sqlite3_prepare_v2(db, "SELECT 1", -1, &client->own_probe, NULL);
  client->interrupt_probe = client->own_probe;
  return rc;
}

void client_unwatch(kafka_client *client) {
  if (client->interrupt_probe == client->own_probe) client->interrupt_probe = NULL;
  sqlite3_finalize(client->own_probe);
  client->own_probe = NULL;
}

void client_free(kafka_client *client) {
  if (!client) return;
  client_unwatch(client); /* on the caller's thread, before any destroy */
  if (client->rk) client_destroy_handle(client->rk, client_release, client);
  else client_release(client);
}

void client_last_error(kafka_client *client, char *buf, size_t size) {
  pthread_mutex_lock(&client->lock);
  snprintf(buf, size, "%s", client->last_error);
  pthread_mutex_unlock(&client->lock);
}

char *client_timeout_error(kafka_client *client, const kafka_options *opts, const char *what) {
  char last[512];
  client_last_error(client, last, sizeof last);
  if (unreachable(client)) {
    pthread_mutex_lock(&client->lock); /* the first failure says most */
    if (*client->first_failure) snprintf(last, sizeof last, "%s", client->first_failure);
    pthread_mutex_unlock(&client->lock);
    return sqlite3_mprintf("kafka: %s: cannot connect to brokers '%s' (no connection to any of them "
                           "succeeded: not waiting timeout_ms=%d): %s", what, opts->brokers,
                           opts->timeout_ms, *last ? last : "every broker is down");
  }
  return sqlite3_mprintf("kafka: %s: no answer from brokers '%s' within timeout_ms=%d%s%s", what,
                         opts->brokers, opts->timeout_ms, *last ? ": " : "", last);
}

long long client_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One metadata request for topic: RD_KAFKA_RESP_ERR_NO_ERROR with the
** partition count, the topic's own error, or the request's. */
static rd_kafka_resp_err_t topic_metadata(kafka_client *client, const char *topic, int timeout_ms,
                                          int *partitions) {
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(client->rk, topic, NULL);
  if (!rkt) return rd_kafka_last_error();
  const struct rd_kafka_metadata *md;
  rd_kafka_resp_err_t e = rd_kafka_metadata(client->rk, 0, rkt, &md, timeout_ms);
  rd_kafka_topic_destroy(rkt);
  if (e) return e;
  e = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  if (!e) *partitions = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  return e;
}

int client_interrupted(struct sqlite3_stmt *probe) {
  if (!probe) return 0;
  int rc = sqlite3_step(probe);
  sqlite3_reset(probe);
  return rc == SQLITE_INTERRUPT;
}

/* Errors worth another try before the deadline: no answer yet, a broker
** connection lost, or a partition leader moving to another broker. */
static int transient(rd_kafka_resp_err_t e) {
  return e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__TRANSPORT ||
         e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE || e == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
}

rd_kafka_resp_err_t client_retry(kafka_client *client, const kafka_options *opts,
                                 client_attempt *attempt, void *arg) {
  return client_retry_until(client, client_now_ms() + opts->timeout_ms, attempt, arg);
}

rd_kafka_resp_err_t client_retry_until(kafka_client *client, long long deadline, client_attempt *attempt,
                                       void *arg) {
  int slice = RETRY_SLICE_MS;
  for (;;) {
    long long left = deadline - client_now_ms();
    rd_kafka_resp_err_t e = attempt(client, arg, left < slice ? (left > 0 ? (int)left : 1) : slice);
    if (e >= 0) mark_answered(client); /* no error, or the broker's own */
    if (!transient(e) || client_now_ms() >= deadline) return e;
    if (client_interrupted(client->interrupt_probe)) return RD_KAFKA_RESP_ERR__INTR;
    if (unreachable(client)) return RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
    if (e != RD_KAFKA_RESP_ERR__TIMED_OUT) {
      struct timespec pause = {0, 100 * 1000000}; /* an error came back at once */
      nanosleep(&pause, NULL);
    }
    if (slice < RETRY_SLICE_MAX_MS) slice *= 2;
  }
}

int client_wait_failed(kafka_client *client, const kafka_options *opts, rd_kafka_resp_err_t e,
                       const char *what, char **err) {
  if (e == RD_KAFKA_RESP_ERR__INTR) {
    *err = sqlite3_mprintf("interrupted");
    return SQLITE_INTERRUPT;
  }
  if (e != RD_KAFKA_RESP_ERR__TIMED_OUT && e != RD_KAFKA_RESP_ERR__TRANSPORT &&
      e != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
    return SQLITE_OK;
  *err = client_timeout_error(client, opts, what);
  return SQLITE_ERROR;
}

rd_kafka_resp_err_t client_await_event(kafka_client *client, rd_kafka_queue_t *queue, long long deadline,
                                       rd_kafka_event_t **ev) {
  for (;;) {
    long long left = deadline - client_now_ms();
    *ev = rd_kafka_queue_poll(queue, left < RETRY_SLICE_MS ? (left > 0 ? (int)left : 0) : RETRY_SLICE_MS);
    if (*ev) return RD_KAFKA_RESP_ERR_NO_ERROR;
    if (client_now_ms() >= deadline) return RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (client_interrupted(client->interrupt_probe)) return RD_KAFKA_RESP_ERR__INTR;
    if (unreachable(client)) return RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN;
  }
}

/* Metadata of the brokers only (no topic): the cheapest answer. */
static rd_kafka_resp_err_t brokers_attempt(kafka_client *client, void *arg, int timeout_ms) {
  (void)arg;
  const struct rd_kafka_metadata *md;
  rd_kafka_resp_err_t e = rd_kafka_metadata(client->rk, 0, NULL, &md, timeout_ms);
  if (!e) rd_kafka_metadata_destroy(md);
  return e;
}

int client_reach(kafka_client *client, const kafka_options *opts, const char *what, char **err) {
  rd_kafka_resp_err_t e = client_retry(client, opts, brokers_attempt, NULL);
  int rc = client_wait_failed(client, opts, e, what, err);
  if (!rc && e) {
    *err = sqlite3_mprintf("kafka: %s: brokers '%s': %s", what, opts->brokers, rd_kafka_err2str(e));
    rc = SQLITE_ERROR;
  }
  return rc;
}

typedef struct metadata_ask {
  const char *topic;
  int wait_created; /* a missing topic may be one just created */
  int partitions;
} metadata_ask;

/* A new topic takes a moment to reach every broker's metadata: while
** waiting for one, missing is transient. */
static rd_kafka_resp_err_t metadata_attempt(kafka_client *client, void *arg, int timeout_ms) {
  metadata_ask *ask = arg;
  rd_kafka_resp_err_t e = topic_metadata(client, ask->topic, timeout_ms, &ask->partitions);
  if (!e && ask->partitions <= 0) e = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && ask->wait_created) e = RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE;
  return e;
}

/* Waits for the topic's metadata (see metadata_attempt). */
static int topic_partitions_until(kafka_client *client, const kafka_options *opts,
                                  const char *topic, int wait_created, long long deadline,
                                  int *partitions, char **err) {
  metadata_ask ask = {topic, wait_created, 0};
  rd_kafka_resp_err_t e = client_retry_until(client, deadline, metadata_attempt, &ask);
  char *what = sqlite3_mprintf("metadata of topic '%s'", topic);
  int rc = client_wait_failed(client, opts, e, what ? what : "metadata", err);
  sqlite3_free(what);
  if (rc || !e) {
    *partitions = ask.partitions;
    return rc;
  }
  if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
    char *similar = client_similar_topics(client, opts, topic);
    *err = sqlite3_mprintf("kafka: topic '%s' does not exist on brokers '%s' (%s%sgive partitions=N "
                           "to create it, or call kafka_create_topic())", topic, opts->brokers,
                           similar ? similar : "", similar && *similar ? "; " : "");
    sqlite3_free(similar);
  } else {
    *err = sqlite3_mprintf("kafka: metadata of topic '%s': %s", topic, rd_kafka_err2str(e));
  }
  return SQLITE_ERROR;
}

int client_topic_partitions(kafka_client *client, const kafka_options *opts, const char *topic,
                            int *partitions, char **err) {
  if (brokers_are_mock(opts->brokers) && !mock_topic(opts->brokers, topic, 0)) {
    char *similar = client_similar_topics(client, opts, topic);
    *err = sqlite3_mprintf("kafka: topic '%s' does not exist on the mock cluster (%s%sgive partitions=N "
                           "to create it, or call kafka_create_topic())", topic, similar ? similar : "",
                           similar && *similar ? "; " : "");
    sqlite3_free(similar);
    return SQLITE_ERROR;
  }
  return topic_partitions_until(client, opts, topic, 0, client_now_ms() + opts->timeout_ms, partitions, err);
}

char *client_cluster_id(kafka_client *client, int timeout_ms) {
  char *id = client && client->rk ? rd_kafka_clusterid(client->rk, timeout_ms) : NULL;
  char *copy = id ? sqlite3_mprintf("%s", id) : NULL;
  if (id) rd_kafka_mem_free(client->rk, id);
  return copy;
}

typedef struct offsets_ask {
  rd_kafka_topic_partition_list_t *list;
  int64_t when;
} offsets_ask;

/* A partition whose leader moved answers NOT_LEADER: transient too. */
static rd_kafka_resp_err_t offsets_attempt(kafka_client *client, void *arg, int timeout_ms) {
  offsets_ask *ask = arg;
  for (int i = 0; i < ask->list->cnt; i++) {
    ask->list->elems[i].offset = ask->when;
    ask->list->elems[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(client->rk, ask->list, timeout_ms);
  for (int i = 0; !e && i < ask->list->cnt; i++)
    if (transient(ask->list->elems[i].err)) e = ask->list->elems[i].err;
  return e;
}

rd_kafka_resp_err_t client_offsets_for_times(kafka_client *client, const kafka_options *opts,
                                             rd_kafka_topic_partition_list_t *list, int64_t when) {
  offsets_ask ask = {list, when};
  return list->cnt ? client_retry(client, opts, offsets_attempt, &ask) : RD_KAFKA_RESP_ERR_NO_ERROR;
}

int client_list_offsets(kafka_client *client, const kafka_options *opts,
                        const rd_kafka_topic_partition_list_t *parts, int64_t when, int64_t *out,
                        char **err) {
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_copy(parts);
  rd_kafka_resp_err_t e = client_offsets_for_times(client, opts, list, when);
  for (int i = 0; i < list->cnt; i++)
    out[i] = list->elems[i].err || list->elems[i].offset < 0 ? -1 : list->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(list);
  return client_wait_failed(client, opts, e, when == -2 ? "earliest offsets" : "latest offsets", err);
}

long long client_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The index in list of a message's partition, or -1. */
static int list_index(const rd_kafka_topic_partition_list_t *list, const rd_kafka_message_t *m) {
  const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
  for (int i = 0; i < list->cnt; i++)
    if (list->elems[i].partition == m->partition && !strcmp(list->elems[i].topic, topic)) return i;
  return -1;
}

/* Takes the first message (or end) of its partition; -1 on a read error. */
static int take_first(const rd_kafka_topic_partition_list_t *list, rd_kafka_message_t *m, int64_t *out,
                      char *done, char **err) {
  int i = list_index(list, m);
  if (i < 0 || done[i]) return 0;
  if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    *err = sqlite3_mprintf("kafka: topic '%s' partition %d: %s", list->elems[i].topic,
                           (int)m->partition, rd_kafka_message_errstr(m));
    return -1;
  }
  if (!m->err) out[i] = rd_kafka_message_timestamp(m, NULL);
  done[i] = 1;
  return 1;
}

int client_first_timestamps(kafka_client *client, const kafka_options *opts,
                            const rd_kafka_topic_partition_list_t *list, int64_t *out, char **err) {
  char *done = sqlite3_malloc64((size_t)list->cnt + 1);
  if (!done) return SQLITE_NOMEM;
  memset(done, 0, (size_t)list->cnt + 1);
  for (int i = 0; i < list->cnt; i++) out[i] = -1;
  rd_kafka_resp_err_t e = list->cnt ? rd_kafka_assign(client->rk, list) : RD_KAFKA_RESP_ERR_NO_ERROR;
  int left = e ? 0 : list->cnt, rc = SQLITE_OK;
  if (e) *err = sqlite3_mprintf("kafka: assign: %s", rd_kafka_err2str(e));
  long long deadline = client_now_ms() + opts->timeout_ms;
  while (left > 0 && !rc && client_now_ms() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(client->rk, 100);
    if (!m && client_interrupted(client->interrupt_probe)) {
      *err = sqlite3_mprintf("interrupted");
      rc = SQLITE_INTERRUPT;
    }
    if (!m) continue;
    int took = take_first(list, m, out, done, err);
    rd_kafka_message_destroy(m);
    if (took < 0) rc = SQLITE_ERROR;
    left -= took > 0;
  }
  if (!rc && left > 0) {
    *err = client_timeout_error(client, opts, "the next messages of the partitions");
    rc = SQLITE_ERROR;
  }
  if (list->cnt) rd_kafka_assign(client->rk, NULL);
  /* What was fetched past the first messages must not reach the next
  ** user of the consumer. */
  rd_kafka_message_t *m;
  while ((m = rd_kafka_consumer_poll(client->rk, 0))) rd_kafka_message_destroy(m);
  sqlite3_free(done);
  return e ? SQLITE_ERROR : rc;
}

/* Applies a JSON object of topic configs ({"cleanup.policy": "compact"}). */
static int new_topic_configs(rd_kafka_NewTopic_t *nt, const char *config_json, char **err) {
  cJSON *root = cJSON_Parse(config_json);
  int rc = SQLITE_OK;
  if (!cJSON_IsObject(root)) {
    *err = sqlite3_mprintf("kafka: topic config must be a JSON object of strings, not '%s'", config_json);
    rc = SQLITE_ERROR;
  }
  for (cJSON *item = root && !rc ? root->child : NULL; item && !rc; item = item->next) {
    char number[64];
    const char *value = cJSON_IsString(item) ? item->valuestring : NULL;
    if (cJSON_IsNumber(item)) {
      snprintf(number, sizeof number, "%.17g", item->valuedouble);
      value = number;
    } else if (cJSON_IsBool(item)) {
      value = cJSON_IsTrue(item) ? "true" : "false";
    }
    if (!value) {
      *err = sqlite3_mprintf("kafka: topic config '%s' must be a string, number or boolean", item->string);
      rc = SQLITE_ERROR;
    } else if (rd_kafka_NewTopic_set_config(nt, item->string, value)) {
      *err = sqlite3_mprintf("kafka: topic config '%s' is invalid", item->string);
      rc = SQLITE_ERROR;
    }
  }
  cJSON_Delete(root);
  return rc;
}

/* The error of a one-topic CreateTopics or DeleteTopics request, with the
** broker's reason in reason. */
static rd_kafka_resp_err_t topic_admin_result(kafka_client *client, rd_kafka_queue_t *queue,
                                              long long deadline, char *reason, size_t size) {
  rd_kafka_event_t *ev;
  /* librdkafka ends the request at the deadline: the margin lets its answer arrive. */
  rd_kafka_resp_err_t e = client_await_event(client, queue, deadline + ANSWER_MARGIN_MS, &ev);
  if (e) return e;
  e = rd_kafka_event_error(ev);
  snprintf(reason, size, "%s", e ? rd_kafka_event_error_string(ev) : "");
  if (!e) {
    size_t n = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_event_type(ev) == RD_KAFKA_EVENT_CREATETOPICS_RESULT
            ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n)
            : rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
    if (n == 1 && (e = rd_kafka_topic_result_error(res[0])))
      snprintf(reason, size, "%s", rd_kafka_topic_result_error_string(res[0])
                                       ? rd_kafka_topic_result_error_string(res[0])
                                       : rd_kafka_err2str(e));
  }
  rd_kafka_event_destroy(ev);
  return e;
}

static rd_kafka_resp_err_t create_real_topic(kafka_client *client, const char *topic, int partitions,
                                             int replication, const char *config_json, long long deadline,
                                             char *reason, size_t size, char **err) {
  char errstr[256];
  rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, replication, errstr, sizeof errstr);
  if (!nt) {
    *err = sqlite3_mprintf("kafka: cannot create topic '%s': %s", topic, errstr);
    return RD_KAFKA_RESP_ERR__INVALID_ARG;
  }
  if (config_json && new_topic_configs(nt, config_json, err)) {
    rd_kafka_NewTopic_destroy(nt);
    return RD_KAFKA_RESP_ERR__INVALID_ARG;
  }
  rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(client->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  int left = (int)(deadline - client_now_ms());
  rd_kafka_AdminOptions_set_request_timeout(ao, left > 0 ? left : 1, errstr, sizeof errstr);
  rd_kafka_AdminOptions_set_operation_timeout(ao, left > 0 ? left : 1, errstr, sizeof errstr);
  rd_kafka_queue_t *queue = rd_kafka_queue_new(client->rk);
  rd_kafka_CreateTopics(client->rk, &nt, 1, ao, queue);
  rd_kafka_resp_err_t e = topic_admin_result(client, queue, deadline, reason, size);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(ao);
  rd_kafka_NewTopic_destroy(nt);
  return e;
}

static rd_kafka_resp_err_t create_mock_topic(const kafka_options *opts, const char *topic,
                                             int partitions, int replication,
                                             const char *config_json, char **err) {
  if (config_json) {
    *err = sqlite3_mprintf("kafka: the mock cluster does not support topic configs");
    return RD_KAFKA_RESP_ERR__INVALID_ARG;
  }
  /* The mock's cost grows faster than its partitions (10,000 take seconds,
  ** past any timeout_ms): a test cluster needs few. */
  if (partitions > MOCK_MAX_PARTITIONS) {
    *err = sqlite3_mprintf("kafka: cannot create topic '%s': the mock cluster takes at most %d "
                           "partitions per topic, not %d", topic, MOCK_MAX_PARTITIONS, partitions);
    return RD_KAFKA_RESP_ERR__INVALID_ARG;
  }
  rd_kafka_mock_cluster_t *mc = mock_for(opts->brokers, err);
  if (!mc) return RD_KAFKA_RESP_ERR__INVALID_ARG;
  if (mock_topic(opts->brokers, topic, 0)) return RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
  /* The mock would quietly create fewer replicas than asked for. */
  int brokers = mock_brokers(opts->brokers, err);
  if (replication > brokers) {
    *err = sqlite3_mprintf("kafka: cannot create topic '%s': INVALID_REPLICATION_FACTOR: replication %d "
                           "but the mock cluster '%s' has %d broker(s)", topic, replication,
                           opts->brokers, brokers);
    return RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR;
  }
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, topic, partitions, replication > 0 ? replication : 1);
  if (!e) mock_topic(opts->brokers, topic, 1);
  return e;
}

/* Kafka's own rule for topic names (the mock cluster does not check it). */
static int topic_name_valid(const char *topic) {
  size_t n = strlen(topic);
  if (n < 1 || n > 249 || !strcmp(topic, ".") || !strcmp(topic, "..")) return 0;
  return strspn(topic, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* client_wait_failed() of a request about a topic: "verb topic 'x'". */
static int topic_wait_failed(kafka_client *client, const kafka_options *opts, rd_kafka_resp_err_t e,
                             const char *verb, const char *topic, char **err) {
  char *what = sqlite3_mprintf("%s topic '%s'", verb, topic);
  int rc = client_wait_failed(client, opts, e, what ? what : verb, err);
  sqlite3_free(what);
  return rc;
}

/* Whether topic exists, asked until deadline. An error other than no
** answer (or an interrupt) counts as missing: CreateTopics then says why. */
static int topic_exists_until(kafka_client *client, const kafka_options *opts, const char *topic,
                              long long deadline, int *exists, char **err) {
  if (brokers_are_mock(opts->brokers)) {
    *exists = mock_topic(opts->brokers, topic, 0);
    return SQLITE_OK;
  }
  metadata_ask ask = {topic, 0, 0};
  rd_kafka_resp_err_t e = client_retry_until(client, deadline, metadata_attempt, &ask);
  *exists = !e;
  return topic_wait_failed(client, opts, e, "creating", topic, err);
}

int client_create_topic(kafka_client *client, const kafka_options *opts, const char *topic,
                        int partitions, int replication, const char *config_json,
                        int if_missing, char **err) {
  if (!topic_name_valid(topic)) {
    *err = sqlite3_mprintf("kafka: cannot create topic '%s': Topic name is invalid: Kafka allows 1 to "
                           "249 ASCII letters, digits, '.', '_' and '-' (not '.' or '..')", topic);
    return SQLITE_ERROR;
  }
  /* One timeout_ms for the whole: the check, the request, the metadata. */
  long long deadline = client_now_ms() + opts->timeout_ms;
  int exists;
  int rc = topic_exists_until(client, opts, topic, deadline, &exists, err);
  if (rc) return rc;
  if (exists) {
    if (if_missing) return SQLITE_OK;
    *err = sqlite3_mprintf("kafka: topic '%s' already exists", topic);
    return SQLITE_ERROR;
  }
  char reason[512] = "";
  rd_kafka_resp_err_t e =
      brokers_are_mock(opts->brokers)
          ? create_mock_topic(opts, topic, partitions, replication, config_json, err)
          : create_real_topic(client, topic, partitions, replication, config_json, deadline,
                              reason, sizeof reason, err);
  if (*err) return SQLITE_ERROR;
  if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && if_missing) e = RD_KAFKA_RESP_ERR_NO_ERROR;
  if ((rc = topic_wait_failed(client, opts, e, "creating", topic, err))) return rc;
  if (e) {
    *err = sqlite3_mprintf("kafka: cannot create topic '%s': %s%s%s", topic, rd_kafka_err2name(e),
                           *reason ? ": " : "", reason);
    return SQLITE_ERROR;
  }
  int created;
  return topic_partitions_until(client, opts, topic, 1, deadline, &created, err);
}

/* Waits, until the deadline, for a deleted topic to leave the metadata,
** so that what follows (a listing, creating it again) sees it gone. The
** deletion itself has succeeded either way. */
static void wait_topic_gone(kafka_client *client, const char *topic, long long deadline) {
  int partitions;
  while (client_now_ms() + 100 < deadline &&
         topic_metadata(client, topic, (int)(deadline - client_now_ms()), &partitions) !=
             RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    struct timespec pause = {0, 100 * 1000000};
    nanosleep(&pause, NULL);
  }
}

int client_delete_topic(kafka_client *client, const kafka_options *opts, const char *topic,
                        char **err) {
  if (brokers_are_mock(opts->brokers)) {
    *err = sqlite3_mprintf("kafka: the mock cluster cannot delete topics (they last as long as the process)");
    return SQLITE_ERROR;
  }
  long long deadline = client_now_ms() + opts->timeout_ms;
  char errstr[256], reason[512] = "";
  rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
  rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(client->rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(ao, opts->timeout_ms, errstr, sizeof errstr);
  rd_kafka_AdminOptions_set_operation_timeout(ao, opts->timeout_ms, errstr, sizeof errstr);
  rd_kafka_queue_t *queue = rd_kafka_queue_new(client->rk);
  rd_kafka_DeleteTopics(client->rk, &dt, 1, ao, queue);
  rd_kafka_resp_err_t e = topic_admin_result(client, queue, deadline, reason, sizeof reason);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(ao);
  rd_kafka_DeleteTopic_destroy(dt);
  int rc = topic_wait_failed(client, opts, e, "deleting", topic, err);
  if (rc) {
    return rc;
  } else if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    *err = sqlite3_mprintf("kafka: cannot delete topic '%s': it does not exist on brokers '%s'",
                           topic, opts->brokers);
  } else if (e) {
    *err = sqlite3_mprintf("kafka: cannot delete topic '%s': %s%s%s", topic, rd_kafka_err2name(e),
                           *reason ? ": " : "", reason);
  }
  if (!e) wait_topic_gone(client, topic, deadline);
  return e ? SQLITE_ERROR : SQLITE_OK;
}

/* The value of config name in one DescribeConfigs result event. */
static char *described_value(rd_kafka_event_t *ev, const char *name) {
  size_t n = 0, m = 0;
  const rd_kafka_ConfigResource_t **res =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
  if (n != 1 || rd_kafka_ConfigResource_error(res[0])) return NULL;
  const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res[0], &m);
  for (size_t i = 0; i < m; i++)
    if (!strcmp(rd_kafka_ConfigEntry_name(entries[i]), name) && rd_kafka_ConfigEntry_value(entries[i]))
      return sqlite3_mprintf("%s", rd_kafka_ConfigEntry_value(entries[i]));
  return NULL;
}

rd_kafka_resp_err_t client_admin(kafka_client *client, const kafka_options *opts, rd_kafka_admin_op_t op,
                                 client_admin_start *start, void *arg, rd_kafka_event_t **ev) {
  char errstr[256];
  rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(client->rk, op);
  rd_kafka_AdminOptions_set_request_timeout(ao, opts->timeout_ms, errstr, sizeof errstr);
  /* Only some requests take an operation timeout; the others refuse it. */
  rd_kafka_AdminOptions_set_operation_timeout(ao, opts->timeout_ms, errstr, sizeof errstr);
  rd_kafka_queue_t *queue = rd_kafka_queue_new(client->rk);
  start(client->rk, ao, queue, arg);
  /* librdkafka ends the request at the request timeout: the extra second
  ** only lets its answer arrive. */
  rd_kafka_resp_err_t e = client_await_event(client, queue, client_now_ms() + opts->timeout_ms + 1000, ev);
  if (!e) e = rd_kafka_event_error(*ev);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(ao);
  return e;
}

static void describe_topic_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue, void *topic) {
  rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
  rd_kafka_DescribeConfigs(rk, &res, 1, ao, queue);
  rd_kafka_ConfigResource_destroy(res);
}

char *client_topic_config(kafka_client *client, const kafka_options *opts, const char *topic, const char *name) {
  if (brokers_are_mock(opts->brokers)) return NULL; /* no DescribeConfigs there */
  rd_kafka_event_t *ev = NULL;
  rd_kafka_resp_err_t e = client_admin(client, opts, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, describe_topic_start,
                                       (void *)topic, &ev);
  char *value = e ? NULL : described_value(ev, name);
  if (ev) rd_kafka_event_destroy(ev);
  return value;
}

int client_authorization_error(rd_kafka_resp_err_t e) {
  return e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED || e == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
         e == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
         e == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
}

static void group_offsets_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue, void *group) {
  rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
  rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, ao, queue);
  rd_kafka_ListConsumerGroupOffsets_destroy(req);
}

char *client_group_denied(kafka_client *client, const kafka_options *opts, const char *group) {
  if (brokers_are_mock(opts->brokers)) return NULL;
  rd_kafka_event_t *ev = NULL;
  rd_kafka_resp_err_t e = client_admin(client, opts, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
                                       group_offsets_start, (void *)group, &ev);
  size_t n = 0;
  const rd_kafka_group_result_t **groups =
      e ? NULL : rd_kafka_ListConsumerGroupOffsets_result_groups(rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
  const rd_kafka_error_t *error = n == 1 ? rd_kafka_group_result_error(groups[0]) : NULL;
  if (error) e = rd_kafka_error_code(error);
  char *denied = client_authorization_error(e)
                     ? sqlite3_mprintf("kafka: group '%s': not authorized to read the group's offsets (the user "
                                       "needs READ on group '%s'): %s", group, group,
                                       error ? rd_kafka_error_string(error) : rd_kafka_err2str(e))
                     : NULL;
  if (ev) rd_kafka_event_destroy(ev);
  return denied;
}
