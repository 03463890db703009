// The CLI surface for choosing a model: models list, and detect's --model / --tiles on a photo.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOG_JPG, REPO_ROOT, requireFile, SHARED } from './support/media.js';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'citywatch.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, MODEL_DIR: path.join(SHARED, 'models'), CITYWATCH_CACHE: '/nonexistent' },
  });

describe('citywatch models / detect --model', () => {
  it('models list shows all three models, how their weights are obtained, and that they resolve', () => {
    const r = cli('models', 'list');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => l.split('\t')[0])).toEqual(['picodet_s_320_coco', 'picodet_s_416_coco', 'yolox_nano']);
    expect(lines[0]).toMatch(/\tpicodet\t320x320 stretch\t80 labels\tno URL \(MODEL_DIR only\)\tok /);
    expect(lines[2]).toMatch(/\tyolox\t416x416 letterbox\t80 labels\tfetchable\tok /);
  });

  it('detect --model picodet_s_320_coco --tiles 2x2 finds the dog in a photo; a bad grid is refused', () => {
    const r = cli(
      'detect',
      requireFile(DOG_JPG, 'apt-get install darknet'),
      '--model',
      'picodet_s_320_coco',
      '--tiles',
      '2x2',
      '--max-frames',
      '1',
    );
    expect(r.status, r.stderr).toBe(0);
    const frame = JSON.parse(r.stdout.trim().split('\n')[0]!);
    expect(frame.detections.some((d: { label: string; model: string }) => d.label === 'dog' && d.model === 'picodet_s_320_coco')).toBe(
      true,
    );
    const bad = cli('detect', DOG_JPG, '--tiles', '9x9');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--tiles must be COLSxROWS/);
  });
});
