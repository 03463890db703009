// Acceptance: no secret from a camera URL (userinfo or query, including a parameter the camera record
// marks secret) appears in any API response, webhook body, log line or metric, for HTTP, RTSP and
// RTSPS cameras that fail to connect. A real worker and the real API share a real Redis; ffmpeg's
// errors (which echo the URL) flow into health states, logs and camera.health webhooks, and
// everything that came out is grepped for every secret in every spelling.
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type ApiApplication } from '../../api/app.js';
import { initSharedMetrics } from '../../infra/metrics-shared.js';
import type { LocalRedis } from '../../workers/redis-server.js';
import { closeRedis, createRedis } from '../../infra/redis.js';
import { createReplayQueue } from '../../api/replay/processor.js';
import { startWorker, type WorkerHandle } from '../../workers/worker.js';
import { parkedCarConfig, tempDir, testRedis } from '../workers/helpers.js';
import { waitFor } from '../support/wait.js';

const SECRETS = [
  'HttpUser1x',
  'HttpPass1x',
  'HttpTok2x',
  'HttpSig3x',
  'HttpMark4x',
  'RtspUser5x',
  'RtspPass5x',
  'RtspTok6x',
  'RtspsUser7x',
  'R@tspsP%8x',
  'RtspsTok9x',
];
// Decoded and encoded spellings of every secret.
const SPELLINGS = [...new Set(SECRETS.flatMap((s) => [s, encodeURIComponent(s)]))];

let redisServer: LocalRedis;
let dir: string;
let cleanup: () => Promise<void>;
let worker: WorkerHandle | null = null;
let app: ApiApplication;
let failing: Server;
let closedPort = 0;
const hooks: string[] = [];
const workerLog: string[] = [];
const apiLog: string[] = [];
const stdio: string[] = [];
const hook = createServer((req, res) => {
  let body = '';
  req.on('data', (d: Buffer) => (body += d.toString()));
  req.on('end', () => {
    hooks.push(body);
    res.writeHead(200).end();
  });
});
const conns: ReturnType<typeof createRedis>[] = [];
let restoreStdio: () => void = () => undefined;

beforeAll(async () => {
  const t = await tempDir('nosecret');
  dir = t.dir;
  cleanup = t.cleanup;
  redisServer = await testRedis(dir);
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  // An HLS "server" that refuses every request (ffmpeg reports the URL it asked for).
  failing = createServer((_req, res) => res.writeHead(403).end('no'));
  await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
  // A port with nothing listening: connection refused.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));

  // Everything the process prints while the test runs is part of "any log line".
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => (
    stdio.push(String(chunk)),
    ow(chunk as string, ...(rest as []))
  )) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => (
    stdio.push(String(chunk)),
    ew(chunk as string, ...(rest as []))
  )) as typeof process.stderr.write;
  restoreStdio = () => {
    process.stdout.write = ow;
    process.stderr.write = ew;
  };

  worker = await startWorker({
    redisUrl: redisServer.url,
    dataDir: join(dir, 'data'),
    workerId: 'ws',
    inferThreads: 1,
    webhookUrl: `http://127.0.0.1:${(hook.address() as net.AddressInfo).port}/hook`,
    webhookSecret: 's',
    deliveryBackoffMs: 300,
    log: (msg, extra) => workerLog.push(JSON.stringify({ msg, ...extra })),
  });
  const redis = createRedis(redisServer.url);
  conns.push(redis);
  initSharedMetrics(redis, worker.settings.prefix);
  const sink = new Writable({
    write(chunk, _enc, cb) {
      apiLog.push(String(chunk));
      cb();
    },
  });
  app = createApp({
    redis,
    prefix: worker.settings.prefix,
    cameras: worker.cameras,
    cases: worker.cases,
    health: worker.health,
    deliveries: worker.delivery,
    replays: createReplayQueue(redis.duplicate(), `${worker.settings.prefix}-bull`),
    queues: [worker.delivery.queue],
    evidence: worker.store,
    logger: pino({ level: 'debug' }, sink),
    uploadDir: join(dir, 'uploads'),
    rateLimit: null,
  });
}, 120_000);

afterAll(async () => {
  restoreStdio();
  await worker?.drain();
  hook.close();
  failing?.close();
  await Promise.all(conns.map(closeRedis));
  await redisServer?.stop();
  await cleanup?.();
});

describe('camera secrets never leave', () => {
  it('in API responses, webhook bodies, log lines or metrics, for HTTP, RTSP and RTSPS', async () => {
    const keyOf = (await app.keys.create('acceptance admin', 'admin')).key;
    const admin = { Authorization: `Bearer ${keyOf}` };
    const httpPort = (failing.address() as net.AddressInfo).port;
    const cams = [
      {
        id: 'sec-http',
        url: `http://HttpUser1x:HttpPass1x@127.0.0.1:${httpPort}/live.m3u8?token=HttpTok2x&sig=HttpSig3x&code=HttpMark4x&channel=1`,
        secretParams: ['code'],
      },
      { id: 'sec-rtsp', url: `rtsp://RtspUser5x:RtspPass5x@127.0.0.1:${closedPort}/stream?authtoken=RtspTok6x` },
      { id: 'sec-rtsps', url: `rtsps://RtspsUser7x:${encodeURIComponent('R@tspsP%8x')}@127.0.0.1:${closedPort}/s?access_token=RtspsTok9x` },
    ];
    const responses: string[] = [];
    for (const c of cams) {
      const res = await request(app)
        .post('/v1/cameras')
        .set(admin)
        .send({ ...c, config: parkedCarConfig(c.id).zones ? { zones: parkedCarConfig(c.id).zones } : {} });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      responses.push(res.text);
    }
    // Each camera fails on the worker and reports why (ffmpeg's error text, which names the URL).
    const list = await waitFor(
      async () => {
        const res = await request(app).get('/v1/cameras').set(admin);
        const items = res.body.items as Array<{ id: string; live: { state: string; reason: string | null } }>;
        return items.length === 3 && items.every((i) => i.live.reason && /127\.0\.0\.1/.test(i.live.reason)) ? res : null;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'all three cameras to report a failure reason' },
    );
    responses.push(list.text);
    await waitFor(() => cams.every((c) => hooks.some((b) => b.includes(`"cameraId":"${c.id}"`) && b.includes('camera.health'))), {
      timeoutMs: 60_000,
      what: 'camera.health webhooks for every camera',
    });
    for (const c of cams) {
      responses.push((await request(app).get(`/v1/cameras/${c.id}`).set(admin)).text);
      responses.push((await request(app).get(`/v1/cameras/${c.id}/preview?timeoutSec=3`).set(admin)).text);
    }
    responses.push((await request(app).get('/metrics').set(admin)).text);
    responses.push((await request(app).get('/v1/audit').set(admin)).text);
    responses.push((await request(app).get('/v1/deliveries/dead-letters').set(admin)).text);

    // The grep is only meaningful if the failures really went through every channel.
    const outputs = {
      responses: responses.join('\n'),
      webhooks: hooks.join('\n'),
      workerLog: workerLog.join('\n'),
      apiLog: apiLog.join('\n'),
      stdio: stdio.join(''),
    };
    expect(outputs.workerLog).toMatch(/camera health/);
    expect(outputs.webhooks).toMatch(/127\.0\.0\.1/);
    expect(outputs.responses).toMatch(/\*\*\*/);
    const leaks: string[] = [];
    for (const [where, text] of Object.entries(outputs)) {
      for (const s of SPELLINGS)
        if (text.includes(s)) leaks.push(`${s} in ${where}: …${text.slice(Math.max(0, text.indexOf(s) - 80), text.indexOf(s) + 40)}…`);
    }
    expect(leaks).toEqual([]);
  }, 240_000);

  it('the worker applies the address policy too: a metadata camera written straight to the store never connects', async () => {
    // Bypasses the API (e.g. a provisioning script): the worker refuses before any socket opens.
    await worker!.cameras.create({
      id: 'meta-cam',
      url: 'rtsp://user:MetaPass1x@169.254.169.254/latest',
      config: { zones: parkedCarConfig('meta-cam').zones },
    });
    const h = await waitFor(
      async () => {
        const x = await worker!.health.get('meta-cam');
        return x?.reason && /address policy/.test(x.reason) ? x : null;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'meta-cam refused by the worker' },
    );
    expect(h.state).toBe('offline');
    expect(h.reason).toMatch(/address policy "metadata"/);
    expect(h.reason).not.toContain('MetaPass1x');
  }, 90_000);
});
