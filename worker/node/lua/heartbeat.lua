-- A ControlledWorker says it accepts control: its id in the queue's
-- `jobs-api:workers` sorted set, scored with the Redis time (ms) until
-- which it does. Entries past their time are dropped here; jobs-server
-- reads a score in the past as "does not accept control".
--
-- KEYS[1] <prefix>jobs-api:workers
-- ARGV[1] the worker's id (BullMQ's Worker.id, the start of its lock tokens)
-- ARGV[2] how long the promise holds, in ms (0: withdraw it)
--
-- Returns the Redis time in ms.

local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", "(" .. now)
if tonumber(ARGV[2]) > 0 then
  redis.call("ZADD", KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
else
  redis.call("ZREM", KEYS[1], ARGV[1])
end
return now
