-- The worker's answer to a control request for a job it holds, after the
-- job's processor settled (apply) or its grace period ran out (refuse).
-- Applied only while the request is still the job's (jobs-server has not
-- settled it otherwise) and the worker still holds the job's lock: then,
-- in this one script, the job leaves `active` and ends as the request
-- asked, the request is cleared, its outcome is stored for jobs-server and
-- the audit stream has the record.
--
-- KEYS[1] the job's hash
-- KEYS[2] the job's lock
-- KEYS[3] <prefix>jobs-api:audit
-- ARGV[1] the queue's key prefix ("bull:name:")
-- ARGV[2] the job id
-- ARGV[3] the worker's lock token for the job
-- ARGV[4] the request's id
-- ARGV[5] "apply" or "refuse"
-- ARGV[6] why, for a refusal (the contract's details)
-- ARGV[7] the worker's id (the outcome's and the audit record's `worker`)
--
-- Returns { "applied", to, atMs }, { "refused" }, { "gone" } (the request
-- is no longer the job's) or { "lost" } (the lock is not the worker's).

local jobKey, lockKey, auditKey = KEYS[1], KEYS[2], KEYS[3]
local prefix, jobId, token, requestId, mode, details, workerId =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]

local CONTROL = "jobs-api:control"
local PARKED_FROM = "jobs-api:parked-from"
local PARKED_SCORE_TEXT = "4611686018427387904" -- 2^62, as jobs-server parks
local OUTCOME_TTL_MS = 3600000

local raw = rcall("HGET", jobKey, CONTROL)
if not raw then
  return { "gone" }
end
local ok, request = pcall(cjson.decode, raw)
if not ok or type(request) ~= "table" or request.id ~= requestId then
  return { "gone" }
end
if mode == "apply" and rcall("GET", lockKey) ~= token then
  return { "lost" }
end

local time = rcall("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local function finish(outcome, auditFields)
  rcall("HDEL", jobKey, CONTROL)
  rcall("ZREM", prefix .. "jobs-api:control-pending", jobId)
  outcome.at = now
  outcome.worker = workerId
  outcome.action = request.action
  rcall("SET", prefix .. "jobs-api:outcome:" .. requestId, cjson.encode(outcome), "PX", OUTCOME_TTL_MS)
  local fields = { "at", now, "operation", request.operation or "updateJob", "action", request.action,
    "jobId", request.auditJob or jobId }
  for _, value in ipairs(auditFields) do
    fields[#fields + 1] = value
  end
  fields[#fields + 1] = "request"
  fields[#fields + 1] = requestId
  fields[#fields + 1] = "worker"
  fields[#fields + 1] = workerId
  if request.client and request.client ~= "" then
    fields[#fields + 1] = "client"
    fields[#fields + 1] = request.client
  end
  rcall("XADD", auditKey, "MAXLEN", "~", request.auditMax or 100000, "*", unpack(fields))
end

if mode == "refuse" then
  -- The request is cleared and the job runs on: its watchers learn it
  -- (the event jobs-server writes for a request written or cleared).
  rcall("XADD", prefix .. "events", "MAXLEN", "~", getOrSetMaxEvents(prefix .. "meta"), "*",
    "event", "jobs-api:control", "jobId", jobId, "action", request.action, "result", "refused")
  finish({ result = "refused", status = "active", details = details },
    { "result", "rejected", "from", "active", "reason", details })
  return { "refused" }
end

-- The job leaves `active` and its lock; BullMQ's worker then leaves it
-- alone (the processor ends with a DelayedError).
rcall("LREM", prefix .. "active", 1, jobId)
rcall("DEL", lockKey)
rcall("SREM", prefix .. "stalled", jobId)

local to
if request.action == "cancel" then
  rcall("HDEL", jobKey, CONTROL)
  removeJobWithChildren(prefix, jobId, nil, {
    removeChildren = true, ignoreProcessed = false, ignoreLocked = false })
  to = "cancelled"
else
  -- Parked exactly as jobs-server parks a waiting job; resume puts it back
  -- in `wait`, and a worker runs it again from the start.
  rcall("ZADD", prefix .. "delayed", PARKED_SCORE_TEXT, jobId)
  rcall("HSET", jobKey, PARKED_FROM, "wait")
  rcall("XADD", prefix .. "events", "MAXLEN", "~", getOrSetMaxEvents(prefix .. "meta"), "*",
    "event", "delayed", "jobId", jobId, "delay", PARKED_SCORE_TEXT)
  to = "paused"
end
finish({ result = "applied", to = to }, { "result", "applied", "from", "active", "to", to })
return { "applied", to, now }
