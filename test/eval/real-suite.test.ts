// Regression guard on real footage: the real suite (fixtures/real, clips from ../shared/footage
// or $FOOTAGE_DIR, never copied into the repo) through `citywatch eval` at each camera's own
// analysed rate (2 fps): real ffmpeg, real yolox_nano, the real rules. The floors are the level
// the suite reached when they were set (README "Real-footage suite"); raise them as it improves.
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runEval } from '../../bin/commands/eval.js';

const FOOTAGE = process.env.FOOTAGE_DIR ?? path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'footage');

// Measured at 2 fps (yolox_nano): P 1.00, R 0.86 (6 of 7 episodes: the bag revealed by the
// fly-tipping lorry and the hoarding posters read at source resolution joined the 4 found before;
// the flatbed stopped 0–31 s is the miss, see the README). Per class, no class may fall below
// precision 0.8.
const FLOOR = { totalPrecision: 0.9, totalRecall: 0.857, classPrecision: 0.8 };

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

describe('real-footage suite (regression guard)', () => {
  it('keeps event-level precision/recall at the level reached, with no duplicates', { timeout: 600_000 }, async () => {
    const stdout = new Sink();
    const stderr = new Sink();
    const { report } = await runEval({
      dir: path.resolve(import.meta.dirname, '..', '..', 'fixtures', 'real'),
      clipDir: FOOTAGE,
      out: path.join(os.tmpdir(), `citywatch-real-suite-${process.pid}`),
      minPrecision: FLOOR.classPrecision,
      threads: 1,
      stdout,
      stderr,
    });
    const total = report.metrics.total;
    expect(report.clips.length).toBeGreaterThanOrEqual(11);
    expect(total.precision).not.toBeNull();
    expect(total.precision!).toBeGreaterThanOrEqual(FLOOR.totalPrecision);
    expect(total.recall!).toBeGreaterThanOrEqual(FLOOR.totalRecall - 1e-9);
    expect(total.duplicates).toBe(0);
    expect(stdout.text).toMatch(/^class\s+P\s+R/m);
  });
});
