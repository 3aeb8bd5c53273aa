-- Step 4: the consumer group's position and lag, per partition.
--
--   sqlite3 weather.db < sql/weather-lag.sql
--
-- committed is the offset the group will read next, high the partition's
-- end, lag = high - committed: the samples produced since the consumer
-- last ran. Produce more (sql/weather-producer.sh) and the lag grows;
-- consume (sql/weather-consumer.sql) and it drops to 0.
.bail on
.load ./build/kafka
.mode box
SELECT o.topic, o.partition, o.committed, o.high, o.lag
FROM weather_config AS c, kafka_group_offsets(c.brokers, c.consumer_group) AS o
WHERE o.topic = c.topic
ORDER BY o.partition;
