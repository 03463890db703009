import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest } from './manifest.js';
import { fetchModel, resolveModelFile } from './resolve.js';

const SHARED_MODELS = path.resolve(import.meta.dirname, '..', '..', 'shared', 'models');
const manifest = await loadManifest('yolox_nano');

describe('model resolver', () => {
  it('finds and verifies weights in MODEL_DIR', async () => {
    const file = await resolveModelFile(manifest, { MODEL_DIR: SHARED_MODELS, CITYWATCH_CACHE: '/nonexistent' });
    expect(file).toBe(path.join(SHARED_MODELS, 'yolox_nano.onnx'));
  });

  it('names the file and the fix when weights are corrupt', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cw-models-'));
    await writeFile(path.join(dir, 'yolox_nano.onnx'), 'not the weights');
    await expect(resolveModelFile(manifest, { MODEL_DIR: dir, CITYWATCH_CACHE: dir })).rejects.toThrow(
      /yolox_nano\.onnx has sha256 [0-9a-f]{64}, but manifest "yolox_nano" expects d39bee73.*npm run models:fetch/,
    );
  });

  it('a manifest without a download URL resolves from MODEL_DIR only and says so', async () => {
    const pico = await loadManifest('picodet_s_416_coco');
    expect(pico.url).toBeUndefined();
    expect(await resolveModelFile(pico, { MODEL_DIR: SHARED_MODELS, CITYWATCH_CACHE: '/nonexistent' })).toBe(
      path.join(SHARED_MODELS, 'picodet_s_416_coco.onnx'),
    );
    const empty = await mkdtemp(path.join(os.tmpdir(), 'cw-empty-'));
    await expect(resolveModelFile(pico, { MODEL_DIR: empty, CITYWATCH_CACHE: empty })).rejects.toThrow(
      /no official download URL: set MODEL_DIR .*cdab77bd/,
    );
    await expect(fetchModel(pico, { env: { CITYWATCH_CACHE: empty } })).rejects.toThrow(
      /no download URL: resolve picodet_s_416_coco\.onnx from MODEL_DIR/,
    );
  });

  it('rejects an unknown model name with the list of known ones', async () => {
    await expect(loadManifest('yolo_huge')).rejects.toThrow(/unknown model "yolo_huge".*Known models: .*yolox_nano/);
    await expect(loadManifest('../etc/passwd')).rejects.toThrow(/invalid model name/);
  });

  it('fetch downloads over HTTP, verifies sha256 and refuses a wrong body', async () => {
    const real = path.join(SHARED_MODELS, 'yolox_nano.onnx');
    const server = createServer(async (req, res) => {
      if (req.url === '/good.onnx') res.end(await readFile(real));
      else res.end('tampered');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const cache = await mkdtemp(path.join(os.tmpdir(), 'cw-cache-'));
      const env = { CITYWATCH_CACHE: cache };
      await expect(fetchModel(manifest, { env, url: `${base}/bad.onnx` })).rejects.toThrow(/sha256 .* expected d39bee73.*not installed/);
      await expect(resolveModelFile(manifest, { ...env, MODEL_DIR: cache })).rejects.toThrow(/not found/);
      const file = await fetchModel(manifest, { env, url: `${base}/good.onnx` });
      expect(await resolveModelFile(manifest, { ...env, MODEL_DIR: cache })).toBe(file);
    } finally {
      server.close();
    }
  });
});
