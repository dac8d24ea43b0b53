-- PUT and DELETE: pause, resume or cancel one job, atomically, with its
-- audit record. Never reports an action that did not happen.
--
-- A running job (`active`) is asked of the worker that holds it, when that
-- worker accepts control (a ControlledWorker's promise in
-- `jobs-api:workers`): the request is recorded on the job's hash
-- (`jobs-api:control`), listed in `jobs-api:control-pending` and sent on
-- the worker's stream `jobs-api:control:<worker>`; the worker ends the job
-- and stores the outcome in `jobs-api:outcome:<request>`. The server then
-- settles the request with this script (mode "settle"), until the outcome
-- is there or the job has left `active` some other way.
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
--         its prefix and hash, jobs_http::audit::audit_job_id)
-- ARGV[8] mode: "act" (a client's request), "settle" (a control request's
--         outcome, if any) or "expire" (settle, and audit that the server
--         stopped waiting)
-- ARGV[9] the control request's id: a new one for "act" (used if the job
--         is running), the one to settle otherwise ("": whichever the job
--         holds)
--
-- Returns { "missing", auditId }, { "refused", status, details, auditId },
-- { "applied", fromStatus, toStatus, atMs, auditId },
-- { "requested", status, requestId, worker, atMs, auditId } (a running
-- job's worker was asked), { "pending", status, action, atMs, auditId }
-- (settling: still with the worker) or { "outcome", json, auditId } (the
-- worker's stored outcome). auditId is the audit record's stream entry id
-- ("" when none was written), which the server's log line names.

local jobKey = KEYS[1]
local auditKey = KEYS[2]
local prefix = ARGV[1]
local jobId = ARGV[2]
local action = ARGV[3]
local operation = ARGV[4]
local client = ARGV[5]
local auditMax = ARGV[6]
local auditId = ARGV[7]
local mode = ARGV[8]
local requestId = ARGV[9]

local CONTROL = "jobs-api:control"
local PENDING = prefix .. "jobs-api:control-pending"
local OUTCOME_TTL_MS = 3600000

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
if state == "orphan" then
  state = false
end
local status = state and contractStatus(state)

-- The control request on the job's hash, decoded; nil when none.
local function controlRequest()
  local raw = state and rcall("HGET", jobKey, CONTROL)
  if not raw then
    return nil
  end
  local ok, request = pcall(cjson.decode, raw)
  if ok and type(request) == "table" and type(request.id) == "string" then
    return request
  end
  return nil
end

-- An entry of BullMQ's events stream, which every watcher of the queue
-- (jobs-server's event streams, QueueEvents) reads. BullMQ's own names for
-- the moves BullMQ makes too (`delayed`, `waiting`, `removed`); ours for a
-- control request written or cleared, which BullMQ has no word for.
local function announce(event, ...)
  rcall("XADD", prefix .. "events", "MAXLEN", "~", getOrSetMaxEvents(prefix .. "meta"), "*",
    "event", event, "jobId", jobId, ...)
end

local settling = mode ~= "act"
local settled
if settling then
  local stored = rcall("GET", prefix .. "jobs-api:outcome:" .. requestId)
  if requestId ~= "" and stored then
    return { "outcome", stored, "" }
  end
  settled = controlRequest()
  if not settled or (requestId ~= "" and settled.id ~= requestId) then
    -- Settled elsewhere (its outcome expired) or the job is gone.
    if not settled then
      rcall("ZREM", PENDING, jobId)
    end
    return { "missing", "" }
  end
  requestId = settled.id
  action = settled.action
  operation = settled.operation or operation
  client = settled.client or ""
  if state == "active" or state == "stuck" then
    local recordId = ""
    if mode == "expire" then
      recordId = record("timed-out", { "from", status, "request", requestId, "worker", settled.worker,
        "reason", "No outcome from the worker within the server's bound; the request stays in force" })
    end
    return { "pending", status, action, settled.at, recordId }
  end
  -- The job left `active` without the worker applying the request: it
  -- finished first, or BullMQ's stalled checker brought it back (its worker
  -- died), where the request is honoured as for a waiting job.
  rcall("HDEL", jobKey, CONTROL)
  rcall("ZREM", PENDING, jobId)
  announce("jobs-api:control", "action", action, "result", "cleared")
end

if not state then
  return { "missing", record("rejected", { "reason", "Job not found" }) }
end

-- A settled control request's outcome, for the server that waits on it
-- (and any other): kept an hour.
local function storeOutcome(outcome)
  if settling then
    outcome.at = nowMs()
    outcome.action = action
    rcall("SET", prefix .. "jobs-api:outcome:" .. requestId, cjson.encode(outcome), "PX", OUTCOME_TTL_MS)
  end
end

-- The audit record's fields that name the control request and the worker
-- it was asked of, if any.
local function withRequest(fields)
  if settling then
    fields[#fields + 1] = "request"
    fields[#fields + 1] = requestId
    fields[#fields + 1] = "worker"
    fields[#fields + 1] = settled.worker or ""
  end
  return fields
end

local function refuse(details)
  storeOutcome({ result = "refused", status = status, details = details })
  local auditId = record("rejected", withRequest({ "from", status, "reason", details }))
  return { "refused", status, details, auditId }
end

local function applied(to)
  local at = nowMs()
  storeOutcome({ result = "applied", to = to })
  local auditId = record("applied", withRequest({ "from", status, "to", to }))
  return { "applied", status, to, at, auditId }
end

-- A running job: asked of the worker holding it, if that worker accepts
-- control. One request at a time: a second, whatever its action, is
-- refused while the first is in force.
local function requestControl()
  local token = rcall("GET", jobKey .. ":lock")
  local worker = token and string.match(token, "^(.+):%d+$")
  local promise = worker and rcall("ZSCORE", prefix .. "jobs-api:workers", worker)
  local now = nowMs()
  if not promise or tonumber(promise) < now then
    return refuse("Job is being processed by a worker that does not accept control (a plain BullMQ Worker); "
      .. "BullMQ cannot " .. action .. " a running job from outside its worker")
  end
  local existing = controlRequest()
  if existing then
    return refuse("Job already has a " .. existing.action .. " request in force with its worker")
  end
  rcall("HSET", jobKey, CONTROL, cjson.encode({
    id = requestId, action = action, worker = worker, at = now, operation = operation,
    auditJob = auditId, auditMax = tonumber(auditMax), client = client }))
  rcall("ZADD", PENDING, now, jobId)
  local stream = prefix .. "jobs-api:control:" .. worker
  rcall("XADD", stream, "MAXLEN", "~", 1000, "*", "job", jobId, "request", requestId, "action", action)
  -- A dead worker's stream goes with time.
  rcall("PEXPIRE", stream, 86400000)
  announce("jobs-api:control", "action", action, "result", "requested")
  local recordId = record("requested", { "from", status, "request", requestId, "worker", worker })
  return { "requested", status, requestId, worker, now, recordId }
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
    return requestControl()
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
  announce("delayed", "delay", PARKED_SCORE_TEXT)
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
  announce("waiting", "prev", "paused")
  return applied("waiting")
end

if action == "cancel" then
  if status == "completed" or status == "failed" then
    return refuse("Job is already " .. status)
  end
  if state == "active" then
    return requestControl()
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
