/*
** Which cluster a table is on: the cluster id its brokers report, so that
** "localhost:9092" and "127.0.0.1:9092" are one cluster (a group's offsets
** go into a transactional output's Kafka transaction, and tables naming one
** transactional_id share a producer, only on one cluster).
*/
#include "client.h"
#include "table.h"

#include <string.h>

SQLITE_EXTENSION_INIT3

void cluster_learn(kafka_vtab *vtab, kafka_client *client) {
  if (!vtab->cluster_id) vtab->cluster_id = client_cluster_id(client, vtab->opts.timeout_ms);
}

int cluster_same(const kafka_vtab *a, const kafka_vtab *b) {
  if (a->cluster_id && b->cluster_id) return !strcmp(a->cluster_id, b->cluster_id);
  return !strcmp(a->opts.brokers, b->opts.brokers);
}
