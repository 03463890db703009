// `node --import tsx workers/run.ts`: the embedded single-machine mode (what `citywatch run` calls).
import { runEmbedded } from './embedded.js';

await runEmbedded();
