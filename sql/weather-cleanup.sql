-- Step 5: clean up, like the tutorial's admin script: delete the topic,
-- then drop the tables (DROP TABLE never deletes a topic by itself).
--
--   sqlite3 weather.db < sql/weather-cleanup.sql
.bail on
.load ./build/kafka
SELECT 'deleted topic ' ||
       kafka_delete_topic('localhost:29092', 'kubertron.weather.inbound');
DROP TABLE IF EXISTS weather;
DROP VIEW IF EXISTS weather_samples;
