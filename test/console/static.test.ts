// Serving the console: shell for browser navigations only, cache headers, 503 when not built.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleRouter } from '../../api/console-static.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'citywatch-console-static-'));
  await mkdir(path.join(dir, 'built', 'assets'), { recursive: true });
  await writeFile(
    path.join(dir, 'built', 'index.html'),
    '<!doctype html><div id="app"></div><script type="module" src="/assets/index-abc123.js"></script>',
  );
  await writeFile(path.join(dir, 'built', 'assets', 'index-abc123.js'), 'console.log(1)');
  await writeFile(path.join(dir, 'built', 'favicon.svg'), '<svg/>');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function appWith(consoleDir: string) {
  const app = express();
  app.get('/v1/cameras', (_req, res) => void res.json({ items: [] }));
  app.use(consoleRouter(consoleDir));
  app.use((_req, res) => void res.status(404).json({ error: { code: 'NO_ROUTE' } }));
  return app;
}

describe('console static serving', () => {
  it('answers browser navigations with index.html (no-cache) and hashed assets with a year of cache', async () => {
    const app = appWith(path.join(dir, 'built'));
    for (const p of ['/', '/cameras', '/cameras/demo/zones', '/cases/case_1?state=new']) {
      const r = await request(app).get(p).set('Accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
      expect(r.status, p).toBe(200);
      expect(r.headers['cache-control']).toBe('no-cache');
      expect(r.headers['content-security-policy']).toContain("script-src 'self'");
      expect(r.text).toContain('<div id="app">');
    }
    const js = await request(app).get('/assets/index-abc123.js');
    expect(js.status).toBe(200);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const icon = await request(app).get('/favicon.svg');
    expect(icon.headers['cache-control']).toBe('no-cache');
  });

  it('never answers API paths, non-GET requests or JSON clients with the shell', async () => {
    const app = appWith(path.join(dir, 'built'));
    expect((await request(app).get('/v1/cameras').set('Accept', 'text/html')).body).toEqual({ items: [] });
    for (const p of ['/v1/nothing', '/healthz', '/readyz', '/metrics', '/openapi.json']) {
      const r = await request(app).get(p).set('Accept', 'text/html');
      expect(r.status, p).toBe(404);
      expect(r.body.error.code).toBe('NO_ROUTE');
    }
    expect((await request(app).post('/cameras').set('Accept', 'text/html')).status).toBe(404);
    expect((await request(app).get('/cameras').set('Accept', 'application/json')).status).toBe(404);
    expect((await request(app).get('/assets/missing.js')).status).toBe(404);
    // Path tricks stay inside the build folder.
    expect((await request(app).get('/assets/..%2f..%2fpackage.json')).status).toBe(404);
  });

  it('says clearly that the console was not built (503), while the API keeps working', async () => {
    const app = appWith(path.join(dir, 'nothing-here'));
    const r = await request(app).get('/').set('Accept', 'text/html');
    expect(r.status).toBe(503);
    expect(r.text).toContain('npm run build:console');
    expect((await request(app).get('/v1/cameras')).body).toEqual({ items: [] });
  });
});
