/*
** ACLs (ext/acl.c): the kafka_acls table, kafka_create_acl() and
** kafka_delete_acl(), through DescribeAcls, CreateAcls and DeleteAcls.
*/
#ifndef KAFKA_ACL_H
#define KAFKA_ACL_H

#include "kafka_ext.h"

/* Registers the ACL functions and the kafka_acls table on db. */
int acl_register(sqlite3 *db);

#endif
