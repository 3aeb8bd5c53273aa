/*
** Producing, the primitives the transaction coordinator (txn.c) calls
** from the module's transaction methods; this file never calls it. Every
** INSERT row becomes one message, handed to librdkafka asynchronously so
** that INSERT ... SELECT streams (a full queue makes the INSERT wait:
** back-pressure, bounded memory). Delivery reports are counted as they
** arrive; all of them are awaited at xSync (produce_await), which SQLite
** calls at the end of an autocommit statement and at COMMIT, bounded by
** timeout_ms. One failed delivery fails the statement or the COMMIT, with
** the count and the first reason.
**
** Without transactional_id, a message handed to librdkafka cannot be taken
** back: ROLLBACK, ROLLBACK TO and a failed statement leave what was already
** produced to be delivered (and awaited), and the error says how much.
**
** With transactional_id, the SQLite transaction is one Kafka transaction,
** begun on the first INSERT, committed at xSync and aborted at xRollback.
** Tables of the connection on one cluster naming the same transactional_id
** share the producer (the connection's producer registry), so that their
** SQLite transaction is one Kafka transaction too; the coordinator puts
** the offsets of the groups read on that cluster into it at xSync
** (produce_send_offsets: consume-transform-produce).
** A Kafka transaction cannot abort part of itself: ROLLBACK TO a savepoint
** over produced messages, or a statement that fails after producing some,
** aborts the Kafka transaction and the SQLite transaction must be rolled
** back (SQLite does it itself for a failed statement).
**
** The savepoint methods (sqlite3_module iVersion 2 and up; the module is
** iVersion 3 for xShadowName): SQLite calls xSavepoint(i) at a SAVEPOINT
** and at the start of every statement that may write several rows inside a
** transaction, and xRollbackTo(i) / xRelease(i) when it is rolled back or
** released.
*/
#include "base.h"
#include "client.h"
#include "table.h"
#include "codec.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

SQLITE_EXTENSION_INIT3

#define POLL_EVERY 1000       /* rows between serving delivery reports */
#define FLUSH_MARGIN_MS 2000  /* for the reports of purged messages */
#define FLUSH_SLICE_MS 100    /* a flush serves reports: the bound moves on */
#define TXN_TIMEOUT_MS 60000  /* librdkafka's default transaction.timeout.ms */

/* A topic a producer writes: one per table using the producer. */
typedef struct producer_topic {
  char *name;
  rd_kafka_topic_t *handle;
  int partitions;             /* as of the last metadata */
  int64_t *txn_end;           /* per partition: the offset after the open
                              ** transaction's last delivered message, or 0 */
  int n_txn_end;              /* partitions known when txn_end was made */
} producer_topic;

/* A table's producer. Tables of one connection on one cluster that name the
** same transactional_id share one (refs counts them): one SQLite
** transaction over them is one Kafka transaction. */
typedef struct kafka_producer {
  kafka_client client;
  int refs;
  producer_topic *topics;
  int n_topics;
  long long produced;         /* messages handed to librdkafka since xBegin */
  long long acked;
  long long failed;
  long long maybe_written;    /* failed, yet perhaps written (timed out in flight) */
  int interrupted;            /* sqlite3_interrupt() ended the wait for deliveries */
  char first_failure[512];
  rd_kafka_resp_err_t first_err;
  int transactional;
  int in_transaction;         /* a Kafka transaction is open */
  int broken;                 /* a fatal error: recreate the producer */
  char *aborted;              /* why the open transaction was aborted early */
  long long *marks;           /* `produced` at savepoint i, for i < n_marks */
  int n_marks;
  sqlite3_stmt *stmt;         /* the statement run now inserting, ... */
  int stmt_run;               /* ... its run count ... */
  long long stmt_mark;        /* ... and `produced` when it began */
  long long acked_mark;       /* `acked` when it began */
  long long progress_at;      /* when the statement began or last saw a
                              ** delivery: the start of its bound */
  long long acked_seen;       /* `acked` when progress_at was last set */
} kafka_producer;

/* Moves the start of the bound to now when deliveries were reported since
** the last look: after each poll, and in every wait (time_left), which
** serves reports in slices of at most FLUSH_SLICE_MS. on_delivery only
** counts them: a clock read per message was 3% of an INSERT's main thread
** (perf, 500k rows). */
static void note_deliveries(kafka_producer *p) {
  if (p->acked == p->acked_seen) return;
  p->acked_seen = p->acked;
  p->progress_at = client_now_ms();
}

/* What is left of the statement's one bound: timeout_ms from when it began
** or last saw a message delivered, whichever is later. A statement that
** keeps delivering is never cut short; one whose cluster went away ends
** within one timeout_ms, the waits of every phase (producing, delivering,
** committing or aborting, closing the producer) included. */
static int time_left(const kafka_vtab *vtab) {
  kafka_producer *p = vtab->producer;
  note_deliveries(p);
  long long left = p->progress_at + vtab->opts.timeout_ms - client_now_ms();
  return left <= 0 ? 0 : left >= vtab->opts.timeout_ms ? vtab->opts.timeout_ms : (int)left;
}

static producer_topic *topic_of(kafka_producer *p, const char *name) {
  for (int i = 0; i < p->n_topics; i++)
    if (!strcmp(p->topics[i].name, name)) return &p->topics[i];
  return NULL;
}

/* Delivery reports are served on the thread that polls: no lock needed. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  kafka_producer *p = ((kafka_client *)opaque)->owner;
  if (!m->err) {
    p->acked++;
    producer_topic *t = p->transactional ? topic_of(p, rd_kafka_topic_name(m->rkt)) : NULL;
    if (t && m->partition >= 0 && m->partition < t->n_txn_end && m->offset >= 0)
      t->txn_end[m->partition] = m->offset + 1;
    return;
  }
  if (rd_kafka_message_status(m) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED) p->maybe_written++;
  if (p->failed++) return;
  p->first_err = m->err;
  snprintf(p->first_failure, sizeof p->first_failure, "%s (partition %d)", rd_kafka_err2str(m->err),
           (int)m->partition);
}

/* ------------------------------------------------------------ transactions */

typedef rd_kafka_error_t *(*txn_call)(rd_kafka_t *rk, void *arg, int timeout_ms);

static rd_kafka_error_t *init_call(rd_kafka_t *rk, void *arg, int timeout_ms) {
  (void)arg;
  return rd_kafka_init_transactions(rk, timeout_ms);
}

static rd_kafka_error_t *commit_call(rd_kafka_t *rk, void *arg, int timeout_ms) {
  (void)arg;
  return rd_kafka_commit_transaction(rk, timeout_ms);
}

static rd_kafka_error_t *abort_call(rd_kafka_t *rk, void *arg, int timeout_ms) {
  (void)arg;
  return rd_kafka_abort_transaction(rk, timeout_ms);
}

/* A group's offsets for send_offsets_to_transaction. */
typedef struct group_offsets {
  const rd_kafka_topic_partition_list_t *list;
  rd_kafka_consumer_group_metadata_t *group;
} group_offsets;

static rd_kafka_error_t *send_offsets_call(rd_kafka_t *rk, void *arg, int timeout_ms) {
  group_offsets *offsets = arg;
  return rd_kafka_send_offsets_to_transaction(rk, offsets->list, offsets->group, timeout_ms);
}

/* Calls a transactional API until it succeeds, fails for good or
** timeout_ms has passed: librdkafka says a retriable error may be retried
** with the same call. A fatal error marks the producer broken. */
static rd_kafka_error_t *txn_retry(kafka_producer *p, txn_call call, void *arg, int timeout_ms) {
  long long deadline = client_now_ms() + timeout_ms;
  for (;;) {
    long long left = deadline - client_now_ms();
    rd_kafka_error_t *error = call(p->client.rk, arg, left > 0 ? (int)left : 0);
    if (error && rd_kafka_error_is_fatal(error)) p->broken = 1;
    if (!error || !rd_kafka_error_is_retriable(error) || deadline - client_now_ms() <= 0) return error;
    rd_kafka_error_destroy(error);
  }
}

/* Why a transactional producer is fenced, for its error ("" otherwise). */
static const char *fenced_reason(rd_kafka_resp_err_t code) {
  int fenced = code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
               code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
  return fenced ? " (another producer started with this transactional_id, or the transaction stayed "
                  "open past transaction.timeout.ms and the broker aborted it: nothing of it is "
                  "committed)" : "";
}

static char *txn_error_text(kafka_vtab *vtab, const char *what, rd_kafka_error_t *error) {
  char *msg = sqlite3_mprintf("kafka: %s of topic '%s' (transactional_id '%s'): %s%s%s", what,
                              vtab->opts.topic, vtab->opts.transactional_id,
                              rd_kafka_error_string(error), fenced_reason(rd_kafka_error_code(error)),
                              rd_kafka_error_is_fatal(error) ? " (fatal: the producer is recreated)" : "");
  rd_kafka_error_destroy(error);
  return msg;
}

static int begin_transaction(kafka_vtab *vtab, char **err) {
  kafka_producer *p = vtab->producer;
  if (!p->transactional || p->in_transaction) return SQLITE_OK;
  rd_kafka_error_t *error = rd_kafka_begin_transaction(p->client.rk);
  if (error) {
    if (rd_kafka_error_is_fatal(error)) p->broken = 1;
    *err = txn_error_text(vtab, "begin_transaction", error);
    return SQLITE_ERROR;
  }
  p->in_transaction = 1;
  return SQLITE_OK;
}

/* Aborts the open Kafka transaction. When that fails (the cluster does not
** answer), the producer is recreated: the next init_transactions with the
** same transactional.id fences this one and aborts its transaction. */
static void txn_end_clear(kafka_producer *p) {
  for (int i = 0; i < p->n_topics; i++)
    if (p->topics[i].txn_end) memset(p->topics[i].txn_end, 0, sizeof *p->topics[i].txn_end * p->topics[i].n_txn_end);
}

static void abort_transaction(kafka_vtab *vtab) {
  kafka_producer *p = vtab->producer;
  if (!p->in_transaction) return;
  txn_end_clear(p);
  rd_kafka_error_t *error = txn_retry(p, abort_call, NULL, time_left(vtab));
  if (error) {
    p->broken = 1;
    rd_kafka_error_destroy(error);
  }
  p->in_transaction = 0;
}

/* Kafka answers a commit once it is decided; the markers that make its
** messages visible to read_committed readers follow. Waiting (within
** timeout_ms) until each partition's last stable offset has passed the
** transaction's messages means that a SELECT after COMMIT sees them. The
** commit has succeeded either way: a wait that runs out is no error. */
static void await_visible(kafka_vtab *vtab) {
  kafka_producer *p = vtab->producer;
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
  for (int k = 0; k < p->n_topics; k++) {
    producer_topic *t = &p->topics[k];
    for (int i = 0; i < t->n_txn_end; i++)
      if (t->txn_end[i] > 0) rd_kafka_topic_partition_list_add(list, t->name, i)->offset = t->txn_end[i];
  }
  int64_t *stable = sqlite3_malloc64(sizeof *stable * (list->cnt + 1));
  long long deadline = client_now_ms() + vtab->opts.timeout_ms;
  for (int visible = 0; stable && list->cnt && !visible && client_now_ms() < deadline;) {
    char *err = NULL;
    int rc = client_list_offsets(&p->client, &vtab->opts, list, -1, stable, &err);
    sqlite3_free(err);
    visible = 1;
    for (int i = 0; !rc && i < list->cnt; i++) visible &= stable[i] >= list->elems[i].offset;
    if (rc) break;
    if (!visible) nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);
  }
  sqlite3_free(stable);
  rd_kafka_topic_partition_list_destroy(list);
  txn_end_clear(p);
}

/* Commits; a commit that needs an abort is aborted here (the error says
** so). A commit that timed out has an unknown outcome: the producer is
** recreated, which aborts the transaction unless it did commit. */
static int commit_transaction(kafka_vtab *vtab, char **err) {
  kafka_producer *p = vtab->producer;
  if (!p->in_transaction) return SQLITE_OK;
  rd_kafka_error_t *error = txn_retry(p, commit_call, NULL, time_left(vtab));
  if (!error) {
    p->in_transaction = 0;
    await_visible(vtab);
    return SQLITE_OK;
  }
  if (rd_kafka_error_txn_requires_abort(error)) {
    *err = txn_error_text(vtab, "commit (the transaction is aborted)", error);
    abort_transaction(vtab);
  } else if (rd_kafka_error_is_retriable(error)) {
    *err = txn_error_text(vtab, "commit (no answer within timeout_ms: the outcome is unknown)", error);
    p->broken = 1;
    p->in_transaction = 0;
  } else {
    *err = txn_error_text(vtab, "commit", error);
    abort_transaction(vtab);
  }
  return SQLITE_ERROR;
}

/* ---------------------------------------------------------------- producer */

/* transaction.timeout.ms must not be below message.timeout.ms, which the
** extension sets to timeout_ms: raise it when the user did not set it. */
static int conf_transaction_timeout(const kafka_options *opts, rd_kafka_conf_t *conf, char **err) {
  for (int i = 0; i < opts->n_rdkafka; i++)
    if (!strcmp(opts->rdkafka[i].name, "transaction.timeout.ms")) return SQLITE_OK;
  if (!opts->transactional_id || opts->timeout_ms <= TXN_TIMEOUT_MS) return SQLITE_OK;
  char value[16], errstr[256];
  snprintf(value, sizeof value, "%d", opts->timeout_ms);
  if (rd_kafka_conf_set(conf, "transaction.timeout.ms", value, errstr, sizeof errstr) == RD_KAFKA_CONF_OK)
    return SQLITE_OK;
  *err = sqlite3_mprintf("kafka: transaction.timeout.ms: %s", errstr);
  return SQLITE_ERROR;
}

static void producer_release(void *owner) {
  kafka_producer *p = owner;
  pthread_mutex_destroy(&p->client.lock);
  sqlite3_free(p->aborted);
  sqlite3_free(p->marks);
  for (int i = 0; i < p->n_topics; i++) {
    sqlite3_free(p->topics[i].name);
    sqlite3_free(p->topics[i].txn_end);
  }
  sqlite3_free(p->topics);
  sqlite3_free(p);
}

static void producer_free(kafka_producer *p) {
  for (int i = 0; i < p->n_topics; i++)
    if (p->topics[i].handle) rd_kafka_topic_destroy(p->topics[i].handle);
  if (p->client.rk) client_destroy_handle(p->client.rk, producer_release, p);
  else producer_release(p);
}

/* Adds the table's topic to its producer: a handle and the partition count
** (which also proves the cluster answers), bounded by timeout_ms. */
static int topic_add(kafka_vtab *vtab, char **err) {
  kafka_producer *p = vtab->producer;
  if (topic_of(p, vtab->opts.topic)) return SQLITE_OK;
  producer_topic t;
  memset(&t, 0, sizeof t);
  int rc = (t.name = sqlite3_mprintf("%s", vtab->opts.topic)) ? SQLITE_OK : SQLITE_NOMEM;
  if (!rc && !(t.handle = rd_kafka_topic_new(p->client.rk, vtab->opts.topic, NULL))) {
    *err = sqlite3_mprintf("kafka: topic '%s': %s", vtab->opts.topic, rd_kafka_err2str(rd_kafka_last_error()));
    rc = SQLITE_ERROR;
  }
  if (!rc) rc = client_topic_partitions(&p->client, &vtab->opts, vtab->opts.topic, &t.partitions, err);
  if (!rc && p->transactional) {
    t.n_txn_end = t.partitions;
    t.txn_end = sqlite3_malloc64(sizeof *t.txn_end * (t.partitions ? t.partitions : 1));
    if (t.txn_end) memset(t.txn_end, 0, sizeof *t.txn_end * (t.partitions ? t.partitions : 1));
    else rc = SQLITE_NOMEM;
  }
  producer_topic *grown = rc ? NULL : sqlite3_realloc64(p->topics, sizeof *grown * (p->n_topics + 1));
  if (!rc && !grown) rc = SQLITE_NOMEM;
  if (rc) { /* nothing half-built stays: a shared producer would skip the checks next time */
    if (t.handle) rd_kafka_topic_destroy(t.handle);
    sqlite3_free(t.name);
    sqlite3_free(t.txn_end);
    return rc;
  }
  p->topics = grown;
  p->topics[p->n_topics++] = t;
  return SQLITE_OK;
}

/* ------------------------------------------------------- shared producers */

typedef struct producer_member {
  kafka_vtab *vtab;
  struct producer_member *next;
} producer_member;

/* Out of memory, the table keeps a producer of its own. */
static void registry_attach(kafka_vtab *vtab) {
  producer_member *m = sqlite3_malloc64(sizeof *m);
  if (!m) return;
  m->vtab = vtab;
  m->next = vtab->producers->members;
  vtab->producers->members = m;
}

static void registry_detach(kafka_vtab *vtab) {
  for (producer_member **at = &vtab->producers->members; *at; at = &(*at)->next)
    if ((*at)->vtab == vtab) {
      producer_member *gone = *at;
      *at = gone->next;
      sqlite3_free(gone);
      return;
    }
}

/* Another table of the connection with a producer, on the same cluster,
** naming the same transactional_id (NULL: none). */
static kafka_vtab *registry_sibling(const kafka_vtab *vtab) {
  for (producer_member *m = vtab->producers->members; m; m = m->next)
    if (m->vtab != vtab && cluster_same(m->vtab, vtab) &&
        !strcmp(m->vtab->opts.transactional_id, vtab->opts.transactional_id))
      return m->vtab;
  return NULL;
}

/* librdkafka fills a batch up to batch.size (1,000,000 bytes) and does
** not split one that the broker rejects as larger than the topic's
** max.message.bytes (the Java producer does): for a topic whose limit is
** smaller, batches are kept within it. The limit is asked once per
** producer, through the table's kept consumer or a short-lived one; when
** it cannot be had, librdkafka's default stays. rdkafka.batch.size wins. */
static int conf_batch_size(kafka_vtab *vtab, rd_kafka_conf_t *conf, char **err) {
  for (int i = 0; i < vtab->opts.n_rdkafka; i++)
    if (!strcmp(vtab->opts.rdkafka[i].name, "batch.size")) return SQLITE_OK;
  char batch[32];
  size_t size = sizeof batch;
  if (rd_kafka_conf_get(conf, "batch.size", batch, &size) != RD_KAFKA_CONF_OK) return SQLITE_OK;
  kafka_client *own = NULL;
  if (!vtab->idle && client_new_consumer(&vtab->opts, &own, err)) {
    sqlite3_free(*err); /* only a hint: the producer reports what is wrong */
    *err = NULL;
    return SQLITE_OK;
  }
  char *limit = client_topic_config(own ? own : vtab->idle, &vtab->opts, vtab->opts.topic, "max.message.bytes");
  client_free(own);
  int rc = SQLITE_OK;
  if (limit && atoll(limit) > 0 && atoll(limit) < atoll(batch) &&
      rd_kafka_conf_set(conf, "batch.size", limit, batch, sizeof batch) != RD_KAFKA_CONF_OK) {
    *err = sqlite3_mprintf("kafka: topic '%s': batch.size %s: %s", vtab->opts.topic, limit, batch);
    rc = SQLITE_ERROR;
  }
  sqlite3_free(limit);
  return rc;
}

/* The producer of the table, created on its first INSERT, with
** transactional_id initializing transactions (bounded by timeout_ms). */
static int producer_create(kafka_vtab *vtab, char **err) {
  kafka_producer *p = sqlite3_malloc64(sizeof *p);
  if (!p) return SQLITE_NOMEM;
  memset(p, 0, sizeof *p);
  pthread_mutex_init(&p->client.lock, NULL);
  p->client.owner = p;
  p->transactional = vtab->opts.transactional_id != NULL;
  p->progress_at = client_now_ms();
  p->refs = 1;
  rd_kafka_conf_t *conf;
  int rc = client_conf(&vtab->opts, CLIENT_PRODUCER, &p->client, &conf, err);
  if (!rc && ((rc = conf_transaction_timeout(&vtab->opts, conf, err)) || (rc = conf_batch_size(vtab, conf, err))))
    rd_kafka_conf_destroy(conf);
  if (!rc) {
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rc = client_open(&p->client, CLIENT_PRODUCER, conf, err);
  }
  vtab->producer = p;
  /* sqlite3_interrupt() ends the producer's first metadata wait. */
  if (!rc && !(rc = client_watch(&p->client, vtab->db))) {
    rc = topic_add(vtab, err);
    client_unwatch(&p->client);
  }
  vtab->producer = NULL;
  rd_kafka_error_t *error = !rc && p->transactional
                                ? txn_retry(p, init_call, NULL, vtab->opts.timeout_ms)
                                : NULL;
  if (error) {
    *err = txn_error_text(vtab, "init_transactions", error);
    rc = SQLITE_ERROR;
  }
  if (rc) {
    producer_free(p);
    return rc;
  }
  vtab->producer = p;
  if (p->transactional) registry_attach(vtab);
  cluster_learn(vtab, &p->client);
  return SQLITE_OK;
}

/* Lets go of the table's producer. The last table using it flushes what is
** pending (within what is left of the statement's bound, or timeout_ms at
** disconnect) and destroys it: its threads are joined by rd_kafka_destroy
** (bounded, see client.c). */
static void producer_destroy(kafka_vtab *vtab, int wait_ms) {
  kafka_producer *p = vtab->producer;
  if (!p) return;
  if (p->transactional) registry_detach(vtab);
  if (--p->refs > 0) {
    vtab->producer = NULL;
    return;
  }
  abort_transaction(vtab);
  if (rd_kafka_flush(p->client.rk, wait_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
    rd_kafka_purge(p->client.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  producer_free(p);
  vtab->producer = NULL;
}

static int producer_is_broken(kafka_producer *p) {
  return p->broken || rd_kafka_fatal_error(p->client.rk, NULL, 0);
}

/* With transactional_id: the producer of another table of the connection
** on the same cluster with the same id, when it has one that works. */
static int producer_share(kafka_vtab *vtab, char **err) {
  kafka_vtab *sibling = vtab->opts.transactional_id ? registry_sibling(vtab) : NULL;
  if (!sibling || producer_is_broken(sibling->producer)) return SQLITE_OK;
  vtab->producer = sibling->producer;
  vtab->producer->refs++;
  registry_attach(vtab);
  int rc = topic_add(vtab, err);
  if (rc) producer_destroy(vtab, 0);
  return rc;
}

/* A producer that hit a fatal error is replaced, between transactions. */
static int producer_ready(kafka_vtab *vtab, char **err) {
  kafka_producer *p = vtab->producer;
  if (p && !p->produced && !p->in_transaction && producer_is_broken(p))
    producer_destroy(vtab, time_left(vtab));
  int rc = vtab->producer ? SQLITE_OK : producer_share(vtab, err);
  if (!rc && !vtab->producer) rc = producer_create(vtab, err);
  return rc;
}

/* ------------------------------------------------------------------- rows */

/* The message fields of one INSERT row. */
typedef struct insert_row {
  int32_t partition;
  int64_t timestamp;
  const void *key, *value;
  size_t key_len, value_len;
  char *composed;               /* the value composed from typed columns */
  void *encoded[2];             /* registry formats: the framed value [0] and key [1] */
  int typed;                    /* registry formats: the value is the typed columns' */
  rd_kafka_headers_t *headers;  /* owned until produced */
} insert_row;

static int must_be_null(sqlite3_value **cols, int column, const char *name, char **err) {
  if (sqlite3_value_type(cols[column]) == SQLITE_NULL) return SQLITE_OK;
  *err = sqlite3_mprintf("kafka: column %s cannot be set on INSERT (it must be NULL)", name);
  return SQLITE_ERROR;
}

static int typed_values_given(const kafka_options *opts, sqlite3_value **cols) {
  for (int i = 0; i < opts->n_columns; i++)
    if (sqlite3_value_type(cols[KAFKA_COL_TYPED + i]) != SQLITE_NULL) return 1;
  return 0;
}

static int int_column(sqlite3_value *v, const char *name, int64_t min, int64_t max, int64_t *out,
                      char **err) {
  if (sqlite3_value_type(v) == SQLITE_NULL) return SQLITE_OK;
  if (sqlite3_value_numeric_type(v) != SQLITE_INTEGER || sqlite3_value_int64(v) < min ||
      sqlite3_value_int64(v) > max) {
    *err = sqlite3_value_type(v) == SQLITE_BLOB
               ? sqlite3_mprintf("kafka: column %s must be an integer from %lld to %lld, not a BLOB",
                                 name, (long long)min, (long long)max)
               : sqlite3_mprintf("kafka: column %s must be an integer from %lld to %lld, not %.40Q",
                                 name, (long long)min, (long long)max, sqlite3_value_text(v));
    return SQLITE_ERROR;
  }
  *out = sqlite3_value_int64(v);
  return SQLITE_OK;
}

/* A partition the topic has; the metadata is refreshed once before saying
** no, since partitions can be added. */
static int partition_check(kafka_vtab *vtab, int32_t partition, char **err) {
  if (partition == RD_KAFKA_PARTITION_UA) return SQLITE_OK;
  kafka_producer *p = vtab->producer;
  producer_topic *t = topic_of(p, vtab->opts.topic);
  if (partition < t->partitions) return SQLITE_OK;
  int rc = client_topic_partitions(&p->client, &vtab->opts, vtab->opts.topic, &t->partitions, err);
  if (rc || partition < t->partitions) return rc;
  *err = sqlite3_mprintf("kafka: partition %d does not exist: topic '%s' has %d partition%s (0 to %d)",
                         (int)partition, vtab->opts.topic, t->partitions, t->partitions == 1 ? "" : "s",
                         t->partitions - 1);
  return SQLITE_ERROR;
}

/* The value: given, composed from the typed columns, or NULL (tombstone). */
static int row_value(const kafka_options *opts, sqlite3_value **cols, insert_row *row, char **err) {
  if (!typed_values_given(opts, cols))
    return format_bytes(cols[KAFKA_COL_VALUE], opts->value_format, "value", &row->value,
                        &row->value_len, err);
  if (sqlite3_value_type(cols[KAFKA_COL_VALUE]) != SQLITE_NULL) {
    *err = sqlite3_mprintf("kafka: give either value or the typed columns, not both");
    return SQLITE_ERROR;
  }
  /* A registry format encodes the typed columns itself (row_encode). */
  if (codec_for(opts->value_format)) {
    row->typed = 1;
    return SQLITE_OK;
  }
  int rc = format_compose_value(opts, cols + KAFKA_COL_TYPED, &row->composed, err);
  row->value = row->composed;
  row->value_len = row->composed ? strlen(row->composed) : 0;
  return rc;
}

/* Reads and checks one INSERT row (cols[i] is column i). */
static int row_from_values(kafka_vtab *vtab, sqlite3_value **cols, insert_row *row, char **err) {
  const kafka_options *opts = &vtab->opts;
  /* librdkafka takes timestamp 0 to mean "now": the first is 1. */
  int64_t partition = RD_KAFKA_PARTITION_UA, ts = 0;
  int rc = must_be_null(cols, KAFKA_COL_OFFSET, "offset", err);
  if (!rc) rc = must_be_null(cols, KAFKA_COL_ERROR, "error", err);
  if (!rc) rc = must_be_null(cols, KAFKA_COL_FOLLOW, "follow", err);
  if (!rc) rc = must_be_null(cols, KAFKA_COL_SCHEMA_ID, "schema_id", err);
  if (!rc) rc = int_column(cols[KAFKA_COL_PARTITION], "partition", 0, INT32_MAX, &partition, err);
  if (!rc) rc = partition_check(vtab, (int32_t)partition, err);
  if (!rc) rc = int_column(cols[KAFKA_COL_TIMESTAMP], "timestamp", 1, INT64_MAX, &ts, err);
  if (!rc) rc = format_bytes(cols[KAFKA_COL_KEY], opts->key_format, "key", &row->key, &row->key_len, err);
  if (!rc) rc = row_value(opts, cols, row, err);
  if (!rc && sqlite3_value_type(cols[KAFKA_COL_HEADERS]) != SQLITE_NULL)
    rc = format_headers_parse((const char *)sqlite3_value_text(cols[KAFKA_COL_HEADERS]), &row->headers, err);
  row->partition = (int32_t)partition;
  row->timestamp = ts;
  return rc;
}

/* The failed deliveries as an error message (NULL when none): at the end
** (final), every message not acknowledged counts; before it, those whose
** report said they failed. */
/* The authorization error behind failed deliveries: the broker's for the
** messages, or the producer's fatal error (an idempotent producer that may
** not get its producer id purges every message with "Purged in queue"). */
static char *denied_write(kafka_vtab *vtab) {
  kafka_producer *p = vtab->producer;
  char fatal[512];
  rd_kafka_resp_err_t e = rd_kafka_fatal_error(p->client.rk, fatal, sizeof fatal);
  const char *why = fatal;
  if (!client_authorization_error(e)) {
    e = p->first_err;
    why = p->failed ? p->first_failure : "";
  }
  if (!client_authorization_error(e)) return NULL;
  return sqlite3_mprintf("not authorized to write to topic '%s' (the user needs WRITE on the topic%s): %s",
                         vtab->opts.topic, p->transactional ? " and on its transactional_id" : "", why);
}

static char *delivery_error(kafka_vtab *vtab, int final) {
  kafka_producer *p = vtab->producer;
  long long missing = final ? p->produced - p->acked : p->failed;
  if (!missing) return NULL;
  sqlite3_str *msg = sqlite3_str_new(NULL);
  char *denied = denied_write(vtab);
  sqlite3_str_appendf(msg, "kafka: %s%lld of %lld messages %s not delivered to topic '%s': %s",
                      p->interrupted ? "interrupted: " : "", missing, p->produced, final ? "were" : "produced so far were", vtab->opts.topic,
                      denied ? denied : p->failed ? p->first_failure : "no delivery report within the bound");
  if (denied) {
    sqlite3_free(denied);
    return sqlite3_str_finish(msg);
  }
  if (p->failed) sqlite3_str_appendall(msg, fenced_reason(p->first_err));
  char last[512];
  client_last_error(&p->client, last, sizeof last);
  /* Purged: still undelivered when the statement's bound ran out. */
  int timed_out = p->first_err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ||
                  p->first_err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || p->first_err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
  if (timed_out && *last)
    sqlite3_str_appendf(msg, " after timeout_ms=%d; the cluster's last error: %s", vtab->opts.timeout_ms, last);
  if (p->maybe_written)
    sqlite3_str_appendf(msg, "; %lld of them may have been written all the same (no answer in time)",
                        p->maybe_written);
  long long awaiting = p->produced - p->acked - p->failed;
  if (!final && awaiting > 0)
    sqlite3_str_appendf(msg, "; %lld more await their delivery reports", awaiting);
  if (p->transactional)
    sqlite3_str_appendall(msg, " (the transaction is aborted: nothing of it is committed)");
  else if (p->acked)
    sqlite3_str_appendf(msg, " (the %lld delivered are not taken back: without transactional_id each "
                        "message stands alone)", p->acked);
  return sqlite3_str_finish(msg);
}

/* Serves delivery reports; a failed delivery stops the statement early:
** the messages after it would likely fail the same way. In a Kafka
** transaction it dooms the transaction: later INSERTs fail the same way. */
static int serve_reports(kafka_vtab *vtab, int wait_ms, char **err) {
  kafka_producer *p = vtab->producer;
  rd_kafka_poll(p->client.rk, wait_ms);
  note_deliveries(p);
  if (!p->failed) return SQLITE_OK;
  *err = delivery_error(vtab, 0);
  if (p->transactional && !p->aborted && *err) p->aborted = sqlite3_mprintf("%s", *err);
  return SQLITE_ERROR;
}

static char *produce_error_text(kafka_vtab *vtab, const insert_row *row, rd_kafka_resp_err_t e) {
  if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
    return sqlite3_mprintf("kafka: message too large for topic '%s': key %lld bytes + value %lld "
                           "bytes + headers exceed the producer's message.max.bytes (raise "
                           "rdkafka.message.max.bytes, within the broker's and topic's limits)",
                           vtab->opts.topic, (long long)row->key_len, (long long)row->value_len);
  return sqlite3_mprintf("kafka: cannot produce to topic '%s': %s", vtab->opts.topic, rd_kafka_err2str(e));
}

/* Hands one message to librdkafka, waiting (bounded) while its queue is
** full: back-pressure instead of unbounded memory. */
static int produce_row(kafka_vtab *vtab, insert_row *row, char **err) {
  kafka_producer *p = vtab->producer;
  for (;;) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->client.rk, RD_KAFKA_V_RKT(topic_of(p, vtab->opts.topic)->handle), RD_KAFKA_V_PARTITION(row->partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(row->key, row->key_len),
        RD_KAFKA_V_VALUE((void *)row->value, row->value_len), RD_KAFKA_V_TIMESTAMP(row->timestamp),
        RD_KAFKA_V_HEADERS(row->headers), RD_KAFKA_V_END);
    if (!e) {
      row->headers = NULL; /* librdkafka owns them now */
      return ++p->produced % POLL_EVERY ? SQLITE_OK : serve_reports(vtab, 0, err);
    }
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      *err = produce_error_text(vtab, row, e);
      return SQLITE_ERROR;
    }
    if (!time_left(vtab)) {
      *err = client_timeout_error(&p->client, &vtab->opts, "producing (the queue stayed full)");
      return SQLITE_ERROR;
    }
    if (serve_reports(vtab, 100, err)) return SQLITE_ERROR;
  }
}

/* Notes which statement run is inserting: SQLite gives a virtual table no
** statement boundaries inside a transaction, but the busy statement that
** writes and its run count identify one. */
static void statement_track(kafka_vtab *vtab) {
  kafka_producer *p = vtab->producer;
  sqlite3_stmt *stmt = statement_writing(vtab->db);
  int run = stmt ? sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_RUN, 0) : 0;
  if (stmt == p->stmt && run == p->stmt_run) return;
  p->stmt = stmt;
  p->stmt_run = run;
  p->stmt_mark = p->produced;
  p->acked_mark = p->acked;
  p->progress_at = client_now_ms();
}

/* At COMMIT or ROLLBACK: a statement of its own (not the end of an
** autocommit INSERT, which keeps its bound) gets a bound of its own. */
static void bound_restart_for_new_statement(kafka_vtab *vtab) {
  kafka_producer *p = vtab->producer;
  sqlite3_stmt *stmt = statement_writing(vtab->db);
  if (!stmt || stmt != p->stmt || sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_RUN, 0) != p->stmt_run)
    p->progress_at = client_now_ms();
}

/* What became of the rows the failed statement handed to librdkafka
** before failing: only what delivery reports said is known. Without
** transactional_id, those delivered stay and the rest may have been
** produced; with it, the whole Kafka transaction is aborted. */
static char *statement_failed(kafka_vtab *vtab, char *err) {
  kafka_producer *p = vtab->producer;
  long long done = p ? p->produced - p->stmt_mark : 0;
  if (!done || !err) return err;
  long long delivered = p->acked - p->acked_mark;
  if (delivered > done) delivered = done;
  char *msg;
  if (p->transactional)
    msg = sqlite3_mprintf("%s (the %lld message%s this statement produced before cannot be taken back "
                          "alone: the Kafka transaction is aborted and the transaction rolled back)",
                          err, done, done == 1 ? "" : "s");
  else
    msg = sqlite3_mprintf("%s (of the %lld earlier row%s this statement handed to the producer, %lld "
                          "%s delivered to topic '%s' and %s not taken back, and %lld may have been "
                          "produced: no delivery report said so yet; give the table a transactional_id "
                          "to make a statement all-or-nothing)", err, done, done == 1 ? "" : "s",
                          delivered, delivered == 1 ? "was" : "were", vtab->opts.topic,
                          delivered == 1 ? "is" : "are", done - delivered);
  sqlite3_free(err);
  return msg;
}

/* A key and value in registry formats: their JSON encoded and framed.
** Nothing is produced when that fails: the error names the field. */
static int row_encode(kafka_vtab *vtab, sqlite3_value **cols, insert_row *row, char **err) {
  const void **data[2] = {&row->value, &row->key};
  size_t *len[2] = {&row->value_len, &row->key_len};
  const kafka_format formats[2] = {vtab->opts.value_format, vtab->opts.key_format};
  if (row->typed) {
    int rc = schemas_encode_columns(vtab, cols + KAFKA_COL_TYPED, &row->encoded[0], &row->value_len, err);
    if (rc) return rc;
    row->value = row->encoded[0];
  }
  for (int key = row->typed; key < 2; key++) {
    if (!codec_for(formats[key]) || !*data[key]) continue;
    int rc = schemas_encode(vtab, key, *data[key], *len[key], &row->encoded[key], len[key], err);
    if (rc) return rc;
    *data[key] = row->encoded[key];
  }
  return SQLITE_OK;
}

static int insert(kafka_vtab *vtab, sqlite3_value **cols, char **err) {
  insert_row row;
  memset(&row, 0, sizeof row);
  int rc = producer_ready(vtab, err);
  if (!rc) statement_track(vtab);
  if (!rc && vtab->producer->aborted) {
    *err = sqlite3_mprintf("%s", vtab->producer->aborted);
    rc = SQLITE_ERROR;
  }
  if (!rc) rc = row_from_values(vtab, cols, &row, err);
  if (!rc) rc = row_encode(vtab, cols, &row, err);
  if (!rc) rc = begin_transaction(vtab, err);
  if (!rc) rc = produce_row(vtab, &row, err);
  if (row.headers) rd_kafka_headers_destroy(row.headers);
  sqlite3_free(row.composed);
  sqlite3_free(row.encoded[0]);
  sqlite3_free(row.encoded[1]);
  return rc;
}

int produce_update(sqlite3_vtab *base, int argc, sqlite3_value **argv, sqlite3_int64 *rowid) {
  kafka_vtab *vtab = (kafka_vtab *)base;
  (void)rowid;
  char *err = NULL;
  int rc;
  if (argc == 1) {
    err = sqlite3_mprintf("kafka: DELETE is not supported: topics are append-only (to drop a "
                          "topic, call kafka_delete_topic())");
    rc = SQLITE_ERROR;
  } else if (sqlite3_value_type(argv[0]) != SQLITE_NULL) {
    err = sqlite3_mprintf("kafka: UPDATE is not supported: topics are append-only (INSERT a new "
                          "message instead)");
    rc = SQLITE_ERROR;
  } else if (connection_read_only(vtab->db)) {
    char *what = sqlite3_mprintf("kafka: INSERT into %s", vtab->table_name);
    err = read_only_error(what ? what : "kafka: INSERT");
    sqlite3_free(what);
    rc = SQLITE_READONLY;
  } else {
    rc = insert(vtab, argv + 2, &err);
    if (rc) err = statement_failed(vtab, err);
  }
  if (err) vtab_error(base, "%s", err);
  sqlite3_free(err);
  return rc;
}

/* ------------------------------------------------------ transaction methods */

int produce_start(kafka_vtab *vtab, char **err) {
  return producer_ready(vtab, err);
}

int produce_send_offsets(kafka_vtab *vtab, const kafka_vtab *group_table, const rd_kafka_topic_partition_list_t *list,
                         char **err) {
  const char *group = group_table->opts.group;
  rd_kafka_topic_partition_list_t *owned = member_owned(group_table, list);
  int lost = owned->cnt < list->cnt;
  rd_kafka_topic_partition_list_destroy(owned);
  if (lost) {
    *err = sqlite3_mprintf("kafka: group '%s' (topic '%s'): a partition this statement read was assigned to "
                           "another member meanwhile (a rebalance): the transaction is not committed, so that "
                           "its rows are not written twice; run the statement again",
                           group, group_table->opts.topic);
    return SQLITE_ERROR;
  }
  int rc = producer_ready(vtab, err);
  if (!rc) rc = begin_transaction(vtab, err);
  if (rc) return rc;
  group_offsets offsets = {list, member_metadata(group_table)};
  rd_kafka_error_t *error = txn_retry(vtab->producer, send_offsets_call, &offsets, time_left(vtab));
  rd_kafka_consumer_group_metadata_destroy(offsets.group);
  if (!error) return SQLITE_OK;
  int fenced = member_refused(rd_kafka_error_code(error));
  char *what = sqlite3_mprintf("send_offsets_to_transaction of group '%s'", group);
  *err = txn_error_text(vtab, what ? what : "send_offsets_to_transaction", error);
  sqlite3_free(what);
  if (fenced && *err)
    *err = sqlite3_mprintf("%z: this process's membership of the group ended while the statement ran (a "
                           "rebalance, or a restarted broker that forgot it): nothing was committed, so that no "
                           "input is written twice; run the statement again", *err);
  return SQLITE_ERROR;
}

/* Awaits every delivery report; messages still undelivered after the
** bound are purged, so that their reports count them as failed. */
static void await_deliveries(kafka_vtab *vtab) {
  kafka_producer *p = vtab->producer;
  /* sqlite3_interrupt() (Ctrl-C) ends the wait too: what is undelivered
  ** then is purged and reported. */
  int watching = client_watch(&p->client, vtab->db) == SQLITE_OK;
  while (rd_kafka_outq_len(p->client.rk) > 0 && time_left(vtab) > 0 &&
         !(p->interrupted = watching && client_interrupted(p->client.interrupt_probe)))
    rd_kafka_flush(p->client.rk, time_left(vtab) < FLUSH_SLICE_MS ? time_left(vtab) : FLUSH_SLICE_MS);
  client_unwatch(&p->client);
  if (rd_kafka_outq_len(p->client.rk) > 0) {
    rd_kafka_purge(p->client.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(p->client.rk, FLUSH_MARGIN_MS);
  }
  rd_kafka_poll(p->client.rk, 0);
}

/* The transaction is over: counts start again; a broken producer goes.
** So does a transactional one that saw a delivery fail: librdkafka 2.0.2
** keeps the failed message's sequence number after the abort, and the next
** transaction's first message is then rejected as out of order. */
static void transaction_end(kafka_vtab *vtab) {
  kafka_producer *p = vtab->producer;
  if (p->transactional && p->failed) p->broken = 1;
  p->produced = p->acked = p->acked_seen = p->failed = p->maybe_written = p->interrupted = 0;
  p->first_failure[0] = 0;
  p->first_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  p->n_marks = 0;
  p->stmt = NULL;
  sqlite3_free(p->aborted);
  p->aborted = NULL;
  if (p->broken || rd_kafka_fatal_error(p->client.rk, NULL, 0)) producer_destroy(vtab, time_left(vtab));
}

int produce_await(kafka_vtab *vtab, char **err) {
  kafka_producer *p = vtab->producer;
  if (!p) return SQLITE_OK;
  bound_restart_for_new_statement(vtab);
  *err = p->aborted ? sqlite3_mprintf("%s", p->aborted) : NULL;
  if (!*err && p->produced) {
    await_deliveries(vtab);
    *err = delivery_error(vtab, 1);
  }
  return *err ? SQLITE_ERROR : SQLITE_OK;
}

int produce_in_transaction(const kafka_vtab *vtab) {
  return vtab->producer && vtab->producer->in_transaction;
}

int produce_commit_transaction(kafka_vtab *vtab, char **err) {
  return vtab->producer ? commit_transaction(vtab, err) : SQLITE_OK;
}

void produce_transaction_end(kafka_vtab *vtab) {
  if (vtab->producer) transaction_end(vtab);
}

/* Without a transaction, what was produced cannot be taken back: its
** delivery is awaited. With one, the Kafka transaction is aborted. */
void produce_rollback_transaction(kafka_vtab *vtab) {
  kafka_producer *p = vtab->producer;
  if (!p) return;
  bound_restart_for_new_statement(vtab);
  if (p->in_transaction) abort_transaction(vtab);
  else if (p->produced) await_deliveries(vtab);
  transaction_end(vtab);
}

/* `produced` when savepoint i began; a savepoint taken before the producer
** existed began at 0. */
int produce_savepoint(kafka_vtab *vtab, int i) {
  kafka_producer *p = vtab->producer;
  if (!p) return SQLITE_OK;
  if (i >= p->n_marks) {
    long long *grown = sqlite3_realloc64(p->marks, sizeof *grown * (i + 1));
    if (!grown) return SQLITE_NOMEM;
    p->marks = grown;
    for (int k = p->n_marks; k < i; k++) p->marks[k] = 0;
  }
  p->marks[i] = p->produced;
  p->n_marks = i + 1;
  return SQLITE_OK;
}

int produce_release(kafka_vtab *vtab, int i) {
  kafka_producer *p = vtab->producer;
  if (p && i < p->n_marks) p->n_marks = i;
  return SQLITE_OK;
}

/* Rolling back to a savepoint cannot take messages back. Without
** transactional_id that is the rule (they stay produced). With it, the
** Kafka transaction can only be aborted whole: it is, now, and the SQLite
** transaction can then only be rolled back. The refusal's own text does not
** reach the user (SQLite reports "abort due to ROLLBACK"); the next INSERT
** or the COMMIT says why. */
int produce_rollback_to(kafka_vtab *vtab, int i) {
  kafka_producer *p = vtab->producer;
  if (!p) return SQLITE_OK;
  long long since = p->produced - (i < p->n_marks ? p->marks[i] : 0);
  if (i < p->n_marks) p->n_marks = i + 1;
  if (!p->transactional || !since || p->aborted) return p->aborted ? SQLITE_ABORT_ROLLBACK : SQLITE_OK;
  abort_transaction(vtab);
  p->aborted = sqlite3_mprintf(
      "kafka: the Kafka transaction of topic '%s' was aborted: rolling back to a savepoint cannot "
      "take back the %lld message%s produced since it (a Kafka transaction is all or nothing); "
      "ROLLBACK the transaction and run it again",
      vtab->opts.topic, since, since == 1 ? "" : "s");
  sqlite3_log(SQLITE_ABORT_ROLLBACK, "%s", p->aborted);
  return SQLITE_ABORT_ROLLBACK;
}

void produce_close(kafka_vtab *vtab) {
  producer_destroy(vtab, vtab->opts.timeout_ms);
}
