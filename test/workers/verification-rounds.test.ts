// The worker's verification rounds on a real database (PGlite) and real Verifiers: a worker holding
// several cameras sends ONE case-store query per round for all of them (plus one read per newly
// handled case), each camera watches exactly its own handled cases, and a failing database is
// logged rate-limited and retried without throwing.
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../infra/db/db.js';
import { CaseStore, type CaseState, type CreateCaseInput } from '../../infra/stores/case-store.js';
import { VERIFY_REFRESH_LOG_EVERY, VerificationRounds, Verifier } from '../../workers/verification.js';
import { QueryCounter } from '../support/query-counter.js';
import { PARKING_REASON, redisPerFile } from './helpers.js';

let database: Database;
let redis: Redis;
redisPerFile('verify-rounds', (r) => (redis = r));
beforeAll(async () => {
  database = await openDatabase({});
}, 60_000);
afterAll(async () => {
  await database?.close();
});

function input(key: string, cameraId: string): CreateCaseInput {
  return {
    idempotencyKey: key,
    cameraId,
    classId: 'illegal_parking',
    zoneId: 'kerb',
    zoneType: 'no_parking',
    firstSeenAt: 1_700_000_000_000,
    lastSeenAt: 1_700_000_005_000,
    boxes: [{ x1: 100, y1: 100, x2: 200, y2: 160 }],
    reason: PARKING_REASON,
    mergeWindowMs: 0,
  };
}

async function setup() {
  await sql`truncate cases, case_episodes, case_history, case_evidence, case_verifications restart identity cascade`.execute(database.db);
  // The test moves cases through an uncounted store; the cameras read through a counted one.
  const admin = new CaseStore(database.db);
  const counter = new QueryCounter();
  const cases = new CaseStore(database.db.withPlugin(counter));
  const make = async (key: string, cameraId: string, path: CaseState[]) => {
    const { case: c } = await admin.create(input(key, cameraId));
    for (const to of path) await admin.transition(c.id, to);
    return c.id;
  };
  const verifier = (cameraId: string) =>
    new Verifier({
      cameraId,
      cases,
      redis,
      prefix: 'vr',
      settings: { verifyDelaySec: 60, verifyWindowSec: 120, verifyPresenceRatio: 0.5 },
      fps: 1,
      onDecision: () => undefined,
      log: () => undefined,
    });
  return { admin, counter, cases, make, verifier };
}

const handled: CaseState[] = ['dispatched', 'handled'];

describe('verification rounds', () => {
  it('sends one query per round for all the cameras of a worker and hands each its own ids', async () => {
    const { admin, counter, cases, make, verifier } = await setup();
    const a1 = await make('a1', 'camA', handled);
    const a2 = await make('a2', 'camA', handled);
    await make('a3', 'camA', ['dispatched']);
    const b1 = await make('b1', 'camB', handled);
    await make('b2', 'camB', [...handled, 'verified']);
    await make('c1', 'camC', []);
    const d1 = await make('d1', 'camD', handled);
    const v = { camA: verifier('camA'), camB: verifier('camB'), camC: verifier('camC'), camD: verifier('camD') };
    // camD's runner is not running (still starting): it is left out of the round.
    const running = ['camA', 'camB', 'camC'] as const;
    const logs: string[] = [];
    const rounds = new VerificationRounds({
      cases,
      targets: () => running.map((id) => [id, { refreshVerification: (ids: readonly string[]) => v[id].refresh(ids) }] as const),
      log: (msg) => logs.push(msg),
    });

    // What one case read costs, to tell it from the round's own query.
    counter.n = 0;
    await cases.get(a1);
    const perRead = counter.n;
    expect(perRead).toBeGreaterThan(0);

    // First round: the one ids query, then one read per newly handled case (3).
    counter.n = 0;
    await rounds.round();
    expect(counter.n).toBe(1 + 3 * perRead);
    expect(v.camA.watching()).toEqual([a1, a2].sort());
    expect(v.camB.watching()).toEqual([b1]);
    expect(v.camC.watching()).toEqual([]);
    expect(v.camD.watching()).toEqual([]);

    // Steady state: exactly one query per round, whatever the number of cameras.
    for (let i = 0; i < 3; i++) {
      counter.n = 0;
      await rounds.round();
      expect(counter.n).toBe(1);
    }

    // A case leaves handled (an operator, or the verifier of another worker): its window goes.
    await admin.transition(b1, 'verified', { actor: 'test' });
    const c2 = await make('c2', 'camC', handled);
    counter.n = 0;
    await rounds.round();
    expect(counter.n).toBe(1 + perRead);
    expect(v.camA.watching()).toEqual([a1, a2].sort());
    expect(v.camB.watching()).toEqual([]);
    expect(v.camC.watching()).toEqual([c2]);
    expect(logs).toEqual([]);

    // A camera refreshing on its own (at start) asks for itself; given ids it queries nothing.
    counter.n = 0;
    await v.camD.refresh();
    expect(counter.n).toBe(1 + perRead);
    expect(v.camD.watching()).toEqual([d1]);
    counter.n = 0;
    await v.camD.refresh(v.camD.watching());
    expect(counter.n).toBe(0);
  });

  it('logs a failing query once per run of failures, retries next round and never throws', async () => {
    const { counter, cases, make, verifier } = await setup();
    const a1 = await make('a1', 'camA', handled);
    const va = verifier('camA');
    const logs: { msg: string; extra?: Record<string, unknown> }[] = [];
    const rounds = new VerificationRounds({
      cases,
      targets: () => [['camA', { refreshVerification: (ids: readonly string[]) => va.refresh(ids) }] as const],
      log: (msg, extra) => logs.push({ msg, extra }),
    });
    // A real database error: the table is gone for a while.
    await sql`alter table cases rename to cases_away`.execute(database.db);
    try {
      for (let i = 0; i < VERIFY_REFRESH_LOG_EVERY + 1; i++) await expect(rounds.round()).resolves.toBeUndefined();
    } finally {
      await sql`alter table cases_away rename to cases`.execute(database.db);
    }
    expect(logs.map((l) => [l.msg, l.extra?.failures])).toEqual([
      ['verification refresh failed; retrying next round', 1],
      ['verification refresh failed; retrying next round', VERIFY_REFRESH_LOG_EVERY + 1],
    ]);
    expect(String(logs[0]!.extra?.error)).toMatch(/cases/);
    expect(va.watching()).toEqual([]);

    // Back: the next round picks the case up, and a new failure is logged again at once.
    await rounds.round();
    expect(va.watching()).toEqual([a1]);
    await sql`alter table cases rename to cases_away`.execute(database.db);
    try {
      await rounds.round();
    } finally {
      await sql`alter table cases_away rename to cases`.execute(database.db);
    }
    expect(logs).toHaveLength(3);
    expect(logs[2]!.extra?.failures).toBe(1);

    // The timer runs rounds at its interval without overlapping, and stop() waits for the last one.
    counter.n = 0;
    const timed = new VerificationRounds({
      cases,
      targets: () => [['camA', { refreshVerification: (ids: readonly string[]) => va.refresh(ids) }] as const],
      log: () => undefined,
      intervalMs: 20,
    });
    timed.start();
    await new Promise((r) => setTimeout(r, 300));
    await timed.stop();
    const after = counter.n;
    expect(after).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 100));
    expect(counter.n).toBe(after);
  });
});
