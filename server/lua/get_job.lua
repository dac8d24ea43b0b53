-- GET: the job, its state and its queue's counters, read in one script so
-- they are one snapshot.
--
-- KEYS[1] the job's hash
-- ARGV[1] the queue's key prefix ("bull:name:")
-- ARGV[2] the job id
-- ARGV[3] logs returned at most (the newest)
--
-- FIELDS, the hash fields to read, is defined in front of this script from
-- jobs_server::mapping::FIELDS (one list for Lua and Rust).
-- Returns nil for no such job, else
-- { status, field values (HMGET), logs, waiting, active, completed, failed }.

local jobKey = KEYS[1]
local prefix = ARGV[1]
local jobId = ARGV[2]
local maxLogs = tonumber(ARGV[3])

-- Only a job is a job: one of the queue's own keys, a key of another type
-- or a hash without BullMQ's numeric `timestamp` (FIELDS[3]) is no job.
if isQueueKey(jobId) or not isHash(jobKey) then
  return nil
end
local fields = rcall("HMGET", jobKey, unpack(FIELDS))
if tonumber(fields[3]) == nil then
  return nil
end
local state = jobState(prefix, jobId, jobKey)
if state == "orphan" then
  return nil
end
local status = contractStatus(state)
local logs = {}
if maxLogs > 0 then
  logs = rcall("LRANGE", jobKey .. ":logs", -maxLogs, -1)
end
-- The jobs this server parked all share one score (BullMQ's own delays
-- reach it only for a due time of exactly 2^50 ms, in the year 37 648).
local delayed = rcall("ZCARD", prefix .. "delayed")
  - rcall("ZCOUNT", prefix .. "delayed", PARKED_SCORE_TEXT, PARKED_SCORE_TEXT)
local waiting = rcall("LLEN", prefix .. "wait") + rcall("LLEN", prefix .. "paused")
  + rcall("ZCARD", prefix .. "prioritized") + delayed
  + rcall("ZCARD", prefix .. "waiting-children")
return {
  status, fields, logs, waiting,
  rcall("LLEN", prefix .. "active"),
  rcall("ZCARD", prefix .. "completed"),
  rcall("ZCARD", prefix .. "failed"),
}
