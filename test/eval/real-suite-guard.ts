// The real suite (fixtures/real, clips from ../shared/footage or $FOOTAGE_DIR, never copied into
// the repo) through `citywatch eval`, checked against the floors it reached: shared by the guard at
// each camera's own rate and the guard at the live-camera rate.
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'vitest';
import { runEval, type EvalOptions } from '../../bin/commands/eval.js';

const FOOTAGE = process.env.FOOTAGE_DIR ?? path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'footage');

export interface Floor {
  totalPrecision: number;
  totalRecall: number;
  classPrecision: number;
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** Runs the real suite with `extra` eval options and asserts the floor, 11+ clips and no duplicates. */
export async function expectRealSuiteAtFloor(name: string, floor: Floor, extra: Partial<EvalOptions> = {}) {
  const stdout = new Sink();
  const stderr = new Sink();
  const { report } = await runEval({
    dir: path.resolve(import.meta.dirname, '..', '..', 'fixtures', 'real'),
    clipDir: FOOTAGE,
    out: path.join(os.tmpdir(), `citywatch-${name}-${process.pid}`),
    minPrecision: floor.classPrecision,
    threads: 1,
    stdout,
    stderr,
    ...extra,
  });
  const total = report.metrics.total;
  expect(report.clips.length).toBeGreaterThanOrEqual(11);
  expect(total.precision).not.toBeNull();
  expect(total.precision!).toBeGreaterThanOrEqual(floor.totalPrecision);
  expect(total.recall!).toBeGreaterThanOrEqual(floor.totalRecall - 1e-9);
  expect(total.duplicates).toBe(0);
  expect(stdout.text).toMatch(/^class\s+P\s+R/m);
  return report;
}
