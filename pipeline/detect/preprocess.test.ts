import { describe, expect, it } from 'vitest';
import type { ModelManifest } from '../../models/manifest.js';
import { computeLetterbox } from '../geometry/letterbox.js';
import type { Frame } from '../types.js';
import { frameToTensorData } from './preprocess.js';

// A 2x1 frame: pixel 0 = bytes (10, 20, 30), pixel 1 = bytes (40, 50, 60).
function frame(pixelFormat: Frame['pixelFormat']): Frame {
  return {
    data: Buffer.from([10, 20, 30, 40, 50, 60]),
    pixelFormat,
    letterbox: computeLetterbox(2, 1, 2, 1),
    index: 0,
    streamTime: 0,
    wallTime: 0,
  };
}

function manifest(input: Partial<ModelManifest['input']>): ModelManifest {
  return {
    name: 'tiny',
    input: { name: 'x', width: 2, height: 1, layout: 'NCHW', colorOrder: 'rgb', scale: 1, mean: [0, 0, 0], std: [1, 1, 1], ...input },
  } as ModelManifest;
}

describe('frameToTensorData', () => {
  it('NCHW, same colour order, identity: the bytes as planes', () => {
    expect([...frameToTensorData(frame('rgb24'), manifest({}))]).toEqual([10, 40, 20, 50, 30, 60]);
  });

  it('NCHW, bgr frame into an rgb model: channels swapped', () => {
    expect([...frameToTensorData(frame('bgr24'), manifest({}))]).toEqual([30, 60, 20, 50, 10, 40]);
  });

  it('NCHW with scale, mean and std per channel', () => {
    const m = manifest({ scale: 1 / 10, mean: [1, 2, 3], std: [1, 2, 4] });
    // (v / 10 - mean) / std, in float32
    const want = [(1 - 1) / 1, (4 - 1) / 1, (2 - 2) / 2, (5 - 2) / 2, (3 - 3) / 4, (6 - 3) / 4];
    expect([...frameToTensorData(frame('rgb24'), m)]).toEqual(want.map((v) => Math.fround(v)));
  });

  it('NHWC keeps pixels interleaved, in the model colour order', () => {
    expect([...frameToTensorData(frame('rgb24'), manifest({ layout: 'NHWC', colorOrder: 'bgr' }))]).toEqual([30, 20, 10, 60, 50, 40]);
  });

  it('fills a caller buffer and refuses one of the wrong size or a frame of the wrong size', () => {
    const out = new Float32Array(6).fill(-1);
    expect(frameToTensorData(frame('rgb24'), manifest({}), out)).toBe(out);
    expect([...out]).toEqual([10, 40, 20, 50, 30, 60]);
    expect(() => frameToTensorData(frame('rgb24'), manifest({}), new Float32Array(5))).toThrow(/holds 5 values.*needs 6/);
    expect(() => frameToTensorData(frame('rgb24'), manifest({ width: 4 }))).toThrow(/frame is 2x1 but model tiny expects 4x1/);
  });
});
