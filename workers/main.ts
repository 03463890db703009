// Worker process entry: `node --import tsx workers/main.ts` (the container's command). Configuration
// comes from the environment (workers/README.md). SIGTERM/SIGINT drain gracefully: analysis stops,
// leases are released so another worker takes the cameras at once, running jobs finish.
import { startWorker } from './worker.js';

const worker = await startWorker();
let draining = false;
const shutdown = (signal: string) => {
  if (draining) return;
  draining = true;
  process.stdout.write(JSON.stringify({ t: new Date().toISOString(), msg: `${signal}: draining` }) + '\n');
  // A drain that hangs (e.g. Redis gone for good) must not keep the orchestrator waiting forever.
  const force = setTimeout(() => process.exit(1), 25_000);
  force.unref();
  worker.drain().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
