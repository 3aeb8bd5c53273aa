/*
** librdkafka handles for the extension (ext/client.c): configuration from
** the options, the in-process mock cluster, metadata and topic creation.
*/
#ifndef KAFKA_CLIENT_H
#define KAFKA_CLIENT_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>

#include "options.h"

typedef enum client_role { CLIENT_CONSUMER, CLIENT_PRODUCER } client_role;

/* A librdkafka handle with what its callbacks reported: the handle's
** opaque. last_error keeps the latest error event or warning log line so
** that a timeout can say why the cluster did not answer. */
typedef struct kafka_client {
  rd_kafka_t *rk;
  pthread_mutex_t lock;
  char last_error[512];
  void *owner; /* the producer state, for delivery reports */
} kafka_client;

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

/* Destroys rk and then calls release(owner), waiting for that at most a
** few seconds: see client.c for why a destroy can take for ever. */
void client_destroy_handle(rd_kafka_t *rk, void (*release)(void *owner), void *owner);

/* Destroys the client's handle (bounded, as above) and frees it. */
void client_free(kafka_client *client);

/* Copies the last error text into buf ("" when none). */
void client_last_error(kafka_client *client, char *buf, size_t size);

/* The message of a failed wait on the cluster: what was awaited, the
** bound, and the last error the client saw. */
char *client_timeout_error(kafka_client *client, const kafka_options *opts, const char *what);

/* The number of partitions of topic, waiting up to the timeout. A missing
** topic is an error that says so. */
int client_topic_partitions(kafka_client *client, const kafka_options *opts, const char *topic,
                            int *partitions, char **err);

/* Offsets of every partition of parts for one ListOffsets time (-2:
** earliest, -1: latest, under the client's isolation level). out[i] is -1
** where the partition's leader answered with an error; only a timeout
** fails the call. */
int client_list_offsets(kafka_client *client, const kafka_options *opts,
                        const rd_kafka_topic_partition_list_t *parts, int64_t when, int64_t *out,
                        char **err);

/* Creates topic (real cluster: CreateTopics; mock: the mock API).
** config_json: NULL or an object of topic configs. With if_missing, an
** existing topic is not an error. */
int client_create_topic(kafka_client *client, const kafka_options *opts, const char *topic,
                        int partitions, int replication, const char *config_json,
                        int if_missing, char **err);

/* Deletes topic (real cluster only: the mock has no DeleteTopics). */
int client_delete_topic(kafka_client *client, const kafka_options *opts, const char *topic,
                        char **err);

/* Non-zero when brokers names the in-process mock cluster. */
int brokers_are_mock(const char *brokers);

/* Non-zero when topic was created on the mock cluster named by brokers:
** the mock creates any topic a metadata request names, so only these
** exist for the extension. */
int client_mock_has_topic(const char *brokers, const char *topic);

#endif
