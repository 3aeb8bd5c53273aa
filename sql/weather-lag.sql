-- Step 4: the consumer group's position and lag, per partition.
--
--   sqlite3 weather.db < sql/weather-lag.sql
--
-- committed is the offset the group will read next, high the partition's
-- end, lag = high - committed: the samples produced since the consumer
-- last ran. Produce more (sql/weather-producer.sh) and the lag grows;
-- consume (sql/weather-consumer.sql) and it drops to 0. Before the consumer
-- first committed, Kafka does not know the group: the error says it does
-- not exist, as kafka-consumer-groups.sh does.
.bail on
.load ./build/kafka
.mode box
SELECT topic, partition, committed, high, lag
FROM kafka_group_offsets('localhost:29092', 'met-consumer-group-1')
WHERE topic = 'kubertron.weather.inbound'
ORDER BY partition;
