/*
** A group table's membership of its Kafka group: the fence that keeps two
** processes running one group's exactly-once pipeline (INSERT INTO out
** SELECT ... FROM g, out with a transactional_id) from both committing
** (SPEC section 14).
**
** A table without `join` reads every partition of its topic. Before such a
** pipeline's scan reads the group's committed offsets, the table joins the
** group (subscribe) and waits, bounded by timeout_ms, until it is assigned
** every partition (member_wait); the Kafka transaction then carries the
** member's group metadata, generation and member id (member_metadata,
** KIP-447), and the broker refuses its offsets when the group has had a
** rebalance since: the transaction fails and nothing of it is written.
** Nothing polls the member between the fence and the commit, so its
** generation is the fence's: with the eager protocol a rebalance revokes
** the member's partitions (served at a poll) before it can rejoin.
**
** So at most one member holds every partition in any generation, and only
** it commits: a second process that joins gets part of them and yields
** (its statement fails, it leaves the group, the first holds them all
** again after one rebalance); one that held them all before waits for
** them. A member that died without leaving holds its partitions until the
** broker drops it (session.timeout.ms); until then the other process's
** fence waits, then fails with timeout_ms.
*/
#include "base.h"
#include "client.h"
#include "table.h"

#include <string.h>

SQLITE_EXTENSION_INIT3

#define MEMBER_POLL_MS 100

struct group_member {
  kafka_client *client;
  int assigned; /* its last rebalance assigned (it was not revoked since) */
  int held_all; /* it was assigned every partition once: it waits for them, a newcomer yields */
};

/* Takes what the group assigns, paused: the member holds partitions, the
** table's scan consumer reads them. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
  group_member *m = ((kafka_client *)opaque)->owner;
  int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
  rd_kafka_error_t *error = NULL;
  if (m) m->assigned = e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS; /* NULL: leaving (member_leave) */
  if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) error = rd_kafka_incremental_assign(rk, parts);
    else rd_kafka_assign(rk, parts);
    rd_kafka_pause_partitions(rk, parts);
  } else if (cooperative) {
    error = rd_kafka_incremental_unassign(rk, parts);
  } else {
    rd_kafka_assign(rk, NULL);
  }
  if (error) rd_kafka_error_destroy(error);
}

static int member_join(kafka_vtab *vtab, char **err) {
  group_member *m = sqlite3_malloc64(sizeof *m);
  if (!m) return SQLITE_NOMEM;
  memset(m, 0, sizeof *m);
  int rc = client_new_member(&vtab->opts, on_rebalance, &m->client, err);
  if (rc) {
    sqlite3_free(m);
    return rc;
  }
  m->client->owner = m;
  rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, vtab->opts.topic, RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(m->client->rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  vtab->member = m;
  if (!e) return SQLITE_OK;
  member_leave(vtab);
  *err = sqlite3_mprintf("kafka: group '%s': subscribe to topic '%s': %s", vtab->opts.group, vtab->opts.topic,
                         rd_kafka_err2str(e));
  return SQLITE_ERROR;
}

/* Serves the member's rebalances for up to ms; its paused partitions
** bring no messages, anything else polled is dropped. */
static void serve(group_member *m, int ms) {
  rd_kafka_message_t *msg = rd_kafka_consumer_poll(m->client->rk, ms);
  if (msg) rd_kafka_message_destroy(msg);
}

static int held(group_member *m) {
  rd_kafka_topic_partition_list_t *list = NULL;
  if (rd_kafka_assignment(m->client->rk, &list) || !list) return 0;
  int n = list->cnt;
  rd_kafka_topic_partition_list_destroy(list);
  return n;
}

static char *yielded(const kafka_vtab *vtab, int n, int partitions) {
  return sqlite3_mprintf(
      "kafka: group '%s' (topic '%s'): another member of the group holds %d of the topic's %d "
      "partitions: another process runs this group's exactly-once pipeline. This statement reads "
      "and commits nothing, so that no input is written twice; run one pipeline per group at a time",
      vtab->opts.group, vtab->opts.topic, partitions - n, partitions);
}

static char *not_assigned(const kafka_vtab *vtab, int partitions) {
  if (partitions < 0)
    return sqlite3_mprintf(
        "kafka: group '%s' (topic '%s'): no assignment within timeout_ms (%d ms): the group is "
        "rebalancing and waits for a member (one that is busy with a long statement, or one that "
        "stopped without leaving the group, which the broker drops after its session.timeout.ms)",
        vtab->opts.group, vtab->opts.topic, vtab->opts.timeout_ms);
  return sqlite3_mprintf(
      "kafka: group '%s' (topic '%s'): this process was not assigned all %d partitions within "
      "timeout_ms (%d ms), so it does not run the group's exactly-once pipeline: another member "
      "holds them (a process running the same pipeline, or one that stopped without leaving the "
      "group, which the broker drops after its session.timeout.ms)",
      vtab->opts.group, vtab->opts.topic, partitions, vtab->opts.timeout_ms);
}

int member_wait(kafka_vtab *vtab, int partitions, sqlite3_stmt *interrupt_probe, char **err) {
  if (!vtab->member) {
    int rc = member_join(vtab, err);
    if (rc) return rc;
  }
  group_member *m = vtab->member;
  long long deadline = client_now_ms() + vtab->opts.timeout_ms;
  for (serve(m, 0);; serve(m, MEMBER_POLL_MS)) {
    int n = m->assigned ? held(m) : 0;
    if (m->assigned && (partitions < 0 || n >= partitions)) {
      m->held_all |= partitions >= 0;
      return SQLITE_OK;
    }
    if (m->assigned && !m->held_all) {
      *err = yielded(vtab, n, partitions);
      member_leave(vtab);
      return SQLITE_ERROR;
    }
    if (client_interrupted(interrupt_probe)) {
      *err = sqlite3_mprintf("interrupted");
      return SQLITE_INTERRUPT;
    }
    if (client_now_ms() >= deadline) {
      *err = not_assigned(vtab, partitions);
      return SQLITE_ERROR;
    }
  }
}

rd_kafka_topic_partition_list_t *member_assignment(const kafka_vtab *vtab) {
  rd_kafka_topic_partition_list_t *list = NULL;
  if (vtab->member && rd_kafka_assignment(vtab->member->client->rk, &list) && list) {
    rd_kafka_topic_partition_list_destroy(list);
    list = NULL;
  }
  return list;
}

rd_kafka_topic_partition_list_t *member_owned(const kafka_vtab *vtab, const rd_kafka_topic_partition_list_t *list) {
  rd_kafka_topic_partition_list_t *owned = vtab->opts.join ? member_assignment(vtab) : NULL;
  rd_kafka_topic_partition_list_t *kept = rd_kafka_topic_partition_list_new(list->cnt);
  for (int i = 0; i < list->cnt; i++) {
    const rd_kafka_topic_partition_t *at = &list->elems[i];
    if (!vtab->opts.join || (owned && rd_kafka_topic_partition_list_find(owned, at->topic, at->partition)))
      rd_kafka_topic_partition_list_add(kept, at->topic, at->partition)->offset = at->offset;
  }
  if (owned) rd_kafka_topic_partition_list_destroy(owned);
  return kept;
}

rd_kafka_consumer_group_metadata_t *member_metadata(const kafka_vtab *vtab) {
  return vtab->member ? rd_kafka_consumer_group_metadata(vtab->member->client->rk)
                      : rd_kafka_consumer_group_metadata_new(vtab->opts.group);
}

kafka_client *member_client(const kafka_vtab *vtab) {
  return vtab->member ? vtab->member->client : NULL;
}

int member_refused(rd_kafka_resp_err_t e) {
  return e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID || e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
         e == RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID || e == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS;
}

void member_leave(kafka_vtab *vtab) {
  if (!vtab->member) return;
  /* The close revokes through on_rebalance, maybe after the bounded
  ** destroy gave up waiting and the member is freed: it must not look. */
  vtab->member->client->owner = NULL;
  client_free(vtab->member->client);
  sqlite3_free(vtab->member);
  vtab->member = NULL;
}
