-- PUT and DELETE: pause, resume or cancel one job, atomically, with its
-- audit record. Never reports an action that did not happen: a job held by
-- a worker is refused (BullMQ has no way to pause or stop a running job
-- from outside the worker).
--
-- KEYS[1] the job's hash
-- KEYS[2] the audit stream
-- ARGV[1] the queue's key prefix ("bull:name:")
-- ARGV[2] the job id
-- ARGV[3] the action: pause, resume or cancel
-- ARGV[4] the operation to audit: updateJob or deleteJob
-- ARGV[5] who asked (the audit's client; "" for anonymous)
-- ARGV[6] the audit stream's approximate maximum length
-- ARGV[7] the job as the audit record names it (bounded: a huge id is
--         its prefix and hash, jobs_server::audit::audit_job_id)
--
-- Returns { "missing", auditId }, { "refused", status, details, auditId } or
-- { "applied", fromStatus, toStatus, atMs, auditId }: auditId is the audit
-- record's stream entry id, which the server's log line names.

local jobKey = KEYS[1]
local auditKey = KEYS[2]
local prefix = ARGV[1]
local jobId = ARGV[2]
local action = ARGV[3]
local operation = ARGV[4]
local client = ARGV[5]
local auditMax = ARGV[6]
local auditId = ARGV[7]

local function record(result, extra)
  local fields = { "at", nowMs(), "operation", operation, "action", action,
    "jobId", auditId, "result", result }
  for _, value in ipairs(extra) do
    fields[#fields + 1] = value
  end
  if client ~= "" then
    fields[#fields + 1] = "client"
    fields[#fields + 1] = client
  end
  return rcall("XADD", auditKey, "MAXLEN", "~", auditMax, "*", unpack(fields))
end

-- Decided here, in the script that acts: nothing can change between the
-- check and the action. An orphan (a job hash in no list) is no job either.
local state = isJob(jobId, jobKey) and jobState(prefix, jobId, jobKey)
if not state or state == "orphan" then
  return { "missing", record("rejected", { "reason", "Job not found" }) }
end
local status = contractStatus(state)

local function refuse(details)
  local auditId = record("rejected", { "from", status, "reason", details })
  return { "refused", status, details, auditId }
end

local function applied(to)
  local at = nowMs()
  local auditId = record("applied", { "from", status, "to", to })
  return { "applied", status, to, at, auditId }
end

-- Adds the marker BullMQ's workers block on, as BullMQ does when a job
-- becomes available, unless the queue is paused or at its concurrency.
local function markAvailable()
  local meta = rcall("HMGET", prefix .. "meta", "paused", "concurrency")
  if meta[1] then
    return
  end
  if meta[2] and rcall("LLEN", prefix .. "active") >= tonumber(meta[2]) then
    return
  end
  rcall("ZADD", prefix .. "marker", 0, "0")
end

-- BullMQ's delayed marker: the next due time among delayed jobs.
local function markNextDelayed()
  local first = rcall("ZRANGE", prefix .. "delayed", 0, 0, "WITHSCORES")
  if first[2] then
    rcall("ZADD", prefix .. "marker", tonumber(first[2]) / 0x1000, "1")
  end
end

if action == "pause" then
  if status == "completed" or status == "failed" then
    return refuse("Job is already " .. status)
  end
  if status == "paused" then
    return refuse("Job is already paused")
  end
  if state == "active" then
    return refuse("Job is being processed by a worker; BullMQ cannot pause a running job")
  end
  if state == "stuck" then
    return refuse("Job is stuck: it is active but its worker's lock has expired")
  end
  if state == "waiting-children" then
    return refuse("Job is waiting for its children to complete")
  end
  local from
  if state == "delayed" then
    from = "delayed:" .. rcall("ZSCORE", prefix .. "delayed", jobId)
    rcall("ZREM", prefix .. "delayed", jobId)
  elseif state == "prioritized" then
    from = "prioritized:" .. rcall("ZSCORE", prefix .. "prioritized", jobId)
    rcall("ZREM", prefix .. "prioritized", jobId)
  elseif rcall("LREM", prefix .. "wait", 1, jobId) == 1 then
    from = "wait"
  elseif rcall("LREM", prefix .. "paused", 1, jobId) == 1 then
    from = "paused"
  else
    -- In no list or set BullMQ knows: nothing a worker would take.
    return refuse("Job is in no state of its queue")
  end
  rcall("ZADD", prefix .. "delayed", PARKED_SCORE_TEXT, jobId)
  rcall("HSET", jobKey, PARKED_FROM, from)
  return applied("paused")
end

if action == "resume" then
  if status ~= "paused" then
    return refuse("Job is not paused (it is " .. status .. ")")
  end
  local from = rcall("HGET", jobKey, PARKED_FROM) or "wait"
  rcall("ZREM", prefix .. "delayed", jobId)
  rcall("HDEL", jobKey, PARKED_FROM)
  local kind, score = string.match(from, "^(%a+):(.+)$")
  if kind == "prioritized" then
    rcall("ZADD", prefix .. "prioritized", score, jobId)
    markAvailable()
  elseif kind == "delayed" then
    rcall("ZADD", prefix .. "delayed", score, jobId)
    markNextDelayed()
  else
    -- Back of the line, as BullMQ adds a job (workers take from the right).
    rcall("LPUSH", prefix .. "wait", jobId)
    markAvailable()
  end
  rcall("XADD", prefix .. "events", "MAXLEN", "~", getOrSetMaxEvents(prefix .. "meta"), "*", "event", "waiting",
    "jobId", jobId, "prev", "paused")
  return applied("waiting")
end

if action == "cancel" then
  if status == "completed" or status == "failed" then
    return refuse("Job is already " .. status)
  end
  if state == "active" then
    return refuse("Job is being processed by a worker; BullMQ cannot stop a running job")
  end
  if state == "stuck" then
    -- As the contract's table: cancel leaves waiting, active or paused.
    -- BullMQ's stalled checker returns it to `wait` (then cancellable).
    return refuse("Job is stuck: it is active but its worker's lock has expired")
  end
  if isJobSchedulerJob(jobId, jobKey, prefix .. "repeat") then
    return refuse("Job is the next run of a job scheduler; remove the scheduler instead")
  end
  if isLocked(prefix, jobId, "1") then
    return refuse("A child of the job is being processed by a worker")
  end
  removeJobWithChildren(prefix, jobId, nil, {
    removeChildren = true, ignoreProcessed = false, ignoreLocked = false })
  return applied("cancelled")
end

return redis.error_reply("unknown action " .. action)
