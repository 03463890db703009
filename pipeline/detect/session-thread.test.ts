import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../../models/manifest.js';
import { computeLetterbox } from '../geometry/letterbox.js';
import type { Frame } from '../types.js';
import { frameToTensorData } from './preprocess.js';
import { ModelSession } from './session.js';

// The real YOLOX-nano weights (MODEL_DIR), in this thread and on an inference thread.
describe('ModelSession on an inference thread', () => {
  let inThread: ModelSession;
  let offThread: ModelSession;
  let input: Float32Array;

  beforeAll(async () => {
    const m = await loadManifest('yolox_nano');
    inThread = await ModelSession.open(m, { threads: 1 });
    offThread = await ModelSession.open(m, { threads: 1, offThread: true });
    input = new Float32Array(3 * m.input.width * m.input.height);
    for (let i = 0; i < input.length; i++) input[i] = (i * 37) % 255;
  }, 60_000);

  afterAll(async () => {
    await inThread?.close();
    await offThread?.close();
  });

  it('gives the same outputs as a run in this thread', async () => {
    expect(offThread.offThread).toBe(true);
    const a = await inThread.run(input);
    const b = await offThread.run(input);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const k of Object.keys(a)) {
      expect(b[k]!.dims).toEqual([...a[k]!.dims]);
      expect(Array.from(b[k]!.data)).toEqual(Array.from(a[k]!.data));
    }
    // The caller's input is copied, not transferred away.
    expect(input.length).toBe(3 * 416 * 416);
  });

  it('leaves the event loop free while a run is in flight', async () => {
    let done = false;
    const run = offThread.run(input).then(() => (done = true));
    // A timer set after the run started fires before it ends (an in-thread run holds the loop).
    await new Promise((r) => setTimeout(r, 1));
    expect(done).toBe(false);
    await run;
    expect(done).toBe(true);
  });

  it('runFrame reuses pooled input buffers and gives the outputs of run(frameToTensorData(frame))', async () => {
    const m = offThread.manifest;
    const pixels = Buffer.alloc(m.input.width * m.input.height * 3);
    for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 13) % 251;
    const frame: Frame = {
      data: pixels,
      pixelFormat: 'bgr24',
      letterbox: computeLetterbox(1920, 1080, m.input.width, m.input.height),
      index: 0,
      streamTime: 0,
      wallTime: 0,
    };
    const want = await inThread.run(frameToTensorData(frame, m));
    for (const s of [inThread, offThread]) {
      const pool = (s as unknown as { pool: Float32Array[] }).pool;
      const first = await s.runFrame(frame);
      expect(pool).toHaveLength(1);
      const buffer = pool[0];
      const second = await s.runFrame(frame);
      expect(pool).toHaveLength(1);
      expect(pool[0]!.length).toBe(3 * m.input.width * m.input.height);
      // In this thread the very array is reused. Off thread it was transferred away (the old view
      // is detached) and came back with the outputs: only a returned buffer can refill the pool.
      if (s.offThread) expect(buffer!.length).toBe(0);
      else expect(pool[0]).toBe(buffer);
      for (const out of [first, second])
        for (const k of Object.keys(want)) expect(Array.from(out[k]!.data)).toEqual(Array.from(want[k]!.data));
    }
  });
});
