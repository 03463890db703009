// One real stack for the browser tests: the embedded mode (a redis-server, the demo camera — a
// labelled fixture clip replayed as live HLS — and a worker analysing it), the real API app serving
// the built console on a free port, a replay worker, and Debian's chromium driven by playwright-core.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createApp, uploadDirFor, type ApiApplication } from '../../api/app.js';
import { DEFAULT_CONSOLE_DIR } from '../../api/console-static.js';
import { openDatabase, type Database } from '../../infra/db/db.js';
import { runEmbedded, type EmbeddedHandle } from '../../bin/embedded.js';
import { closeRedis, createRedis } from '../../infra/redis.js';
import { createReplayQueue, createReplayWorker } from '../../api/replay/processor.js';
import { REPO_ROOT } from '../support/media.js';

export const SCREENSHOTS = path.join(REPO_ROOT, '.cache', 'screenshots');

export interface ConsoleStack {
  base: string;
  app: ApiApplication;
  embedded: EmbeddedHandle;
  database: Database;
  browser: Browser;
  keys: { admin: string; operator: string; platform: string };
  dataDir: string;
  webhook: WebhookReceiver;
  stop(): Promise<void>;
}

/** The platform's webhook on loopback: answers `status` (500 until a test says otherwise) and logs every attempt. */
export interface WebhookReceiver {
  url: string;
  status: number;
  received: { key: string; status: number }[];
}

async function startWebhookReceiver(): Promise<{ receiver: WebhookReceiver; server: Server }> {
  const receiver: WebhookReceiver = { url: '', status: 500, received: [] };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const status = receiver.status;
      receiver.received.push({ key: String(req.headers['x-idempotency-key'] ?? ''), status });
      res.writeHead(status).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { receiver, server };
}

export async function startConsoleStack(): Promise<ConsoleStack> {
  if (!existsSync(path.join(DEFAULT_CONSOLE_DIR, 'index.html')))
    throw new Error('api/console/dist is missing: run `npm run build:console` first (npm test does)');
  const dir = await mkdtemp(path.join(tmpdir(), 'citywatch-console-'));
  const dataDir = path.join(dir, 'data');
  await mkdir(SCREENSHOTS, { recursive: true });
  // Every delivery fails (500) with two attempts 100 ms apart: dead letters within seconds, which
  // the deliveries page redelivers once the test makes the receiver answer 200.
  const hook = await startWebhookReceiver();
  // One database object shared by the worker and the API (PGlite allows one opener per directory).
  const database = await openDatabase({});
  const embedded = await runEmbedded({
    dataDir,
    demo: true,
    handleSignals: false,
    print: () => undefined,
    // Short clip windows so the first case's clip is cut seconds after it opens.
    worker: {
      database,
      inferThreads: 1,
      preRollSec: 4,
      postRollSec: 2,
      webhookUrl: hook.receiver.url,
      webhookSecret: 'console-test-webhook-secret',
      deliveryMaxAttempts: 2,
      deliveryBackoffMs: 100,
      deliveryBackoffMaxMs: 200,
    },
  });
  const s = embedded.worker.settings;
  const conns: ReturnType<typeof createRedis>[] = [];
  const conn = () => {
    const r = createRedis(embedded.redisUrl);
    r.on('error', () => undefined);
    conns.push(r);
    return r;
  };
  const bullPrefix = `${s.prefix}-bull`;
  const replays = createReplayQueue(conn(), bullPrefix);
  const replayWorker = createReplayWorker({ connection: conn(), bullPrefix, evidence: embedded.worker.store, concurrency: 2 });
  const app = createApp({
    redis: conn(),
    prefix: s.prefix,
    cameras: embedded.worker.cameras,
    cases: embedded.worker.cases,
    health: embedded.worker.health,
    deliveries: embedded.worker.delivery,
    replays,
    queues: [embedded.worker.delivery.queue],
    evidence: embedded.worker.store,
    logger: pino({ level: process.env.API_TEST_LOG ?? 'silent' }),
    uploadDir: uploadDirFor(dataDir),
    // Shared with the worker: try-before-save reads the camera's recording ring there.
    dataDir,
    rateLimit: null,
  });
  const server: Server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const keys = {
    admin: (await app.keys.create('console admin', 'admin')).key,
    operator: (await app.keys.create('console operator', 'operator')).key,
    platform: (await app.keys.create('console platform', 'platform')).key,
  };
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
  });
  return {
    base,
    app,
    embedded,
    database,
    browser,
    keys,
    dataDir,
    webhook: hook.receiver,
    stop: async () => {
      await browser.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await replayWorker.close();
      await replays.close();
      await embedded.stop();
      await Promise.all(conns.map(closeRedis));
      await database.close();
      hook.server.closeAllConnections();
      await new Promise<void>((r) => hook.server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A signed-in page (the key typed into the sign-in form, as a user does). */
export async function signedIn(stack: ConsoleStack, key: string, lang: 'zh' | 'en' = 'en'): Promise<Page> {
  const ctx = await stack.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: lang === 'zh' ? 'zh-CN' : 'en-GB' });
  const page = await ctx.newPage();
  await page.goto(`${stack.base}/`);
  await page.fill('input[name=apiKey]', key);
  await page.click('button[type=submit]');
  await page.waitForURL(/\/cameras$/);
  return page;
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}
