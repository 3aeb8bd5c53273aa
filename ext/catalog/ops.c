/*
** Operating a cluster from SQL: the brokers, partitions and records.
**
**   kafka_brokers(brokers [, options])
**       id, host, port, rack, is_controller
**   kafka_add_partitions(brokers, topic, total [, options])  -> total
**   kafka_delete_records(brokers, topic, partition, before_offset [, options])
**       -> the partition's new low watermark
**
** Every function is DIRECTONLY and every wait bounded by timeout_ms. This
** file also registers the other operations files: configs.c (topic and
** broker configs), group_ops.c (consumer groups) and acl.c (ACLs).
*/
#include "base.h"
#include "catalog.h"

#include <stdlib.h>
#include <string.h>

SQLITE_EXTENSION_INIT3

/* ------------------------------------------------------------ brokers -- */

static int by_broker_id(const void *a, const void *b) {
  int32_t x = ((const struct rd_kafka_metadata_broker *)a)->id;
  int32_t y = ((const struct rd_kafka_metadata_broker *)b)->id;
  return (x > y) - (x < y);
}

/* The rack comes from each broker's `broker.rack` config (librdkafka 2.0
** does not pass on the rack of the metadata); the controller is the one
** the metadata names (in KRaft mode Kafka names a broker that forwards to
** the active controller, as its own tools show). */
static int brokers_fill(catalog_call *call, char **err) {
  const struct rd_kafka_metadata *md;
  int rc = catalog_metadata(call, NULL, &md, err);
  if (rc) return rc;
  int32_t controller = rd_kafka_controllerid(call->client->rk, call->opts->timeout_ms);
  int mock = brokers_are_mock(call->opts->brokers);
  struct rd_kafka_metadata_broker *brokers = md->brokers;
  qsort(brokers, (size_t)md->broker_cnt, sizeof *brokers, by_broker_id);
  for (int i = 0; i < md->broker_cnt; i++) {
    char *rack = mock ? NULL : configs_broker_value(call, brokers[i].id, "broker.rack");
    catalog_put_int(call->rows, brokers[i].id);
    catalog_put_text(call->rows, brokers[i].host);
    catalog_put_int(call->rows, brokers[i].port);
    if (rack) catalog_put_owned(call->rows, rack);
    else catalog_put_known(call->rows, -1);
    catalog_put_int(call->rows, brokers[i].id == controller);
  }
  rd_kafka_metadata_destroy(md);
  return SQLITE_OK;
}

static const catalog_table ops_tables[] = {
    {"kafka_brokers", "id INTEGER, host TEXT, port INTEGER, rack TEXT, is_controller INTEGER", 5, NULL,
     brokers_fill, CATALOG_ARG_TEXT},
};

/* ----------------------------------------------------- add partitions -- */

typedef struct new_partitions {
  const char *topic;
  int total;
} new_partitions;

static void create_partitions_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue,
                                    void *arg) {
  const new_partitions *p = arg;
  char errstr[256];
  rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(p->topic, (size_t)p->total, errstr, sizeof errstr);
  rd_kafka_CreatePartitions(rk, &np, 1, ao, queue);
  rd_kafka_NewPartitions_destroy(np);
}

/* The error of the one topic of a CreatePartitions result, with the
** broker's reason ("Topic currently has 3 partitions, which is higher
** than the requested 2."). */
static int topic_result(kafka_client *client, const kafka_options *opts, const char *func, const char *topic,
                        const rd_kafka_topic_result_t **res, size_t n, char **err) {
  rd_kafka_resp_err_t e = n == 1 ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR__BAD_MSG;
  const char *why = n == 1 ? rd_kafka_topic_result_error_string(res[0]) : NULL;
  if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    *err = sqlite3_mprintf("%s: topic '%s' does not exist on brokers '%s'", func, topic, opts->brokers);
  else if (e) {
    char *what = sqlite3_mprintf("topic '%s'", topic);
    *err = what ? admin_error(client, opts, func, what, e, why) : NULL;
    sqlite3_free(what);
  }
  return e ? SQLITE_ERROR : SQLITE_OK;
}

static int add_partitions_op(sqlite3_context *ctx, kafka_client *client, const kafka_options *opts,
                             void *arg, char **err) {
  static const char *const func = "kafka_add_partitions";
  const new_partitions *p = arg;
  rd_kafka_event_t *ev = NULL;
  int rc = admin_request(client, opts, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, func, "adding partitions",
                         create_partitions_start, arg, &ev, err);
  if (!rc) {
    size_t n = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n);
    rc = topic_result(client, opts, func, p->topic, res, n, err);
  }
  if (ev) rd_kafka_event_destroy(ev);
  if (!rc) sqlite3_result_int(ctx, p->total);
  return rc;
}

static void add_partitions_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const func = "kafka_add_partitions";
  new_partitions p = {NULL, 0};
  const char *options;
  const char *brokers = admin_text_arg(ctx, argv[0], func, "brokers");
  if (!brokers || !(p.topic = admin_text_arg(ctx, argv[1], func, "topic")) ||
      !admin_int_arg(ctx, argc, argv, 2, func, "total", 1, 1000000, 0, &p.total) ||
      !admin_optional_text(ctx, argc, argv, 3, func, "options", &options))
    return;
  admin_run(ctx, func, brokers, options, "CreatePartitions", add_partitions_op, &p);
}

/* ----------------------------------------------------- delete records -- */

typedef struct delete_records {
  const char *topic;
  int partition;
  sqlite3_int64 before;
} delete_records;

static void delete_records_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue,
                                 void *arg) {
  const delete_records *d = arg;
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, d->topic, d->partition)->offset = d->before;
  rd_kafka_DeleteRecords_t *req = rd_kafka_DeleteRecords_new(list);
  rd_kafka_DeleteRecords(rk, &req, 1, ao, queue);
  rd_kafka_DeleteRecords_destroy(req);
  rd_kafka_topic_partition_list_destroy(list);
}

/* A partition error of DeleteRecords, said with what the user can check. */
static char *delete_records_error(kafka_client *client, const kafka_options *opts, const delete_records *d,
                                  rd_kafka_resp_err_t e) {
  static const char *const func = "kafka_delete_records";
  if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
    return sqlite3_mprintf("%s: topic '%s' has no partition %d on brokers '%s'", func, d->topic,
                           d->partition, opts->brokers);
  if (e != RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)
    return sqlite3_mprintf("%s: topic '%s' partition %d: %s", func, d->topic, d->partition, rd_kafka_err2str(e));
  rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, d->topic, d->partition);
  int64_t high = -1;
  char *ignored = NULL;
  client_list_offsets(client, opts, list, -1, &high, &ignored);
  sqlite3_free(ignored);
  rd_kafka_topic_partition_list_destroy(list);
  return sqlite3_mprintf("%s: before_offset %lld is past the end of topic '%s' partition %d (its high "
                         "watermark is %lld)", func, d->before, d->topic, d->partition, (long long)high);
}

static int delete_records_op(sqlite3_context *ctx, kafka_client *client, const kafka_options *opts,
                             void *arg, char **err) {
  const delete_records *d = arg;
  rd_kafka_event_t *ev = NULL;
  /* librdkafka says only "No leaders found" for a partition that does not
  ** exist: checked first. */
  catalog_call call = {"kafka_delete_records", client, opts, NULL, NULL, NULL};
  int n = 0;
  int rc = catalog_topic_partitions(&call, d->topic, &n, err);
  if (!rc && d->partition >= n) {
    *err = sqlite3_mprintf("%s: topic '%s' has no partition %d (it has %d)", call.func, d->topic, d->partition, n);
    rc = SQLITE_ERROR;
  }
  if (!rc) rc = admin_request(client, opts, RD_KAFKA_ADMIN_OP_DELETERECORDS, "kafka_delete_records",
                         "deleting records", delete_records_start, arg, &ev, err);
  const rd_kafka_topic_partition_list_t *offsets =
      rc ? NULL : rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
  const rd_kafka_topic_partition_t *p = offsets && offsets->cnt == 1 ? &offsets->elems[0] : NULL;
  if (!rc && (!p || p->err)) {
    *err = delete_records_error(client, opts, d, p ? p->err : RD_KAFKA_RESP_ERR__BAD_MSG);
    rc = SQLITE_ERROR;
  }
  if (!rc) sqlite3_result_int64(ctx, p->offset);
  if (ev) rd_kafka_event_destroy(ev);
  return rc;
}

static void delete_records_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char *const func = "kafka_delete_records";
  delete_records d = {NULL, 0, 0};
  const char *options;
  const char *brokers = admin_text_arg(ctx, argv[0], func, "brokers");
  if (!brokers || !(d.topic = admin_text_arg(ctx, argv[1], func, "topic")) ||
      !admin_int_arg(ctx, argc, argv, 2, func, "partition", 0, INT32_MAX, 0, &d.partition) ||
      !admin_optional_text(ctx, argc, argv, 4, func, "options", &options))
    return;
  if (sqlite3_value_type(argv[3]) != SQLITE_INTEGER || (d.before = sqlite3_value_int64(argv[3])) < 0) {
    admin_arg_error(ctx, func, "before_offset", "an offset (an integer, 0 or more)");
    return;
  }
  admin_run(ctx, func, brokers, options, "DeleteRecords", delete_records_op, &d);
}

int ops_register(sqlite3 *db) {
  int rc = catalog_register_tables(db, ops_tables, sizeof ops_tables / sizeof *ops_tables);
  if (!rc) rc = catalog_register_tables(db, configs_tables, sizeof configs_tables / sizeof *configs_tables);
  if (!rc) rc = admin_define(db, "kafka_add_partitions", 3, 4, add_partitions_func);
  if (!rc) rc = admin_define(db, "kafka_delete_records", 4, 5, delete_records_func);
  if (!rc) rc = configs_register(db);
  if (!rc) rc = group_ops_register(db);
  if (!rc) rc = acl_register(db);
  return rc;
}
