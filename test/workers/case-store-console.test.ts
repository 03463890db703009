// The case-store queries the operator console adds (open cases per camera, rejection statistics),
// on both backends: Debian's real PostgreSQL server and PGlite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../infra/db/db.js';
import { CaseStore, type CreateCaseInput } from '../../infra/stores/case-store.js';
import { startPostgres, type LocalPostgres } from '../support/postgres.js';
import { PARKING_REASON } from './helpers.js';

let server: LocalPostgres;
const opened: Database[] = [];
beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await Promise.all(opened.map((d) => d.close().catch(() => undefined)));
  await server?.destroy();
});

const T0 = 1_700_000_000_000;
const reason = PARKING_REASON;
let k = 0;
const input = (cameraId: string, classId: string, zoneId: string | null, at: number): CreateCaseInput => ({
  idempotencyKey: `ep-${k++}`,
  cameraId,
  classId,
  zoneId,
  zoneType: 'no_parking',
  firstSeenAt: at,
  lastSeenAt: at,
  boxes: [{ x1: 100, y1: 100, x2: 200, y2: 160 }],
  reason,
  mergeWindowMs: 0,
  now: at,
});

describe.each(['postgres', 'pglite'] as const)('console queries of the case store on %s', { timeout: 60_000 }, (kind) => {
  it('counts open cases per camera and computes rejection statistics with their reasons', async () => {
    const db = kind === 'postgres' ? await openDatabase({ url: await server.createDatabase('console') }) : await openDatabase({});
    opened.push(db);
    const cases = new CaseStore(db.db);
    const mk = (cam: string, cls: string, zone: string | null, at: number) =>
      cases.create(input(cam, cls, zone, at)).then((r) => r.case.id);
    const a = [
      await mk('cam-a', 'illegal_parking', 'kerb', T0),
      await mk('cam-a', 'illegal_parking', 'kerb', T0 + 1),
      await mk('cam-a', 'illegal_parking', 'kerb', T0 + 2),
    ];
    const b = [await mk('cam-a', 'street_vending', null, T0 + 3), await mk('cam-b', 'illegal_parking', 'kerb', T0 + 4)];
    await cases.transition(a[0]!, 'rejected', { reason: 'shadow' });
    await cases.transition(a[1]!, 'dispatched');
    await cases.transition(a[1]!, 'rejected', { reason: 'shadow' });
    await cases.transition(b[0]!, 'rejected', { reason: 'licensed' });
    await cases.transition(b[1]!, 'dispatched');
    await cases.transition(b[1]!, 'handled');
    await cases.transition(b[1]!, 'verified');
    await cases.transition(b[1]!, 'closed');

    expect(Object.fromEntries(await cases.openCountsByCamera())).toEqual({ 'cam-a': 1 });
    expect(Object.fromEntries(await cases.openCountsByCamera(['cam-b', 'cam-c']))).toEqual({});
    expect((await cases.openCountsByCamera([])).size).toBe(0);

    expect(await cases.rejectionStats()).toEqual([
      {
        cameraId: 'cam-a',
        classId: 'illegal_parking',
        zoneId: 'kerb',
        cases: 3,
        rejected: 2,
        rejectionRate: 0.667,
        reasons: [{ reason: 'shadow', count: 2 }],
      },
      {
        cameraId: 'cam-a',
        classId: 'street_vending',
        zoneId: null,
        cases: 1,
        rejected: 1,
        rejectionRate: 1,
        reasons: [{ reason: 'licensed', count: 1 }],
      },
      { cameraId: 'cam-b', classId: 'illegal_parking', zoneId: 'kerb', cases: 1, rejected: 0, rejectionRate: 0, reasons: [] },
    ]);
    expect(await cases.rejectionStats({ from: T0 + 2, to: T0 + 3, cameraId: 'cam-a' })).toEqual([
      {
        cameraId: 'cam-a',
        classId: 'street_vending',
        zoneId: null,
        cases: 1,
        rejected: 1,
        rejectionRate: 1,
        reasons: [{ reason: 'licensed', count: 1 }],
      },
      { cameraId: 'cam-a', classId: 'illegal_parking', zoneId: 'kerb', cases: 1, rejected: 0, rejectionRate: 0, reasons: [] },
    ]);
    expect(await cases.rejectionStats({ limit: 1 })).toHaveLength(1);
  });
});
