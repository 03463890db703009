// The `citywatch` command line. Each subcommand lives in its own module under bin/commands and is
// loaded lazily, so `citywatch detect` does not pay for Redis or express imports.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { scrubSecrets } from '../pipeline/source/input-url.js';
import { CliError } from './cli-error.js';

/** Re-exported for callers that imported it from here; commands import ./cli-error.js (no cycle). */
export { CliError };

export function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got "${v}"`);
    return n;
  };
}

export function nonNegativeNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number >= 0, got "${v}"`);
    return n;
  };
}

export function unitNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${name} must be between 0 and 1, got "${v}"`);
    return n;
  };
}

export function buildProgram(): Command {
  const program = new Command('citywatch')
    .description('Street-camera analytics for city management: detect, analyse, record evidence, deliver cases.')
    .exitOverride()
    .showHelpAfterError();

  function tileGrid(v: string): { cols: number; rows: number } {
    const m = /^([1-4])x([1-4])$/.exec(v);
    if (!m || (m[1] === '1' && m[2] === '1'))
      throw new InvalidArgumentError(`--tiles must be COLSxROWS between 1x2 and 4x4, e.g. 2x2 (got "${v}")`);
    return { cols: Number(m[1]), rows: Number(m[2]) };
  }

  program
    .command('detect')
    .description('Run the object detector on a file or stream; prints one JSON line per analysed frame')
    .argument('<input>', 'file path, rtsp://, rtsps:// or http(s)://….m3u8')
    .option('--fps <n>', 'analysed frames per second', positiveNumber('--fps'), 2)
    .option('--model <name>', 'model manifest name (see `citywatch models list`)', 'yolox_nano')
    .option('--score <s>', 'minimum detection score', unitNumber('--score'), 0.3)
    .option('--keyframes', 'decode keyframes only (cheap low-fps analysis)', false)
    .option('--max-frames <n>', 'stop after this many analysed frames', positiveNumber('--max-frames'))
    .option('--annotate <dir>', 'write a JPEG per frame with the boxes drawn')
    .option('--threads <n>', 'inference threads', positiveNumber('--threads'))
    .option('--tiles <COLSxROWS>', 'tiled inference: also run overlapping crops (e.g. 2x2) and merge (see analysis.tiling)', tileGrid)
    .action(async (input: string, opts) => (await import('./commands/detect.js')).runDetect(input, opts));

  program
    .command('analyze')
    .description('Turn a clip or stream into violation events (JSON Lines) plus a summary listing all classes')
    .argument('<input>', 'file path, rtsp://, rtsps:// or http(s)://….m3u8')
    .requiredOption('--config <file>', 'camera config (YAML or JSON)')
    .option('--fps <n>', "analysed frames per second (default: the config's analysis.fps)", positiveNumber('--fps'))
    .option('--annotate <dir>', 'write a snapshot per confirmed event with zone and boxes drawn')
    .option('--explain', 'also print why subjects were NOT hits (rule and numbers), one line per change', false)
    .option('--threads <n>', 'inference threads', positiveNumber('--threads'))
    .action(async (input: string, opts) => (await import('./commands/analyze.js')).runAnalyze(input, opts));

  program
    .command('eval')
    .description('Score violation events against labelled clips; report with plots and threshold sweeps')
    .option('--dir <dir>', 'folder of <id>.truth.json + clips (default: .cache/fixtures, generated when missing)')
    .option('--clips <ids...>', 'only these clip ids')
    .option('--clip-dir <dir>', 'resolve relative clip paths here (e.g. --dir fixtures/truth --clip-dir .cache/fixtures)')
    .option('--out <dir>', 'report folder', '.cache/eval-report')
    .option(
      '--sweep <spec>',
      'class.param=a..b:step or class.param=v1,v2 (repeatable)',
      (v: string, p: string[]) => [...p, v],
      [] as string[],
    )
    .option('--fps <n>', 'analysed fps (default: each config)', positiveNumber('--fps'))
    .option('--threads <n>', 'inference threads', positiveNumber('--threads'))
    .option('--tolerance <sec>', 'default matching tolerance in seconds', nonNegativeNumber('--tolerance'), 2)
    .option('--min-precision <p>', 'exit 1 if a class is below (CI)', unitNumber('--min-precision'))
    .option('--min-recall <r>', 'exit 1 if a class is below (CI)', unitNumber('--min-recall'))
    .option('--json', 'print the JSON report on stdout instead of the table', false)
    .option('--keyframes-only', 'decode keyframes only on every clip (the low-rate path of live cameras)', false)
    .option(
      '--gop <sec>',
      'live-camera rate: re-encode every clip with a keyframe each <sec> (cached in .cache/gop) and decode keyframes only, at 1/<sec> fps',
      positiveNumber('--gop'),
    )
    .option('--model <name>', "detector model for every clip, overriding each config's analysis.model (see `citywatch models list`)")
    .option('--title <text>', 'heading printed above the table (e.g. the suite name)')
    .action(async (opts) => {
      await (await import('./commands/eval.js')).runEval(opts);
    });

  program
    .command('run')
    .description('Everything on one machine: local redis-server, local evidence, a demo camera; prints cases as they appear')
    .option('--no-demo', 'do not register the demo camera')
    .action(async (opts: { demo: boolean }) => {
      // Before the heavy imports: a second `npm start` is told about the busy port within a second.
      await (await import('../api/listen.js')).assertPortFree(Number(process.env.PORT || 8080), process.env.HOST || '127.0.0.1');
      const { runEmbedded } = await import('./embedded.js');
      await runEmbedded({ demo: opts.demo });
    });

  program
    .command('worker')
    .description('A stream worker process (configuration from the environment; see workers/README.md)')
    .action(async () => {
      await import('../workers/main.js');
    });

  program
    .command('api')
    .description('The HTTP API (configuration from the environment; see api/README.md)')
    .action(async () => {
      const { startApi } = await import('../api/server.js');
      const api = await startApi();
      process.stderr.write(`citywatch api listening on ${api.url}\n`);
      const stop = () => void api.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });

  const models = program.command('models').description('Model manifests and weights');
  models
    .command('list')
    .description('List model manifests and whether their weights resolve')
    .action(async () => (await import('./commands/models.js')).listModels());
  models
    .command('fetch')
    .description('Download official weights into the cache and verify their sha256')
    .argument('[names...]', 'model names (default: all)')
    .action(async (names: string[]) => (await import('./commands/models.js')).fetchModels(names));

  return program;
}

/** Runs the CLI; returns the exit code instead of exiting so tests and the shim stay in control. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander but successes to the user.
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    const e = err as Error;
    // Errors from ffmpeg and libraries echo stream URLs: scrub credentials before printing.
    process.stderr.write(`citywatch: ${scrubSecrets(e.message)}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  }
}
