#!/usr/bin/env bash
# Writes server/lua/vendor/bullmq-remove-job.lua from the installed bullmq
# npm package (pinned in package-lock.json): BullMQ's removal functions,
# verbatim, that jobs-server's cancel script calls. Run after changing the
# pinned version; server/tests/store.rs fails while the copy differs.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p 'require("bullmq/package.json").version')
out=server/lua/vendor/bullmq-remove-job.lua
{
  cat <<HEADER
-- BullMQ's job removal, as the bullmq npm package (version in the header
-- line below) assembles it for its own removeJob script: the functions
-- only, up to the script's body, verbatim. jobs-server's cancel script
-- calls removeJobWithChildren from it, so a job is removed exactly as
-- BullMQ's own Queue.remove removes it (hash, logs, every list and set,
-- its parent's dependency, its deduplication key, the \`removed\` event).
--
-- Source: node_modules/bullmq/dist/cjs/scripts/removeJob-2.js (MIT License,
-- Copyright (c) 2018 BullForce Labs AB and contributors), written by
-- scripts/sync-bullmq-lua.sh; a test compares it with the installed package.
-- bullmq $version
HEADER
  node -e 'const c = require("bullmq/dist/cjs/scripts/removeJob-2.js").removeJob.content;
    process.stdout.write(c.split("\nlocal jobId = ARGV[1]")[0] + "\n")'
} > "$out"
echo "wrote $out (bullmq $version)"
