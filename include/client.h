/*
** sqlite-kafka: the client layer (ext/client/): librdkafka handles and the Schema Registry over HTTP.
**
** One header per layer; a layer includes the header of the layer below it
** and never one above (tests/test_layers.py checks it).
*/
#ifndef KAFKA_CLIENT_H
#define KAFKA_CLIENT_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <cjson/cJSON.h>
#include <stdint.h>

#include "base.h"

/* ==== client ==== */
/*
** librdkafka handles for the extension (ext/client/client.c): configuration from
** the options, the in-process mock cluster, metadata and topic creation.
*/

typedef enum client_role { CLIENT_CONSUMER, CLIENT_PRODUCER } client_role;

/* Bootstrap brokers a client tells apart (more: it never fails fast). */
#define CLIENT_MAX_BOOTSTRAP 16

/* A librdkafka handle with what its callbacks reported: the handle's
** opaque. last_error keeps the latest error event or warning log line so
** that a timeout can say why the cluster did not answer. */
typedef struct kafka_client {
  rd_kafka_t *rk;
  pthread_mutex_t lock;
  char last_error[512];
  void *owner; /* the producer state, for delivery reports */
  /* Borrowed from the scan using the client (NULL: none): a statement on
  ** its connection, stepped to notice sqlite3_interrupt() while waiting. */
  struct sqlite3_stmt *interrupt_probe;
  struct sqlite3_stmt *own_probe; /* the probe client_watch() prepared, or NULL */
  /* Under lock: librdkafka reported every broker down (ALL_BROKERS_DOWN),
  ** and whether any broker ever answered this client. A client whose
  ** bootstrap brokers all refuse or do not resolve fails at once instead
  ** of waiting timeout_ms; one that was answered waits (a restart). */
  int all_down, answered;
  int n_bootstrap;  /* distinct bootstrap brokers (0: unknown) */
  int n_failed;     /* of which a connection failed: */
  char failed[CLIENT_MAX_BOOTSTRAP][256];
  int fails[CLIENT_MAX_BOOTSTRAP]; /* how often each */
  char first_failure[512]; /* the first such failure: librdkafka's repeats say less */
} kafka_client;

/* Milliseconds of the monotonic clock: every wait's deadline. */
long long client_now_ms(void);

/* A librdkafka configuration for `role` built from the options: brokers
** (the mock cluster's when brokers is `mock` or `mock:N`), the extension's
** defaults, then every rdkafka.<property>. The client's callbacks are set;
** `client` becomes the handle's opaque. */
int client_conf(const kafka_options *opts, client_role role, kafka_client *client,
                rd_kafka_conf_t **conf, char **err);

/* Creates client->rk from conf (consumed, also on error). */
int client_open(kafka_client *client, client_role role, rd_kafka_conf_t *conf, char **err);

/* A consumer (of the table's group, if any) with its queue set up for
** assign(); it serves metadata and admin requests too. */
int client_new_consumer(const kafka_options *opts, kafka_client **out, char **err);

/* A consumer as above whose prefetch is sized for a topic of `partitions`
** partitions (client_prefetch_kbytes), unless rdkafka.queued.max.messages.kbytes
** is given. */
int client_new_scan_consumer(const kafka_options *opts, int partitions, kafka_client **out, char **err);

/* librdkafka's rebalance callback. */
typedef void (*client_rebalance_cb)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                    rd_kafka_topic_partition_list_t *partitions, void *opaque);

/* A consumer that is to join its group (subscribe): on_rebalance serves
** its assignments. See client.c for its protocol. */
int client_new_member(const kafka_options *opts, client_rebalance_cb on_rebalance, kafka_client **out,
                      char **err);

/* The prefetch in KB for a topic of `partitions` partitions: grows with
** them, within a floor and a cap (see client.c). */
int client_prefetch_kbytes(int partitions);

/* Destroys rk and then calls release(owner), waiting for that at most a
** few seconds: see client.c for why a destroy can take for ever. */
void client_destroy_handle(rd_kafka_t *rk, void (*release)(void *owner), void *owner);

/* Destroys the client's handle (bounded, as above) and frees it. */
void client_free(kafka_client *client);

/* Lets sqlite3_interrupt() on db end the client's waits (client_retry,
** client_await_event) within about a second: prepares a probe the client
** owns until client_unwatch() or client_free(). */
int client_watch(kafka_client *client, sqlite3 *db);
void client_unwatch(kafka_client *client);

/* Waits for the brokers to answer once (a metadata request for no topic),
** within timeout_ms (errors begin "kafka: what: "), failing within about a second when every bootstrap
** broker refuses or does not resolve: what every call on a new client
** does first. */
int client_reach(kafka_client *client, const kafka_options *opts, const char *what, char **err);

/* The next event of queue (an Admin API result) until deadline (ms of
** client_now_ms()), polled in short slices: RD_KAFKA_RESP_ERR__TIMED_OUT,
** __INTR (sqlite3_interrupt()) or __ALL_BROKERS_DOWN (the client never
** reached a broker and librdkafka says every one is down) without one. */
rd_kafka_resp_err_t client_await_event(kafka_client *client, rd_kafka_queue_t *queue, long long deadline,
                                       rd_kafka_event_t **ev);

/* Copies the last error text into buf ("" when none). */
void client_last_error(kafka_client *client, char *buf, size_t size);

/* The message of a failed wait on the cluster: what was awaited, the
** bound, and the last error the client saw; "cannot connect to brokers"
** with the reason when the client never reached one. */
char *client_timeout_error(kafka_client *client, const kafka_options *opts, const char *what);

/* Non-zero once sqlite3_interrupt() was called on the connection of
** probe, a prepared `SELECT 1` (NULL: never): a nested statement sees the
** connection's interrupt flag (SQLite 3.40 has no sqlite3_is_interrupted). */
int client_interrupted(struct sqlite3_stmt *probe);

/* One try of a request that waits on the cluster up to timeout_ms. */
typedef rd_kafka_resp_err_t client_attempt(kafka_client *client, void *arg, int timeout_ms);

/* Tries attempt until it gives an answer other than a transient error (no
** answer in time, a lost connection, a partition leader moving) or the
** table's timeout_ms has passed. Each try waits a short slice, so that
** sqlite3_interrupt() on the client's interrupt_probe connection ends the
** wait within about a second: RD_KAFKA_RESP_ERR__INTR. A client that
** never reached a broker, all of whose brokers are down, stops at once:
** RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN. */
rd_kafka_resp_err_t client_retry(kafka_client *client, const kafka_options *opts,
                                 client_attempt *attempt, void *arg);

/* client_retry until deadline (ms of client_now_ms()), not timeout_ms from now. */
rd_kafka_resp_err_t client_retry_until(kafka_client *client, long long deadline, client_attempt *attempt,
                                       void *arg);

/* For a failed client_retry: SQLITE_INTERRUPT ("interrupted") or
** SQLITE_ERROR (no answer about `what` within timeout_ms, or no broker
** reachable) with *err set; SQLITE_OK for any other error, which the
** caller reports. */
int client_wait_failed(kafka_client *client, const kafka_options *opts, rd_kafka_resp_err_t e,
                       const char *what, char **err);

/* rd_kafka_offsets_for_times through client_retry, every partition of
** list asked for `when` (-2: earliest, -1: latest, else a timestamp). */
rd_kafka_resp_err_t client_offsets_for_times(kafka_client *client, const kafka_options *opts,
                                             rd_kafka_topic_partition_list_t *list, int64_t when);

/* The number of partitions of topic, waiting up to the timeout. A missing
** topic is an error that says so. */
int client_topic_partitions(kafka_client *client, const kafka_options *opts, const char *topic,
                            int *partitions, char **err);

/* The cluster id its metadata names (sqlite3_malloc'd), or NULL when it
** has none or gives none within timeout_ms (a mock cluster, an old broker):
** "localhost:9092" and "127.0.0.1:9092" are one cluster. */
char *client_cluster_id(kafka_client *client, int timeout_ms);

/* Offsets of every partition of parts for one ListOffsets time (-2:
** earliest, -1: latest, under the client's isolation level). out[i] is -1
** where the partition's leader answered with an error; only a timeout
** fails the call. */
int client_list_offsets(kafka_client *client, const kafka_options *opts,
                        const rd_kafka_topic_partition_list_t *parts, int64_t when, int64_t *out,
                        char **err);

/* Milliseconds since the epoch (the wall clock, for ages of messages). */
long long client_wall_ms(void);

/* The timestamp of the first message at or after each partition's offset
** in list (read with the client's consumer, assigned for it and
** unassigned after): out[i], or -1 where there is none before the
** partition's end (or it has no timestamp). Bounded by timeout_ms; ends
** on sqlite3_interrupt() of the client's interrupt_probe. */
int client_first_timestamps(kafka_client *client, const kafka_options *opts,
                            const rd_kafka_topic_partition_list_t *list, int64_t *out, char **err);

/* For an unknown topic's error: "similar topics: 'a', 'b', 'c'", the up
** to three existing topics whose names are closest to topic (edit
** distance, ignoring case, at most a third of its length and at least 2;
** internal topics left out), or "" when none is (NULL: out of memory). */
char *client_similar_topics(kafka_client *client, const kafka_options *opts, const char *topic);

/* Creates topic (real cluster: CreateTopics; mock: the mock API).
** config_json: NULL or an object of topic configs. With if_missing, an
** existing topic is not an error. */
int client_create_topic(kafka_client *client, const kafka_options *opts, const char *topic,
                        int partitions, int replication, const char *config_json,
                        int if_missing, char **err);

/* Deletes topic (real cluster only: the mock has no DeleteTopics). */
int client_delete_topic(kafka_client *client, const kafka_options *opts, const char *topic,
                        char **err);

/* Starts an Admin API request on rk whose result goes to queue. */
typedef void client_admin_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue, void *arg);

/* One Admin API request of type op, bounded by timeout_ms (request and
** operation timeouts) and by client_await_event(): its error (the result
** event's own, or no event: timed out, interrupted, no broker reachable).
** *ev is the result event or NULL; the caller destroys it. */
rd_kafka_resp_err_t client_admin(kafka_client *client, const kafka_options *opts, rd_kafka_admin_op_t op,
                                 client_admin_start *start, void *arg, rd_kafka_event_t **ev);

/* The value of topic config name (sqlite3_malloc'd), or NULL when the
** cluster did not say within timeout_ms (the mock has no DescribeConfigs;
** the user may lack the permission): a hint, never an error. */
char *client_topic_config(kafka_client *client, const kafka_options *opts, const char *topic, const char *name);

/* Non-zero for the brokers' authorization errors (topic, group, cluster,
** transactional id). */
int client_authorization_error(rd_kafka_resp_err_t e);

/* When the user may not read group's offsets, the error that says so
** (sqlite3_malloc'd); else NULL. Asked (ListConsumerGroupOffsets) to
** explain a failed wait: librdkafka 2.0.2's rd_kafka_committed() only
** times out when the broker refuses the group. */
char *client_group_denied(kafka_client *client, const kafka_options *opts, const char *group);

/* Non-zero when brokers names the in-process mock cluster. */
int brokers_are_mock(const char *brokers);

/* Non-zero when topic was created on the mock cluster named by brokers:
** the mock creates any topic a metadata request names, so only these
** exist for the extension. */
int client_mock_has_topic(const char *brokers, const char *topic);

/* ==== registry ==== */
/*
** Schema Registry client (ext/client/registry.c): the Confluent REST API (as
** Confluent's registry and Apicurio's /apis/ccompat/v7 serve it) over
** libcurl. Every request is bounded by the table's timeout_ms; errors name
** the registry (its URL without any user:password) and what was asked, and
** never show schema_registry.basic_auth.
*/

/* One version of a subject's schema. Strings are sqlite3_malloc'd. */
typedef struct registry_schema {
  int32_t id;
  int version;     /* 0 when fetched by id */
  char *schema;    /* the schema text */
  char *type;      /* AVRO, JSON or PROTOBUF (the registry leaves AVRO out) */
  cJSON *references; /* [{"name", "subject", "version"}] of the schemas it imports, or NULL */
} registry_schema;

void registry_schema_clear(registry_schema *s);

/* GET /schemas/ids/{id}. */
int registry_by_id(const registry_options *r, int32_t id, registry_schema *out, char **err);

/* GET /subjects/{subject}/versions/{version}; version "latest" or a number. */
int registry_version(const registry_options *r, const char *subject, const char *version,
                     registry_schema *out, char **err);

/* POST /subjects/{subject}/versions: registers (or finds) a schema of
** type `type` (AVRO, JSON, PROTOBUF); *id is its id. */
int registry_register(const registry_options *r, const char *subject, const char *schema,
                      const char *type, int32_t *id, char **err);

/* A subject as a URL path segment: percent-encoded (sqlite3_malloc'd). */
char *registry_escape(const char *subject);

/* GET of any path below the base URL, e.g. "/subjects": the JSON answer. */
int registry_get(const registry_options *r, const char *path, cJSON **out, char **err);

#endif
