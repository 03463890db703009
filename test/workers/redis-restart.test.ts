// Redis restarted mid-run (AOF on): cases created before the restart survive it, a confirmation that
// happens while Redis is down still becomes exactly one case once Redis is back, and the webhook
// gets exactly one successful delivery per case.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verifySignature } from '../../infra/delivery/webhook.js';
import type { LocalRedis } from '../../workers/redis-server.js';
import { startWorker, type WorkerHandle } from '../../workers/worker.js';
import { parkedCarClip, parkedCarConfig, startHlsLoop, tempDir, testRedis, waitFor } from './helpers.js';

type Hls = Awaited<ReturnType<typeof startHlsLoop>>;
let server: LocalRedis;
let dir: string;
let cleanup: () => Promise<void>;
let worker: WorkerHandle | null = null;
const streams: Hls[] = [];
const received: { key: string; ok: boolean; type: string }[] = [];
const hook = createServer((req, res) => {
  let body = '';
  req.on('data', (d: Buffer) => (body += d.toString()));
  req.on('end', () => {
    received.push({
      key: String(req.headers[IDEMPOTENCY_HEADER]),
      ok: verifySignature('s', req.headers[SIGNATURE_HEADER] as string, body).ok,
      type: String(req.headers['x-citywatch-event']),
    });
    res.writeHead(200).end();
  });
});

beforeAll(async () => {
  const t = await tempDir('restart');
  dir = t.dir;
  cleanup = t.cleanup;
  server = await testRedis(dir);
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  await worker?.drain();
  for (const s of streams) await s.stop();
  hook.close();
  await server.stop();
  await cleanup();
});

describe('Redis restart with AOF', () => {
  it('loses no case and duplicates none', async () => {
    const clip = await parkedCarClip(60);
    worker = await startWorker({
      redisUrl: server.url,
      dataDir: join(dir, 'data'),
      workerId: 'wr',
      inferThreads: 1,
      preRollSec: 2,
      postRollSec: 2,
      webhookUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
      webhookSecret: 's',
      deliveryBackoffMs: 300,
      log: () => undefined,
    });
    const add = async (id: string) => {
      const hls = await startHlsLoop({ clip, loop: true });
      streams.push(hls);
      await worker!.cameras.create({ id, url: hls.url, config: parkedCarConfig(id) });
    };
    await add('camA');
    const a = await waitFor('case on camA', async () => (await worker!.cases.list({ cameraId: 'camA' })).items[0], 60_000);

    // camB comes online; Redis goes down before its car can be confirmed and stays down 8 s.
    await add('camB');
    await waitFor('camB online', async () => (await worker!.health.get('camB'))?.state === 'online', 60_000, 100);
    expect((await worker.cases.list({ cameraId: 'camB' })).items).toHaveLength(0);
    const downAt = Date.now();
    await server.stop();
    await new Promise((r) => setTimeout(r, 8000));
    await server.restart();
    console.log(`redis down for ${Date.now() - downAt} ms`);

    expect((await worker.cases.get(a.id))?.idempotencyKey).toBe(a.idempotencyKey);
    const b = await waitFor('case on camB', async () => (await worker!.cases.list({ cameraId: 'camB' })).items[0], 60_000);
    expect(b.firstSeenAt).toBeLessThan(downAt + 8000);
    // Both cameras keep running on this worker after the restart.
    await waitFor(
      'frames after restart',
      async () => {
        const h = [await worker!.health.get('camA'), await worker!.health.get('camB')];
        return h.every((x) => x && x.lastFrameAt !== null && x.lastFrameAt > downAt + 9000);
      },
      30_000,
    );
    await waitFor(
      'both cases delivered',
      async () => ['case.created:' + a.id, 'case.created:' + b.id].every((k) => received.some((r) => r.key === k)),
      60_000,
    );
    await new Promise((r) => setTimeout(r, 3000));

    const all = (await worker.cases.list({}, { limit: 100 })).items;
    expect(all.map((c) => c.cameraId).sort()).toEqual(['camA', 'camB']);
    const created = received.filter((r) => r.type === 'case.created');
    expect(created.map((r) => r.key).sort()).toEqual([`case.created:${a.id}`, `case.created:${b.id}`].sort());
    expect(received.every((r) => r.ok)).toBe(true);

    // A registry change reaches the running worker without a restart: disabling stops the camera.
    await worker.cameras.setEnabled('camA', false);
    await waitFor(
      'camA released',
      async () => !worker!.held().includes('camA') && (await worker!.health.get('camA'))?.state === 'disabled',
      15_000,
    );
    expect(worker.held()).toEqual(['camB']);
    expect(received.some((r) => r.type === 'camera.health')).toBe(true);
  });
});
