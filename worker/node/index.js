'use strict';
// jobs-api-worker: BullMQ workers whose running jobs the Job Status API
// can cancel and pause.

const {
  ControlledWorker,
  ControlRequest,
  DEFAULT_GRACE_MS,
  DEFAULT_HEARTBEAT_MS,
} = require('./lib/controlled-worker');

exports.ControlledWorker = ControlledWorker;
exports.ControlRequest = ControlRequest;
exports.DEFAULT_GRACE_MS = DEFAULT_GRACE_MS;
exports.DEFAULT_HEARTBEAT_MS = DEFAULT_HEARTBEAT_MS;
