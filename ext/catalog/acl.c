/*
** ACLs, as Kafka's kafka-acls tool lists, adds and removes them:
**
**   kafka_acls(brokers [, options])
**       resource_type, resource_name, pattern_type, principal, host,
**       operation, permission
**   kafka_create_acl(brokers, resource_type, resource_name, principal,
**                    operation [, permission [, host [, pattern_type [, options]]]])
**       -> 1 (permission ALLOW, host '*', pattern_type LITERAL by default)
**   kafka_delete_acl(brokers, resource_type, resource_name, principal,
**                    operation [, permission [, host [, pattern_type [, options]]]])
**       -> the number of ACLs deleted; every NULL or absent argument
**          matches any value
**
** Names are Kafka's, in any case: resource types TOPIC, GROUP, CLUSTER
** (librdkafka's BROKER); operations READ, WRITE, ALL, DESCRIBE, ...;
** permissions ALLOW, DENY; pattern types LITERAL, PREFIXED (MATCH and ANY
** in filters). A broker without an authorizer answers every ACL request
** with "Security features are disabled".
*/
#include "base.h"
#include "catalog.h"
#include "client.h"

#include <string.h>
#include <strings.h>
#include <time.h>

SQLITE_EXTENSION_INIT3

#define ACL_MOCK "DescribeAcls, CreateAcls or DeleteAcls"

/* One enum of librdkafka's ACL API: its size and names. */
typedef struct acl_enum {
  const char *what;
  int count;
  const char *(*name)(int value);
} acl_enum;

static const char *restype_name(int v) {
  /* Kafka calls resource type 4 CLUSTER, librdkafka BROKER. */
  return v == RD_KAFKA_RESOURCE_BROKER ? "CLUSTER" : rd_kafka_ResourceType_name((rd_kafka_ResourceType_t)v);
}
static const char *pattern_name(int v) {
  return rd_kafka_ResourcePatternType_name((rd_kafka_ResourcePatternType_t)v);
}
static const char *operation_name(int v) {
  return rd_kafka_AclOperation_name((rd_kafka_AclOperation_t)v);
}
static const char *permission_name(int v) {
  return rd_kafka_AclPermissionType_name((rd_kafka_AclPermissionType_t)v);
}

static const acl_enum resource_types = {"resource_type", RD_KAFKA_RESOURCE__CNT, restype_name};
static const acl_enum pattern_types = {"pattern_type", RD_KAFKA_RESOURCE_PATTERN_TYPE__CNT, pattern_name};
static const acl_enum operations = {"operation", RD_KAFKA_ACL_OPERATION__CNT, operation_name};
static const acl_enum permissions = {"permission", RD_KAFKA_ACL_PERMISSION_TYPE__CNT, permission_name};

/* ------------------------------------------------------------ listing -- */

/* Describes the ACLs matching arg (a filter), or all when it is NULL. */
static void describe_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue, void *arg) {
  char errstr[256];
  rd_kafka_AclBindingFilter_t *any = arg ? NULL : rd_kafka_AclBindingFilter_new(
      RD_KAFKA_RESOURCE_ANY, NULL, RD_KAFKA_RESOURCE_PATTERN_ANY, NULL, NULL, RD_KAFKA_ACL_OPERATION_ANY,
      RD_KAFKA_ACL_PERMISSION_TYPE_ANY, errstr, sizeof errstr);
  rd_kafka_DescribeAcls(rk, arg ? arg : any, ao, queue);
  if (any) rd_kafka_AclBinding_destroy(any);
}

/* librdkafka 2.0.2 drops the error of a DescribeAcls answer: a broker
** without an authorizer, or a user who may not describe the cluster's
** ACLs, seems to have none. When none came back, the controller's
** authorizer.class.name tells which it is; when it cannot be read either,
** an error says that the answer cannot be trusted. */
static int check_authorizer(catalog_call *call, char **err) {
  int32_t id = rd_kafka_controllerid(call->client->rk, call->opts->timeout_ms);
  char *authorizer = id >= 0 ? configs_broker_value(call, id, "authorizer.class.name") : NULL;
  if (authorizer && !*authorizer)
    *err = sqlite3_mprintf("%s: the cluster at '%s' has no authorizer (broker %d: authorizer.class.name is "
                           "empty), so it has no ACLs", call->func, call->opts->brokers, (int)id);
  else if (!authorizer)
    *err = sqlite3_mprintf("%s: the cluster at '%s' listed no ACLs, and its authorizer config could not be "
                           "read: the user may lack DESCRIBE and DESCRIBE_CONFIGS on the cluster (librdkafka "
                           "2.0.2 does not pass on why a listing is empty)", call->func, call->opts->brokers);
  sqlite3_free(authorizer);
  return *err ? SQLITE_ERROR : SQLITE_OK;
}

static int acls_fill(catalog_call *call, char **err) {
  if (brokers_are_mock(call->opts->brokers)) {
    *err = sqlite3_mprintf("%s: the mock cluster has no DescribeAcls request (use a real broker)", call->func);
    return SQLITE_ERROR;
  }
  rd_kafka_event_t *ev = NULL;
  int rc = admin_request(call->client, call->opts, RD_KAFKA_ADMIN_OP_DESCRIBEACLS, call->func, "listing ACLs",
                         describe_start, NULL, &ev, err);
  size_t n = 0;
  const rd_kafka_AclBinding_t **acls =
      rc ? NULL : rd_kafka_DescribeAcls_result_acls(rd_kafka_event_DescribeAcls_result(ev), &n);
  if (!rc && n == 0) rc = check_authorizer(call, err);
  for (size_t i = 0; i < n; i++) {
    catalog_put_text(call->rows, restype_name(rd_kafka_AclBinding_restype(acls[i])));
    catalog_put_text(call->rows, rd_kafka_AclBinding_name(acls[i]));
    catalog_put_text(call->rows, pattern_name(rd_kafka_AclBinding_resource_pattern_type(acls[i])));
    catalog_put_text(call->rows, rd_kafka_AclBinding_principal(acls[i]));
    catalog_put_text(call->rows, rd_kafka_AclBinding_host(acls[i]));
    catalog_put_text(call->rows, operation_name(rd_kafka_AclBinding_operation(acls[i])));
    catalog_put_text(call->rows, permission_name(rd_kafka_AclBinding_permission_type(acls[i])));
  }
  if (ev) rd_kafka_event_destroy(ev);
  return rc;
}

static const catalog_table acl_tables[] = {
    {"kafka_acls",
     "resource_type TEXT, resource_name TEXT, pattern_type TEXT, principal TEXT, host TEXT, operation TEXT, "
     "permission TEXT", 7, NULL, acls_fill, CATALOG_ARG_TEXT},
};

/* ---------------------------------------------------- create / delete -- */

/* One ACL or ACL filter from the arguments. */
typedef struct acl_spec {
  int filter; /* kafka_delete_acl: NULL matches any */
  int restype, pattern, operation, permission;
  const char *name, *principal, *host, *options;
} acl_spec;

/* Argument i as a value of e: its default when absent (or NULL in a
** filter); the names of `any` values are filters only. Returns 0 after
** setting an error that lists the accepted names. */
static int enum_arg(sqlite3_context *ctx, const char *func, int argc, sqlite3_value **argv, int i,
                    const acl_enum *e, int filter, int *out) {
  if (i >= argc || sqlite3_value_type(argv[i]) == SQLITE_NULL) return 1;
  const char *text = sqlite3_value_type(argv[i]) == SQLITE_TEXT ? (const char *)sqlite3_value_text(argv[i]) : "";
  /* 0 is UNKNOWN, 1 ANY (filters only). */
  for (int v = filter ? 1 : 2; v < e->count; v++)
    if (!strcasecmp(text, e->name(v)) || (e == &resource_types && v == RD_KAFKA_RESOURCE_BROKER && !strcasecmp(text, "BROKER"))) {
      *out = v;
      return 1;
    }
  sqlite3_str *names = sqlite3_str_new(NULL);
  for (int v = filter ? 1 : 2; v < e->count; v++) sqlite3_str_appendf(names, "%s%s", v > (filter ? 1 : 2) ? ", " : "", e->name(v));
  char *list = sqlite3_str_finish(names);
  admin_result_error(ctx, sqlite3_mprintf("%s: %s must be one of %s", func, e->what, list ? list : ""));
  sqlite3_free(list);
  return 0;
}

/* A text argument that a filter may leave NULL (any). */
static int name_arg(sqlite3_context *ctx, const char *func, int argc, sqlite3_value **argv, int i,
                    const char *name, int filter, const char **out) {
  if (filter || i >= argc) return admin_optional_text(ctx, argc, argv, i, func, name, out);
  return (*out = admin_text_arg(ctx, argv[i], func, name)) != NULL;
}

static int parse_spec(sqlite3_context *ctx, const char *func, int argc, sqlite3_value **argv, acl_spec *a) {
  int any = a->filter;
  a->restype = any ? RD_KAFKA_RESOURCE_ANY : RD_KAFKA_RESOURCE_UNKNOWN;
  a->operation = any ? RD_KAFKA_ACL_OPERATION_ANY : RD_KAFKA_ACL_OPERATION_UNKNOWN;
  a->permission = any ? RD_KAFKA_ACL_PERMISSION_TYPE_ANY : RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW;
  a->pattern = any ? RD_KAFKA_RESOURCE_PATTERN_ANY : RD_KAFKA_RESOURCE_PATTERN_LITERAL;
  a->host = any ? NULL : "*";
  return enum_arg(ctx, func, argc, argv, 1, &resource_types, any, &a->restype) &&
         name_arg(ctx, func, argc, argv, 2, "resource_name", any, &a->name) &&
         name_arg(ctx, func, argc, argv, 3, "principal", any, &a->principal) &&
         enum_arg(ctx, func, argc, argv, 4, &operations, any, &a->operation) &&
         enum_arg(ctx, func, argc, argv, 5, &permissions, any, &a->permission) &&
         (argc <= 6 || sqlite3_value_type(argv[6]) == SQLITE_NULL ||
          admin_optional_text(ctx, argc, argv, 6, func, "host", &a->host)) &&
         enum_arg(ctx, func, argc, argv, 7, &pattern_types, any, &a->pattern) &&
         admin_optional_text(ctx, argc, argv, 8, func, "options", &a->options);
}

static rd_kafka_AclBinding_t *new_binding(const acl_spec *a, char *errstr, size_t size) {
  rd_kafka_AclBinding_t *(*make)(rd_kafka_ResourceType_t, const char *, rd_kafka_ResourcePatternType_t,
                                 const char *, const char *, rd_kafka_AclOperation_t, rd_kafka_AclPermissionType_t,
                                 char *, size_t) = a->filter ? rd_kafka_AclBindingFilter_new : rd_kafka_AclBinding_new;
  return make((rd_kafka_ResourceType_t)a->restype, a->name, (rd_kafka_ResourcePatternType_t)a->pattern,
              a->principal, a->host, (rd_kafka_AclOperation_t)a->operation,
              (rd_kafka_AclPermissionType_t)a->permission, errstr, size);
}

static void create_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue, void *arg) {
  rd_kafka_AclBinding_t *b = arg;
  rd_kafka_CreateAcls(rk, &b, 1, ao, queue);
}

static void delete_start(rd_kafka_t *rk, rd_kafka_AdminOptions_t *ao, rd_kafka_queue_t *queue, void *arg) {
  rd_kafka_AclBindingFilter_t *f = arg;
  rd_kafka_DeleteAcls(rk, &f, 1, ao, queue);
}

/* The one result error of CreateAcls or DeleteAcls, or NULL. */
static const rd_kafka_error_t *acl_result_error(rd_kafka_event_t *ev, int filter, size_t *deleted) {
  size_t n = 0;
  if (!filter) {
    const rd_kafka_acl_result_t **res = rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev), &n);
    return n == 1 ? rd_kafka_acl_result_error(res[0]) : NULL;
  }
  const rd_kafka_DeleteAcls_result_response_t **res =
      rd_kafka_DeleteAcls_result_responses(rd_kafka_event_DeleteAcls_result(ev), &n);
  if (n != 1) return NULL;
  rd_kafka_DeleteAcls_result_response_matching_acls(res[0], deleted);
  return rd_kafka_DeleteAcls_result_response_error(res[0]);
}

/* Kafka answers CreateAcls and DeleteAcls before its authorizer applies
** them: waits (within timeout_ms) until DescribeAcls shows the change, so
** that a kafka_acls right after agrees, as does the next request. */
static int wait_applied(kafka_client *client, const kafka_options *opts, const char *func, const acl_spec *a,
                        char **err) {
  acl_spec as_filter = *a;
  as_filter.filter = 1;
  char errstr[256];
  rd_kafka_AclBindingFilter_t *f = new_binding(&as_filter, errstr, sizeof errstr);
  long long deadline = client_now_ms() + opts->timeout_ms;
  int rc = f ? SQLITE_OK : SQLITE_NOMEM, applied = 0;
  while (!rc && !applied) {
    rd_kafka_event_t *ev = NULL;
    rc = admin_request(client, opts, RD_KAFKA_ADMIN_OP_DESCRIBEACLS, func, "waiting for the ACL change to apply",
                       describe_start, f, &ev, err);
    size_t n = 0;
    if (!rc) rd_kafka_DescribeAcls_result_acls(rd_kafka_event_DescribeAcls_result(ev), &n);
    if (ev) rd_kafka_event_destroy(ev);
    applied = !rc && (a->filter ? n == 0 : n > 0);
    if (!rc && !applied && client_now_ms() >= deadline) {
      *err = sqlite3_mprintf("%s: the broker accepted the change but did not apply it within timeout_ms=%d",
                             func, opts->timeout_ms);
      rc = SQLITE_ERROR;
    }
    struct timespec pause = {0, 50 * 1000000};
    if (!rc && !applied) nanosleep(&pause, NULL);
  }
  if (f) rd_kafka_AclBinding_destroy(f);
  return rc;
}

static int acl_op(sqlite3_context *ctx, kafka_client *client, const kafka_options *opts, void *arg, char **err) {
  const acl_spec *a = arg;
  const char *func = a->filter ? "kafka_delete_acl" : "kafka_create_acl";
  char errstr[256];
  rd_kafka_AclBinding_t *b = new_binding(a, errstr, sizeof errstr);
  if (!b) {
    *err = sqlite3_mprintf("%s: %s", func, errstr);
    return SQLITE_ERROR;
  }
  rd_kafka_event_t *ev = NULL;
  int rc = admin_request(client, opts, a->filter ? RD_KAFKA_ADMIN_OP_DELETEACLS : RD_KAFKA_ADMIN_OP_CREATEACLS,
                         func, a->filter ? "deleting ACLs" : "creating the ACL", a->filter ? delete_start : create_start,
                         b, &ev, err);
  size_t deleted = 0;
  const rd_kafka_error_t *error = rc ? NULL : acl_result_error(ev, a->filter, &deleted);
  if (error) {
    *err = admin_error(client, opts, func, a->filter ? "deleting ACLs" : "creating the ACL",
                       rd_kafka_error_code(error), rd_kafka_error_string(error));
    rc = SQLITE_ERROR;
  }
  if (!rc) rc = wait_applied(client, opts, func, a, err);
  if (!rc) sqlite3_result_int64(ctx, a->filter ? (sqlite3_int64)deleted : 1);
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_AclBinding_destroy(b);
  return rc;
}

static void acl_func(sqlite3_context *ctx, int argc, sqlite3_value **argv, const char *func, int filter) {
  acl_spec a;
  memset(&a, 0, sizeof a);
  a.filter = filter;
  const char *brokers = admin_text_arg(ctx, argv[0], func, "brokers");
  if (!brokers || !parse_spec(ctx, func, argc, argv, &a)) return;
  if (!filter && a.restype == RD_KAFKA_RESOURCE_UNKNOWN)
    admin_arg_error(ctx, func, "resource_type", "a text (TOPIC, GROUP, CLUSTER)");
  else if (!filter && a.operation == RD_KAFKA_ACL_OPERATION_UNKNOWN)
    admin_arg_error(ctx, func, "operation", "a text (READ, WRITE, DESCRIBE, ALL, ...)");
  else
    admin_run(ctx, func, brokers, a.options, ACL_MOCK, acl_op, &a);
}

static void create_acl_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  acl_func(ctx, argc, argv, "kafka_create_acl", 0);
}

static void delete_acl_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  acl_func(ctx, argc, argv, "kafka_delete_acl", 1);
}

int acl_register(sqlite3 *db) {
  int rc = catalog_register_tables(db, acl_tables, sizeof acl_tables / sizeof *acl_tables);
  if (!rc) rc = admin_define(db, "kafka_create_acl", 5, 9, create_acl_func);
  return rc ? rc : admin_define(db, "kafka_delete_acl", 5, 9, delete_acl_func);
}
