'use strict';
// The Lua scripts a ControlledWorker runs, put together once per process:
// `settle` calls BullMQ's own removal functions, taken from the installed
// bullmq package (the peer dependency), so a cancelled job is removed
// exactly as BullMQ's Queue.remove removes it.

const fs = require('node:fs');
const path = require('node:path');

const BODY_MARKER = '\nlocal jobId = ARGV[1]';

function read(name) {
  return fs.readFileSync(path.join(__dirname, '..', 'lua', `${name}.lua`), 'utf8');
}

/** BullMQ's removal functions, up to the body of its removeJob script. */
function bullmqRemovalFunctions() {
  let content;
  try {
    content = require('bullmq/dist/cjs/scripts/removeJob-2.js').removeJob.content;
  } catch (error) {
    throw new Error(`jobs-api-worker: cannot read BullMQ's removeJob script (${error.message})`);
  }
  const end = content.indexOf(BODY_MARKER);
  if (end < 0 || !/\bremoveJobWithChildren = function\(/.test(content)) {
    throw new Error(
      "jobs-api-worker: the installed bullmq's removeJob script has a layout this version does not know",
    );
  }
  return content.slice(0, end);
}

let cached;

/** The scripts as ioredis `defineCommand` definitions. */
function scripts() {
  if (!cached) {
    cached = {
      jobsApiHeartbeat: { numberOfKeys: 1, lua: read('heartbeat') },
      jobsApiSettle: { numberOfKeys: 3, lua: `${bullmqRemovalFunctions()}\n${read('settle')}` },
    };
  }
  return cached;
}

module.exports = { scripts };
