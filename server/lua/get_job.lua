-- GET: the job, its state and its queue's counters, read in one script so
-- they are one snapshot.
--
-- KEYS[1] the job's hash
-- ARGV[1] the queue's key prefix ("bull:name:")
-- ARGV[2] the job id
-- ARGV[3] logs returned at most (the newest)
--
-- FIELDS, the hash fields to read, is defined in front of this script from
-- jobs_server::bullmq::mapping::FIELDS (one list for Lua and Rust).
-- Returns nil for no such job, else
-- { status, field values (HMGET), logs, waiting, active, completed, failed }.

local jobKey = KEYS[1]
local prefix = ARGV[1]
local jobId = ARGV[2]
local maxLogs = tonumber(ARGV[3])

local fields = rcall("HMGET", jobKey, unpack(FIELDS))
-- Every BullMQ job has a `timestamp`; without one, ask whether the hash
-- exists at all (a hash that is not a job is reported, not hidden).
if not fields[3] and rcall("EXISTS", jobKey) == 0 then
  return nil
end
local status = contractStatus(jobState(prefix, jobId, jobKey))
local logs = {}
if maxLogs > 0 then
  logs = rcall("LRANGE", jobKey .. ":logs", -maxLogs, -1)
end
local delayed = rcall("ZCOUNT", prefix .. "delayed", "-inf", "(" .. PARKED_SCORE_TEXT)
local waiting = rcall("LLEN", prefix .. "wait") + rcall("LLEN", prefix .. "paused")
  + rcall("ZCARD", prefix .. "prioritized") + delayed
  + rcall("ZCARD", prefix .. "waiting-children")
return {
  status, fields, logs, waiting,
  rcall("LLEN", prefix .. "active"),
  rcall("ZCARD", prefix .. "completed"),
  rcall("ZCARD", prefix .. "failed"),
}
