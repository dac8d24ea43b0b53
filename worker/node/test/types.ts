// `tsc -p worker/node` type-checks index.d.ts against the pinned bullmq:
// a typed processor with the signal, the options, the control event.
import { Job } from 'bullmq';
import { ControlEvent, ControlledWorker, ControlRequest, DEFAULT_GRACE_MS } from '..';

interface Page {
  url: string;
}

const worker = new ControlledWorker<Page, { pages: number }>(
  'pages',
  async (job: Job<Page, { pages: number }>, _token: string | undefined, signal: AbortSignal) => {
    signal.throwIfAborted();
    const reason: unknown = signal.reason;
    if (reason instanceof ControlRequest && reason.action === 'pause') {
      await job.updateProgress(50);
    }
    return { pages: job.data.url.length };
  },
  { connection: { host: '127.0.0.1', port: 6379 }, concurrency: 4, controlGraceMs: DEFAULT_GRACE_MS * 2, autorun: false },
);

worker.on('control', (event: ControlEvent) => {
  const outcome: 'requested' | 'applied' | 'refused' = event.outcome;
  void outcome;
});

export default worker;
