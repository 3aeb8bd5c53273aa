/*
** Producing. Every INSERT row becomes one message, handed to librdkafka
** asynchronously so that INSERT ... SELECT streams; delivery reports are
** counted as they arrive and all of them are awaited at the end of the
** statement (autocommit) or at COMMIT (xSync), bounded by timeout_ms. One
** failed delivery fails the statement or the COMMIT, with the count and
** the first reason. With transactional_id, the SQLite transaction is one
** Kafka transaction: committed at xSync, aborted at xRollback.
*/
#include "kafka_ext.h"
#include "client.h"
#include "format.h"
#include "produce.h"

#include <string.h>
#include <time.h>

SQLITE_EXTENSION_INIT3

#define POLL_EVERY 1000       /* rows between serving delivery reports */
#define FLUSH_MARGIN_MS 2000  /* beyond message.timeout.ms, for the reports */

typedef struct kafka_producer {
  kafka_client client;
  rd_kafka_topic_t *topic;
  long long produced;         /* messages handed to librdkafka since xBegin */
  long long acked;
  long long failed;
  char first_failure[512];
  int transactional;
  int in_transaction;         /* a Kafka transaction is open */
} kafka_producer;

/* Delivery reports are served on the thread that polls: no lock needed. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  kafka_producer *p = ((kafka_client *)opaque)->owner;
  if (!m->err) {
    p->acked++;
    return;
  }
  if (!p->failed++)
    snprintf(p->first_failure, sizeof p->first_failure, "partition %d: %s", (int)m->partition,
             rd_kafka_err2str(m->err));
}

/* A producer error as a message; a fatal or abortable one is said so. */
static char *txn_error_text(const char *what, rd_kafka_error_t *error) {
  char *msg = sqlite3_mprintf("kafka: %s: %s", what, rd_kafka_error_string(error));
  rd_kafka_error_destroy(error);
  return msg;
}

static int producer_create(kafka_vtab *vtab, char **err) {
  kafka_producer *p = sqlite3_malloc64(sizeof *p);
  if (!p) return SQLITE_NOMEM;
  memset(p, 0, sizeof *p);
  pthread_mutex_init(&p->client.lock, NULL);
  p->client.owner = p;
  p->transactional = vtab->opts.transactional_id != NULL;
  rd_kafka_conf_t *conf;
  int rc = client_conf(&vtab->opts, CLIENT_PRODUCER, &p->client, &conf, err);
  if (!rc) {
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rc = client_open(&p->client, CLIENT_PRODUCER, conf, err);
  }
  if (!rc && !(p->topic = rd_kafka_topic_new(p->client.rk, vtab->opts.topic, NULL))) {
    *err = sqlite3_mprintf("kafka: topic '%s': %s", vtab->opts.topic, rd_kafka_err2str(rd_kafka_last_error()));
    rc = SQLITE_ERROR;
  }
  rd_kafka_error_t *error = !rc && p->transactional ? rd_kafka_init_transactions(p->client.rk, vtab->opts.timeout_ms) : NULL;
  if (error) {
    *err = txn_error_text("init_transactions", error);
    rc = SQLITE_ERROR;
  }
  if (rc) {
    if (p->topic) rd_kafka_topic_destroy(p->topic);
    if (p->client.rk) rd_kafka_destroy(p->client.rk);
    pthread_mutex_destroy(&p->client.lock);
    sqlite3_free(p);
    return rc;
  }
  vtab->producer = p;
  return SQLITE_OK;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The message fields of one INSERT row. */
typedef struct insert_row {
  int32_t partition;
  int64_t timestamp;
  const void *key, *value;
  size_t key_len, value_len;
  char *composed;               /* the value composed from typed columns */
  rd_kafka_headers_t *headers;  /* owned until produced */
} insert_row;

static int must_be_null(sqlite3_value **cols, int column, const char *name, char **err) {
  if (sqlite3_value_type(cols[column]) == SQLITE_NULL) return SQLITE_OK;
  *err = sqlite3_mprintf("kafka: column %s cannot be set on INSERT", name);
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
    *err = sqlite3_mprintf("kafka: column %s must be an integer from %lld to %lld", name,
                           (long long)min, (long long)max);
    return SQLITE_ERROR;
  }
  *out = sqlite3_value_int64(v);
  return SQLITE_OK;
}

/* Reads and checks one INSERT row (cols[i] is column i). */
static int row_from_values(const kafka_options *opts, sqlite3_value **cols, insert_row *row, char **err) {
  int64_t partition = RD_KAFKA_PARTITION_UA, ts = 0;
  int rc = must_be_null(cols, KAFKA_COL_OFFSET, "offset", err);
  if (!rc) rc = must_be_null(cols, KAFKA_COL_ERROR, "error", err);
  if (!rc) rc = must_be_null(cols, KAFKA_COL_FOLLOW, "follow", err);
  if (!rc) rc = int_column(cols[KAFKA_COL_PARTITION], "partition", 0, INT32_MAX, &partition, err);
  if (!rc) rc = int_column(cols[KAFKA_COL_TIMESTAMP], "timestamp", 0, INT64_MAX, &ts, err);
  if (!rc) rc = format_bytes(cols[KAFKA_COL_KEY], opts->key_format, "key", &row->key, &row->key_len, err);
  if (rc) return rc;
  row->partition = (int32_t)partition;
  row->timestamp = ts;
  if (typed_values_given(opts, cols)) {
    if (sqlite3_value_type(cols[KAFKA_COL_VALUE]) != SQLITE_NULL) {
      *err = sqlite3_mprintf("kafka: give either value or the typed columns, not both");
      return SQLITE_ERROR;
    }
    rc = format_compose_value(opts, cols + KAFKA_COL_TYPED, &row->composed, err);
    row->value = row->composed;
    row->value_len = row->composed ? strlen(row->composed) : 0;
  } else {
    rc = format_bytes(cols[KAFKA_COL_VALUE], opts->value_format, "value", &row->value, &row->value_len, err);
  }
  if (!rc && sqlite3_value_type(cols[KAFKA_COL_HEADERS]) != SQLITE_NULL)
    rc = format_headers_parse((const char *)sqlite3_value_text(cols[KAFKA_COL_HEADERS]), &row->headers, err);
  return rc;
}

/* Hands one message to librdkafka, waiting (bounded) while its queue is
** full: back-pressure instead of unbounded memory. */
static int produce_row(kafka_vtab *vtab, insert_row *row, char **err) {
  kafka_producer *p = vtab->producer;
  long long deadline = now_ms() + vtab->opts.timeout_ms;
  for (;;) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->client.rk, RD_KAFKA_V_RKT(p->topic), RD_KAFKA_V_PARTITION(row->partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(row->key, row->key_len),
        RD_KAFKA_V_VALUE((void *)row->value, row->value_len), RD_KAFKA_V_TIMESTAMP(row->timestamp),
        RD_KAFKA_V_HEADERS(row->headers), RD_KAFKA_V_END);
    if (!e) {
      row->headers = NULL; /* librdkafka owns them now */
      if (++p->produced % POLL_EVERY == 0) rd_kafka_poll(p->client.rk, 0);
      return SQLITE_OK;
    }
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || now_ms() >= deadline) {
      *err = e == RD_KAFKA_RESP_ERR__QUEUE_FULL
                 ? client_timeout_error(&p->client, &vtab->opts, "producing (queue full)")
                 : sqlite3_mprintf("kafka: cannot produce to topic '%s': %s", vtab->opts.topic, rd_kafka_err2str(e));
      return SQLITE_ERROR;
    }
    rd_kafka_poll(p->client.rk, 100);
  }
}

static int begin_transaction(kafka_producer *p, char **err) {
  if (!p->transactional || p->in_transaction) return SQLITE_OK;
  rd_kafka_error_t *error = rd_kafka_begin_transaction(p->client.rk);
  if (error) {
    *err = txn_error_text("begin_transaction", error);
    return SQLITE_ERROR;
  }
  p->in_transaction = 1;
  return SQLITE_OK;
}

static int insert(kafka_vtab *vtab, sqlite3_value **cols, char **err) {
  insert_row row;
  memset(&row, 0, sizeof row);
  int rc = vtab->producer ? SQLITE_OK : producer_create(vtab, err);
  if (!rc) rc = row_from_values(&vtab->opts, cols, &row, err);
  if (!rc) rc = begin_transaction(vtab->producer, err);
  if (!rc) rc = produce_row(vtab, &row, err);
  if (row.headers) rd_kafka_headers_destroy(row.headers);
  sqlite3_free(row.composed);
  return rc;
}

int produce_update(sqlite3_vtab *base, int argc, sqlite3_value **argv, sqlite3_int64 *rowid) {
  kafka_vtab *vtab = (kafka_vtab *)base;
  (void)rowid;
  char *err = NULL;
  int rc;
  if (argc == 1) {
    err = sqlite3_mprintf("kafka: DELETE is not supported: topics are append-only");
    rc = SQLITE_ERROR;
  } else if (sqlite3_value_type(argv[0]) != SQLITE_NULL) {
    err = sqlite3_mprintf("kafka: UPDATE is not supported: topics are append-only");
    rc = SQLITE_ERROR;
  } else {
    rc = insert(vtab, argv + 2, &err);
  }
  if (err) vtab_error(base, "%s", err);
  sqlite3_free(err);
  return rc;
}

int produce_begin(sqlite3_vtab *base) {
  (void)base;
  return SQLITE_OK;
}

/* Awaits every delivery report; messages still undelivered after the
** bound are purged, so that their reports count them as failed. */
static void await_deliveries(kafka_vtab *vtab) {
  kafka_producer *p = vtab->producer;
  rd_kafka_flush(p->client.rk, vtab->opts.timeout_ms + FLUSH_MARGIN_MS);
  if (rd_kafka_outq_len(p->client.rk) > 0) {
    rd_kafka_purge(p->client.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(p->client.rk, FLUSH_MARGIN_MS);
  }
  rd_kafka_poll(p->client.rk, 0);
}

static void reset_counts(kafka_producer *p) {
  p->produced = p->acked = p->failed = 0;
  p->first_failure[0] = 0;
}

static int commit_transaction(kafka_vtab *vtab, char **err) {
  kafka_producer *p = vtab->producer;
  if (!p->in_transaction) return SQLITE_OK;
  rd_kafka_error_t *error = rd_kafka_commit_transaction(p->client.rk, vtab->opts.timeout_ms);
  if (!error) {
    p->in_transaction = 0;
    return SQLITE_OK;
  }
  *err = txn_error_text("commit_transaction", error);
  return SQLITE_ERROR;
}

int produce_sync(sqlite3_vtab *base) {
  kafka_vtab *vtab = (kafka_vtab *)base;
  kafka_producer *p = vtab->producer;
  if (!p) return SQLITE_OK;
  char *err = NULL;
  await_deliveries(vtab);
  long long missing = p->produced - p->acked;
  if (missing > 0) {
    err = sqlite3_mprintf("kafka: %lld of %lld messages were not delivered to topic '%s'%s%s%s",
                          missing, p->produced, vtab->opts.topic, p->failed ? ": " : "",
                          p->first_failure, p->transactional ? " (the transaction is aborted)" : "");
  }
  int rc = err ? SQLITE_ERROR : commit_transaction(vtab, &err);
  if (err) vtab_error(base, "%s", err);
  sqlite3_free(err);
  reset_counts(p);
  return rc;
}

int produce_commit(sqlite3_vtab *base) {
  (void)base;
  return SQLITE_OK;
}

/* Without a transaction, what was produced cannot be taken back: it is
** delivered. With one, the Kafka transaction is aborted. */
int produce_rollback(sqlite3_vtab *base) {
  kafka_vtab *vtab = (kafka_vtab *)base;
  kafka_producer *p = vtab->producer;
  if (!p) return SQLITE_OK;
  if (p->in_transaction) {
    rd_kafka_error_t *error = rd_kafka_abort_transaction(p->client.rk, vtab->opts.timeout_ms);
    if (error) rd_kafka_error_destroy(error);
    p->in_transaction = 0;
  } else {
    await_deliveries(vtab);
  }
  reset_counts(p);
  return SQLITE_OK;
}

void produce_close(kafka_vtab *vtab) {
  kafka_producer *p = vtab->producer;
  if (!p) return;
  if (p->in_transaction) produce_rollback(&vtab->base);
  rd_kafka_flush(p->client.rk, vtab->opts.timeout_ms);
  rd_kafka_topic_destroy(p->topic);
  rd_kafka_destroy(p->client.rk);
  pthread_mutex_destroy(&p->client.lock);
  sqlite3_free(p);
  vtab->producer = NULL;
}
