-- Shared by every jobs-server script: where a job is, in the contract's
-- words. BullMQ keeps each job in exactly one list or sorted set of its
-- queue; this reads the sorted sets by score (O(log n)) and the `active`
-- list (as long as the workers' concurrency), never the `wait` list, which
-- can hold millions: a job in none of the others is waiting.

local rcall = redis.call

-- A job this server paused sits in `delayed` at this score or above: no
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

-- One of: completed, failed, paused, delayed, prioritized,
-- waiting-children, active, stuck (active without its worker's lock),
-- waiting.
local function jobState(prefix, jobId, jobKey)
  if rcall("ZSCORE", prefix .. "completed", jobId) then
    return "completed"
  end
  if rcall("ZSCORE", prefix .. "failed", jobId) then
    return "failed"
  end
  local delayed = rcall("ZSCORE", prefix .. "delayed", jobId)
  if delayed then
    if tonumber(delayed) >= PARKED_SCORE then
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
