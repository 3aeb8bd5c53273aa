-- The tutorial's consumer, step 3: group met-consumer-group-1, from earliest.
--
--   sqlite3 weather.db < sql/weather-consumer.sql
--
-- Prints, like the tutorial's kafka-python consumer, topic:partition:offset
-- with the key and value of every message the group has not seen yet; then
-- follows the topic, printing new samples as they arrive, and ends after 10
-- seconds without one or after 100 messages. When it ends it commits the
-- group's position, so running it again prints only what arrived since.
-- Ctrl-C ends it early and commits nothing: those messages come again next
-- time (at least once, never lost). To consume for ever, as the tutorial's
-- consumer does:  while sqlite3 weather.db < sql/weather-consumer.sql; do :; done
.bail on
.load ./build/kafka

-- The topic read as the group: a scan starts where the group left off
-- (earliest when it never committed) and commits what it delivered. TEMP:
-- it lives only in this session. A group table kept in a database file
-- would be read by any tool that opens the file: Datasette counts every
-- table of the files it serves, and that count would consume the group.
CREATE VIRTUAL TABLE temp.weather_consumer USING kafka(
  brokers = 'localhost:29092',
  topic   = 'kubertron.weather.inbound',
  group   = 'met-consumer-group-1',
  start   = 'earliest'
);

.mode list
SELECT printf('%s:%d:%d: key=%s value=%s', 'kubertron.weather.inbound',
              partition, offset, key, value)
FROM weather_consumer
WHERE follow = 10000
LIMIT 100;
