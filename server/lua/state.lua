-- Shared by every jobs-server script: where a job is, in the contract's
-- words. BullMQ keeps each job in exactly one list or sorted set of its
-- queue; this reads the sorted sets by score (O(log n)), the `active` list
-- (as long as the workers' concurrency) and the ends of `wait`, which can
-- hold millions (`listHolds`).

local rcall = redis.call

-- A job this server paused sits in `delayed` at exactly this score: no
-- worker promotes it (its due time is some 35 000 years away), BullMQ's
-- stalled checker never looks at `delayed`, and BullMQ's own API shows it
-- as a delayed job.
-- (Text for ZADD and ZCOUNT: Lua's tostring would round it.)
local PARKED_SCORE_TEXT = "4611686018427387904" -- 2^62
local PARKED_SCORE = tonumber(PARKED_SCORE_TEXT)

-- The job hash field that remembers where a paused job came from, for
-- resume: "wait", "paused" (BullMQ's legacy list), "prioritized:<score>" or
-- "delayed:<score>". Removed with the hash.
local PARKED_FROM = "jobs-api:parked-from"

-- The names of the queue's own keys, each `<prefix><name>`: BullMQ 6.7's
-- QueueKeys ("" is the queue's own prefix), and the families its scripts
-- write beside the jobs (deduplication keys `de:<id>` and `dn:<id>`) and
-- this server's (`jobs-api:…`). Job schedulers (`repeat:<id>`) and a job's
-- own keys (`<id>:lock`, `:logs`, `:dependencies`, `:processed`, `:failed`,
-- `:unsuccessful`) are no job hashes, which `isJob` tells by their type
-- and fields: their names can also be a job's id (`repeat:<id>:<ms>`).
local QUEUE_KEYS = {
  [""] = true, ["active"] = true, ["wait"] = true, ["waiting-children"] = true,
  ["paused"] = true, ["id"] = true, ["delayed"] = true, ["prioritized"] = true,
  ["stalled-check"] = true, ["completed"] = true, ["failed"] = true,
  ["stalled"] = true, ["repeat"] = true, ["limiter"] = true, ["meta"] = true,
  ["events"] = true, ["pc"] = true, ["marker"] = true, ["de"] = true,
}
local KEY_FAMILIES = { "de:", "dn:", "jobs-api:" }

-- Whether `jobId` names one of the queue's own keys rather than a job.
local function isQueueKey(jobId)
  if QUEUE_KEYS[jobId] then
    return true
  end
  for _, family in ipairs(KEY_FAMILIES) do
    if string.sub(jobId, 1, #family) == family then
      return true
    end
  end
  return false
end

-- Whether `jobKey` holds a hash at all (a list, set, stream or string of
-- the queue is none).
local function isHash(jobKey)
  return rcall("TYPE", jobKey)["ok"] == "hash"
end

-- Whether `jobId` is a BullMQ job: not one of the queue's own keys, and its
-- key a hash with the numeric `timestamp` BullMQ stores every job with
-- (`storeJob`); a scheduler's hash, the queue's `meta` and a parent's
-- `:processed` have none.
local function isJob(jobId, jobKey)
  if isQueueKey(jobId) or not isHash(jobKey) then
    return false
  end
  return tonumber(rcall("HGET", jobKey, "timestamp")) ~= nil
end

-- How far GET looks into `wait` (and the legacy `paused` list) from each
-- end for a job found nowhere else: BullMQ adds at the head and takes from
-- the tail, so a list this short is read whole, and a longer one only at
-- its ends (Redis runs one script at a time: a long scan would stall it).
local WAIT_SCAN = 1000

-- Whether list `key` holds `jobId`: true, false, or nil when the list is
-- longer than the scan and the ends do not hold it (most likely waiting in
-- the middle of a long queue).
local function listHolds(key, jobId)
  if rcall("LLEN", key) <= 2 * WAIT_SCAN then
    return rcall("LPOS", key, jobId) ~= false
  end
  if rcall("LPOS", key, jobId, "MAXLEN", WAIT_SCAN)
    or rcall("LPOS", key, jobId, "RANK", -1, "MAXLEN", WAIT_SCAN) then
    return true
  end
  return nil
end

-- One of: completed, failed, paused, delayed, prioritized,
-- waiting-children, active, stuck (active without its worker's lock),
-- waiting, or orphan: a job hash in none of the queue's lists, which no
-- worker will ever take (BullMQ's own `Queue.drain` leaves one behind when
-- a job scheduler's next job waits among others).
local function jobState(prefix, jobId, jobKey)
  if rcall("ZSCORE", prefix .. "completed", jobId) then
    return "completed"
  end
  if rcall("ZSCORE", prefix .. "failed", jobId) then
    return "failed"
  end
  local delayed = rcall("ZSCORE", prefix .. "delayed", jobId)
  if delayed then
    -- Paused by this server: parked, and marked so. A job BullMQ itself
    -- delayed that far (a huge `delay`) is still BullMQ's delayed job.
    if tonumber(delayed) == PARKED_SCORE and rcall("HEXISTS", jobKey, PARKED_FROM) == 1 then
      return "paused"
    end
    return "delayed"
  end
  if rcall("ZSCORE", prefix .. "prioritized", jobId) then
    return "prioritized"
  end
  if rcall("ZSCORE", prefix .. "waiting-children", jobId) then
    return "waiting-children"
  end
  if rcall("LPOS", prefix .. "active", jobId) then
    if rcall("EXISTS", jobKey .. ":lock") == 1 then
      return "active"
    end
    return "stuck"
  end
  if listHolds(prefix .. "wait", jobId) == false and listHolds(prefix .. "paused", jobId) == false then
    return "orphan"
  end
  return "waiting"
end

-- The contract's status of a BullMQ state.
local function contractStatus(state)
  if state == "delayed" or state == "prioritized" or state == "waiting-children" then
    return "waiting"
  end
  return state
end

-- Milliseconds since the epoch on the Redis server's clock, so that every
-- jobs-server instance writes the same time.
local function nowMs()
  local time = rcall("TIME")
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
