// No case is lost while PostgreSQL is down: a producer keeps creating cases (and attaching evidence)
// through the case store while the real server is stopped for 60 s; they go to the durable outbox
// and are written once it is back, in order, none duplicated — also after the producer "crashes"
// mid-outage and a new process opens the same outbox.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../infra/db/db.js';
import { CaseOutbox } from '../../infra/stores/case-outbox.js';
import { CaseStore, type CreateCaseInput } from '../../infra/stores/case-store.js';
import { startPostgres, type LocalPostgres } from '../support/postgres.js';
import { waitFor } from './helpers.js';

let server: LocalPostgres;
let dir: string;
const dbs: Database[] = [];
beforeAll(async () => {
  server = await startPostgres();
  dir = await mkdtemp(join(tmpdir(), 'citywatch-outbox-'));
}, 60_000);
afterAll(async () => {
  for (const d of dbs) await d.close().catch(() => undefined);
  await server?.destroy();
  await rm(dir, { recursive: true, force: true });
});

const reason = {
  classId: 'street_vending',
  zoneId: 'plaza',
  zoneType: 'no_vending',
  subject: 't',
  trackIds: [1],
  dwellSec: 60,
  hits: 9,
  window: 10,
  medianScore: 0.7,
  thresholds: {},
  firstSeen: 0,
  lastSeen: 60,
  frameTimes: [],
};
const input = (i: number): CreateCaseInput => ({
  idempotencyKey: `cam1:run:ep${i}`,
  cameraId: 'cam1',
  classId: 'street_vending',
  // Each episode in its own spot, so none merges into another: every episode is one case.
  zoneId: 'plaza',
  zoneType: 'no_vending',
  firstSeenAt: Date.now(),
  lastSeenAt: Date.now(),
  boxes: [{ x1: i * 10, y1: 0, x2: i * 10 + 5, y2: 5 }],
  reason,
  mergeWindowMs: 600_000,
});

it('journals cases while PostgreSQL is stopped for 60 s and writes each exactly once, in order, when it is back', async () => {
  const url = await server.createDatabase('outbox');
  // The schema exists from the first open; one opened during the outage cannot migrate.
  const open = async (migrate = true) => {
    const d = await openDatabase({ url, migrate });
    dbs.push(d);
    return d;
  };
  const obDir = join(dir, 'outbox');
  let store = new CaseStore((await open()).db, { outbox: await CaseOutbox.open(obDir), outboxRetryMs: 500 });
  const outcomes: string[] = [];
  let i = 0;
  const produce = async (n: number) => {
    for (const end = i + n; i < end; i++) {
      const r = await store.create(input(i));
      outcomes.push(r.outcome);
      if (i % 3 === 0)
        await store.addEvidence(r.case.id, [
          {
            store: 'fs',
            key: `cam1/e${i}/clip.mp4`,
            file: { name: 'clip.mp4', kind: 'clip', contentType: 'video/mp4', bytes: 1, sha256: 'x' },
          },
        ]);
      await new Promise((r2) => setTimeout(r2, 200));
    }
  };
  await produce(5);
  await server.stop();
  const down = Date.now();
  await produce(20);
  expect(store.outboxSize).toBeGreaterThan(20);
  // The producer dies mid-outage; a new one opens the same outbox (what a restarted worker does).
  await store.close();
  store = new CaseStore((await open(false)).db, { outbox: await CaseOutbox.open(obDir), outboxRetryMs: 500 });
  expect(store.outboxSize).toBeGreaterThan(20);
  await produce(10);
  while (Date.now() - down < 60_000) await produce(1);
  await server.start();
  await waitFor('outbox drained', async () => store.outboxSize === 0, 60_000);
  await produce(3);
  const total = i;
  expect(outcomes.every((o) => o === 'created')).toBe(true);
  const check = await open();
  const { rows } = await sql<{
    idempotency_key: string;
    created_at: number;
  }>`select idempotency_key, created_at from cases order by created_at, idempotency_key`.execute(check.db);
  expect(rows).toHaveLength(total);
  expect(new Set(rows.map((r) => r.idempotency_key)).size).toBe(total);
  // In order: creation times follow the production order (kept from when they were journaled).
  expect(rows.map((r) => r.idempotency_key)).toEqual(Array.from({ length: total }, (_, k) => `cam1:run:ep${k}`));
  const ev = await sql<{ n: number }>`select count(*)::int as n from case_evidence`.execute(check.db);
  expect(ev.rows[0]!.n).toBe(Math.ceil(total / 3));
  await store.close();
}, 180_000);
