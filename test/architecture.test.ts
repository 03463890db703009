// The layer rules (.dependency-cruiser.cjs) as part of `npm test`: the tree must have no violation,
// and a scratch tree with one deliberately wrong import per rule must have exactly those reported,
// so a rule that silently stopped matching (a renamed folder, a resolver change) fails here too.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { cruise, type ICruiseOptions, type IConfiguration, type ICruiseResult } from 'dependency-cruiser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
const config = createRequire(import.meta.url)('../.dependency-cruiser.cjs') as IConfiguration;

/** Every folder with code; node_modules, .cache and dist are excluded by the config. */
const ROOTS = ['pipeline', 'models', 'infra', 'workers', 'api', 'demo', 'bin', 'fixtures', 'test'];

interface Violation {
  rule: string;
  from: string;
  to: string;
}

async function violations(baseDir: string, roots: string[]): Promise<Violation[]> {
  const options: ICruiseOptions = {
    ...config.options,
    validate: true,
    ruleSet: { forbidden: config.forbidden },
    baseDir,
    outputType: 'json',
  };
  const { output } = await cruise(roots, options);
  const result = (typeof output === 'string' ? JSON.parse(output) : output) as ICruiseResult;
  return result.summary.violations.map((v) => ({
    rule: v.rule.name,
    from: v.from,
    // A cycle is reported once, from one of its modules, with the path back to it.
    to: v.cycle ? v.cycle.map((c) => c.name).join(' -> ') : v.to,
  }));
}

const describeViolations = (vs: Violation[]) => vs.map((v) => `  ${v.rule}: ${v.from} -> ${v.to}`).join('\n');

describe('architecture (dependency-cruiser)', () => {
  it('the tree keeps the layer rules', async () => {
    const found = await violations(REPO_ROOT, ROOTS);
    expect(found.length, `layer rules broken (.dependency-cruiser.cjs, README "Architecture"):\n${describeViolations(found)}`).toBe(0);
  });

  describe('a scratch tree with wrong imports', () => {
    let dir: string;
    const files: Record<string, string> = {
      'pipeline/types.ts': 'export type Box = { x1: number };\n',
      // pure folder importing I/O, a heavy native package and a non-pure pipeline folder
      'pipeline/rules/reads-files.ts': "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n",
      'pipeline/eval/draws.ts': "import sharp from 'sharp';\nexport const s = sharp;\n",
      'pipeline/track/uses-source.ts': "import { frames } from '../source/frames.js';\nexport const f = frames;\n",
      'pipeline/source/frames.ts': "import { spawn } from 'node:child_process';\nexport const frames = spawn;\n",
      // a test beside pure code may read its testdata: not reported
      'pipeline/rules/reads-files.test.ts':
        "import { readFileSync } from 'node:fs';\nimport type { Box } from '../types.js';\nexport const t: Box | typeof readFileSync = readFileSync;\n",
      // a cycle
      'pipeline/geometry/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'pipeline/geometry/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
      // the core reaching up
      'pipeline/analyzer.ts': "import { w } from '../workers/w.js';\nexport const an = w;\n",
      // process to process, infra and models to processes, shipped code to test material
      'workers/w.ts': "import { x } from '../api/x.js';\nexport const w = x;\n",
      'api/x.ts': "import { lease } from '../workers/lease.js';\nexport const x = 1;\nexport const l = lease;\n",
      'workers/lease.ts': 'export const lease = 1;\n',
      'infra/store.ts': "import { lease } from '../workers/lease.js';\nexport const s = lease;\n",
      'models/manifest.ts': "import { x } from '../api/x.js';\nexport const m = x;\n",
      'api/demo.ts': "import { gen } from '../fixtures/generate.js';\nexport const d = gen;\n",
      'fixtures/generate.ts': 'export const gen = 1;\n',
      // an import that resolves nowhere
      'bin/cli.ts': "import { gone } from './commands/gone.js';\nexport const c = gone;\n",
      // a stand-in package so the package rule resolves it like the real one
      'node_modules/sharp/package.json': '{ "name": "sharp", "version": "0.0.0", "main": "index.js" }\n',
      'node_modules/sharp/index.js': 'module.exports = function sharp() {};\n',
    };

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'citywatch-arch-'));
      for (const [name, text] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
        await writeFile(path.join(dir, name), text);
      }
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('reports each wrong import under its rule, and nothing else', async () => {
      const found = await violations(dir, ['pipeline', 'models', 'infra', 'workers', 'api', 'bin', 'fixtures']);
      const got = found.map((v) => `${v.rule}: ${v.from} -> ${v.to}`).sort();
      expect(got).toEqual(
        [
          'api-not-to-workers: api/x.ts -> workers/lease.ts',
          'infra-not-to-processes: infra/store.ts -> workers/lease.ts',
          'models-not-to-outer-layers: models/manifest.ts -> api/x.ts',
          'no-circular: pipeline/geometry/a.ts -> pipeline/geometry/b.ts -> pipeline/geometry/a.ts',
          'not-to-unresolvable: bin/cli.ts -> ./commands/gone.js',
          'pipeline-not-to-outer-layers: pipeline/analyzer.ts -> workers/w.ts',
          'processes-not-to-test-material: api/demo.ts -> fixtures/generate.ts',
          'pure-no-io-builtins: pipeline/rules/reads-files.ts -> fs',
          'pure-no-io-packages: pipeline/eval/draws.ts -> node_modules/sharp/index.js',
          'pure-only-pure: pipeline/track/uses-source.ts -> pipeline/source/frames.ts',
          'workers-not-to-api: workers/w.ts -> api/x.ts',
        ].sort(),
      );
    });
  });
});
