// `node --import tsx bin/run.ts`: the embedded single-machine mode (what `citywatch run` calls).
import { runEmbedded } from './embedded.js';

try {
  await runEmbedded();
} catch (err) {
  process.stderr.write(`citywatch run: ${(err as Error).message}\n`);
  process.exit(1);
}
