/*
** Key to partition, for `key =` / `key IN` pushdown. The hashes are
** librdkafka's public partitioner functions, so they are exactly the ones
** its producers (kcat, confluent-kafka) use; murmur2 is also the Java
** client's and kafka-python's (with Java's positive mask and modulo).
**
** In librdkafka 2.0.2 (src/rdkafka_msg.c) murmur2 and consistent (crc32)
** hash any key and never touch the topic handle; consistent_random hashes a
** key of length > 0 the same way as consistent, but sends an empty key to
** rd_kafka_msg_partitioner_random, which reads the topic handle (it would
** crash on the NULL passed here). Producers send a NULL key (and, under
** consistent_random, an empty one) to a sticky random partition, and Java
** and kafka-python send a NULL key to any partition: so an empty key is
** never hashed here, it may be anywhere.
*/
#include <librdkafka/rdkafka.h>

#include "table.h"

int32_t partitioner_partition(kafka_partitioner partitioner, const void *key, size_t len,
                              int32_t partition_cnt) {
  if (!key || !len || partition_cnt <= 0) return -1;
  switch (partitioner) {
  case KAFKA_PARTITIONER_MURMUR2:
    return rd_kafka_msg_partitioner_murmur2(NULL, key, len, partition_cnt, NULL, NULL);
  case KAFKA_PARTITIONER_CRC32:
    return rd_kafka_msg_partitioner_consistent(NULL, key, len, partition_cnt, NULL, NULL);
  case KAFKA_PARTITIONER_CONSISTENT_RANDOM:
    return rd_kafka_msg_partitioner_consistent_random(NULL, key, len, partition_cnt, NULL, NULL);
  default:
    return -1;
  }
}
