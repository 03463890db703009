import { describe, expect, it } from 'vitest';
import { scheduleSchema, zoneSchema, type Schedule, type Zone } from './config-schema.js';
import {
  ConfigError,
  localWeekMinute,
  parseCameraConfig,
  scheduleActive,
  membershipDetail,
  zoneContains,
  zonesContaining,
} from './zones.js';

const box = (x1: number, y1: number, x2: number, y2: number) => ({ x1, y1, x2, y2 });

function zone(input: Record<string, unknown>): Zone {
  return zoneSchema.parse({ type: 'no_vending', ...input });
}

// On a 200×100 frame this square is x 40..120, y 20..60 in pixels.
const square = [
  [0.2, 0.2],
  [0.6, 0.2],
  [0.6, 0.6],
  [0.2, 0.6],
];

describe('zone membership', () => {
  const foot = zone({ id: 'foot', polygon: square });
  const half = zone({ id: 'half', polygon: square, membership: { mode: 'overlap', minRatio: 0.5 } });
  const most = zone({ id: 'most', polygon: square, membership: { mode: 'overlap', minRatio: 0.8 } });

  it('defaults to footprint membership', () => {
    expect(foot.membership).toEqual({ mode: 'footprint' });
  });

  it('footprint: bottom-centre inside; overlap: area fraction >= minRatio', () => {
    // Feet inside (60,50); 600 of 800 px² inside = 0.75.
    const b1 = box(50, 10, 70, 50);
    expect([zoneContains(foot, b1, 200, 100), zoneContains(half, b1, 200, 100), zoneContains(most, b1, 200, 100)]).toEqual([
      true,
      true,
      false,
    ]);
    // A person standing below the zone, body overlapping it: feet (60,80) outside, 600/1000 = 0.6.
    const b2 = box(50, 30, 70, 80);
    expect([zoneContains(foot, b2, 200, 100), zoneContains(half, b2, 200, 100)]).toEqual([false, true]);
    // Feet on the right edge (120,40) count as inside; only 400/1600 = 0.25 of the box is.
    const b3 = box(100, 0, 140, 40);
    expect([zoneContains(foot, b3, 200, 100), zoneContains(half, b3, 200, 100)]).toEqual([true, false]);
    // Exactly minRatio is enough: 20×40 box with 20×20 inside.
    expect(zoneContains(half, box(50, 0, 70, 40), 200, 100)).toBe(true);
    expect(zoneContains(half, box(50, -1, 70, 40), 200, 100)).toBe(false); // 400/820
  });

  it('scales the polygon to each frame size (cached per size)', () => {
    const b = box(70, 10, 90, 50); // feet (80,50)
    expect(zoneContains(foot, b, 200, 100)).toBe(true); // zone x 40..120
    expect(zoneContains(foot, b, 100, 100)).toBe(false); // zone x 20..60
    expect(zoneContains(foot, b, 200, 100)).toBe(true);
  });

  it('inside margin: with a default margin (tracked objects) or a zone insideMargin, a footprint on the edge is out', () => {
    // Feet (120,40) on the right edge of the square; box height 40 → margin 4 px.
    const b3 = box(100, 0, 140, 40);
    expect([zoneContains(foot, b3, 200, 100), zoneContains(foot, b3, 200, 100, 0.1)]).toEqual([true, false]);
    // 3 px inside < 4 px: out with the margin; 10 px inside (b1's feet to the bottom edge): in.
    expect(zoneContains(foot, box(97, 0, 137, 40), 200, 100, 0.1)).toBe(false);
    expect(zoneContains(foot, box(50, 10, 70, 50), 200, 100, 0.1)).toBe(true);
    // A zone's own insideMargin wins over the caller's default, both ways.
    const strict = zone({ id: 'strict', polygon: square, membership: { mode: 'footprint', insideMargin: 0.1 } });
    const loose = zone({ id: 'loose', polygon: square, membership: { mode: 'footprint', insideMargin: 0 } });
    expect([zoneContains(strict, b3, 200, 100), zoneContains(loose, b3, 200, 100, 0.1)]).toEqual([false, true]);
    // Edges along the frame border set no margin: feet at the bottom of the frame stay in.
    const lower = zone({
      id: 'lower',
      polygon: [
        [0, 0.5],
        [1, 0.5],
        [1, 1],
        [0, 1],
      ],
    });
    expect(zonesContaining([lower], box(90, 60, 110, 100), 200, 100, 0.1).map((z) => z.id)).toEqual(['lower']);
    expect(membershipDetail(strict, b3, 200, 100)).toEqual({ mode: 'footprint', insideMargin: 0.1, marginPx: 4, depthPx: 0 });
  });

  it('lists the zones containing a box', () => {
    const left = zone({
      id: 'left',
      polygon: [
        [0, 0],
        [0.5, 0],
        [0.5, 1],
        [0, 1],
      ],
    });
    const right = zone({
      id: 'right',
      polygon: [
        [0.5, 0],
        [1, 0],
        [1, 1],
        [0.5, 1],
      ],
    });
    const ids = (b: ReturnType<typeof box>) => zonesContaining([left, right, foot, half], b, 200, 100).map((z) => z.id);
    expect(ids(box(50, 10, 70, 50))).toEqual(['left', 'foot', 'half']);
    expect(ids(box(150, 10, 170, 50))).toEqual(['right']);
    expect(ids(box(90, 60, 110, 100))).toEqual(['left', 'right']); // feet (100,100) on the shared border
  });

  it('rejects a nonsensical frame size', () => {
    expect(() => zoneContains(foot, box(0, 0, 1, 1), 0, 100)).toThrow(/zone foot: frame size must be positive, got 0x100/);
  });
});

describe('schedules', () => {
  const sched = (input: Record<string, unknown>): Schedule => scheduleSchema.parse(input);
  // Asia/Shanghai is UTC+8 all year. 2024-06-03 is a Monday, 2024-06-07 a Friday.
  const sh = (day: number, hh: number, mm = 0) => Date.UTC(2024, 5, day, hh - 8, mm);

  it('reads local weekday and minute in the schedule timezone', () => {
    expect(localWeekMinute(sh(3, 18, 30), 'Asia/Shanghai')).toEqual({ weekday: 1, minute: 18 * 60 + 30 });
    expect(localWeekMinute(sh(3, 0), 'Asia/Shanghai')).toEqual({ weekday: 1, minute: 0 });
    expect(localWeekMinute(sh(3, 0), 'UTC')).toEqual({ weekday: 7, minute: 16 * 60 });
  });

  it('no schedule means always active', () => {
    expect(scheduleActive(undefined, sh(3, 12))).toBe(true);
  });

  it('night market: vending exempt 18:00–23:00 Shanghai time', () => {
    const s = sched({ mode: 'exempt', timezone: 'Asia/Shanghai', windows: [{ start: '18:00', end: '23:00' }] });
    expect(s.windows[0]!.days).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(scheduleActive(s, sh(3, 17, 59))).toBe(true);
    expect(scheduleActive(s, sh(3, 18, 0))).toBe(false);
    expect(scheduleActive(s, sh(3, 22, 59))).toBe(false);
    expect(scheduleActive(s, sh(3, 23, 0))).toBe(true);
    // Evaluated in the schedule's timezone, not the host's: 18:30 UTC is 02:30 in Shanghai.
    expect(scheduleActive(s, Date.UTC(2024, 5, 3, 18, 30))).toBe(true);
  });

  it('midnight-crossing window belongs to the day it starts', () => {
    const s = sched({ mode: 'enforce', windows: [{ days: [5], start: '22:00', end: '06:00' }] });
    expect(s.timezone).toBe('Asia/Shanghai');
    expect(scheduleActive(s, sh(7, 21, 59))).toBe(false); // Fri before
    expect(scheduleActive(s, sh(7, 22, 0))).toBe(true); // Fri start
    expect(scheduleActive(s, sh(8, 3, 0))).toBe(true); // Sat early morning, Friday's window
    expect(scheduleActive(s, sh(8, 5, 59))).toBe(true);
    expect(scheduleActive(s, sh(8, 6, 0))).toBe(false); // end is exclusive
    expect(scheduleActive(s, sh(8, 22, 30))).toBe(false); // Saturday not listed
    expect(scheduleActive(s, sh(7, 3, 0))).toBe(false); // Friday 03:00 belongs to Thursday's window
  });

  it('filters by weekday', () => {
    const s = sched({ windows: [{ days: [1, 2, 3, 4, 5], start: '07:00', end: '19:00' }] });
    expect(scheduleActive(s, sh(3, 10))).toBe(true); // Monday
    expect(scheduleActive(s, sh(7, 18, 59))).toBe(true); // Friday
    expect(scheduleActive(s, sh(8, 10))).toBe(false); // Saturday
    expect(scheduleActive(s, sh(9, 10))).toBe(false); // Sunday
    expect(scheduleActive(s, sh(3, 6, 59))).toBe(false);
  });

  it('supports all-day windows and several windows', () => {
    const s = sched({
      windows: [
        { days: [6, 7], start: '00:00', end: '24:00' },
        { days: [3], start: '12:00', end: '13:00' },
      ],
    });
    expect(scheduleActive(s, sh(8, 0))).toBe(true);
    expect(scheduleActive(s, sh(9, 23, 59))).toBe(true);
    expect(scheduleActive(s, sh(5, 12, 30))).toBe(true); // Wednesday lunch
    expect(scheduleActive(s, sh(5, 13, 0))).toBe(false);
  });

  it('follows daylight saving in zones that have it', () => {
    const s = sched({ timezone: 'Europe/Berlin', windows: [{ start: '08:00', end: '09:00' }] });
    expect(scheduleActive(s, Date.UTC(2024, 6, 1, 6, 30))).toBe(true); // CEST, 08:30 local
    expect(scheduleActive(s, Date.UTC(2024, 0, 15, 6, 30))).toBe(false); // CET, 07:30 local
    expect(scheduleActive(s, Date.UTC(2024, 0, 15, 7, 30))).toBe(true);
  });
});

describe('parseCameraConfig', () => {
  const tri = [
    [0, 0],
    [1, 0],
    [0, 1],
  ];
  const cfg = (zones: unknown[]) => ({ camera: { id: 'cam-1' }, zones });
  const err = (input: unknown): string => {
    try {
      parseCameraConfig(input);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('applies defaults to a minimal config', () => {
    const c = parseCameraConfig(cfg([{ id: 'z1', type: 'no_parking', polygon: tri }]));
    expect(c.camera.timezone).toBe('Asia/Shanghai');
    expect(c.analysis.fps).toBe(2);
    expect(c.zones[0]!.membership).toEqual({ mode: 'footprint' });
  });

  it('validates detector tuning under analysis, naming the field', () => {
    const base = cfg([{ id: 'z1', type: 'no_parking', polygon: tri }]) as Record<string, unknown>;
    const withAnalysis = (analysis: unknown) => ({ ...base, analysis });
    expect(parseCameraConfig(base).analysis.containedParts).toEqual({
      ratio: 0.85,
      maxAreaRatio: 0.75,
      labels: ['bicycle', 'motorcycle', 'car', 'bus', 'truck'],
    });
    expect(parseCameraConfig(withAnalysis({ staticChange: { sceneCutSimilarity: 0.4 } })).analysis.staticChange).toEqual({
      sceneCutSimilarity: 0.4,
    });
    expect(err(withAnalysis({ staticChange: { longTermRate: 0.5, shortTermRate: 0.1 } }))).toBe(
      'invalid camera config: analysis.staticChange: longTermRate must be below shortTermRate',
    );
    expect(err(withAnalysis({ staticChange: { sceneCut: 1 } }))).toMatch(/^invalid camera config: analysis\.staticChange: .*"sceneCut"/);
    expect(err(withAnalysis({ containedParts: { ratio: 0 } }))).toMatch(/^invalid camera config: analysis\.containedParts\.ratio: /);
  });

  it('rejects invalid polygons naming the field', () => {
    expect(
      err(
        cfg([
          {
            id: 'z1',
            type: 'no_parking',
            polygon: [
              [0, 0],
              [1, 0],
            ],
          },
        ]),
      ),
    ).toBe('invalid camera config: zones.0.polygon: a polygon needs at least 3 points, got 2');
    expect(
      err(
        cfg([
          {
            id: 'z1',
            type: 'no_parking',
            polygon: [
              [0, 0],
              [1, 1],
              [1, 0],
              [0, 1],
            ],
          },
        ]),
      ),
    ).toBe('invalid camera config: zones.0.polygon: the polygon is self-intersecting (edge 0 crosses edge 2)');
    expect(
      err(
        cfg([
          {
            id: 'z1',
            type: 'no_parking',
            polygon: [
              [0, 0],
              [1.2, 0.5],
              [0, 1],
            ],
          },
        ]),
      ),
    ).toMatch(
      /^invalid camera config: zones\.0\.polygon\.1\.0: .*<=1.*zones\.0\.polygon: point 1 \(1\.2, 0\.5\) is outside the normalised range 0\.\.1$/,
    );
  });

  it('rejects an unknown timezone and empty windows', () => {
    const s = (schedule: unknown) => cfg([{ id: 'z1', type: 'no_vending', polygon: tri, schedule }]);
    expect(err(s({ timezone: 'Asia/Shangai', windows: [{ start: '18:00', end: '23:00' }] }))).toBe(
      'invalid camera config: zones.0.schedule.timezone: unknown IANA timezone "Asia/Shangai" (e.g. "Asia/Shanghai")',
    );
    expect(err(s({ windows: [{ start: '18:00', end: '18:00' }] }))).toBe(
      'invalid camera config: zones.0.schedule.windows.0.end: window is empty (start = end = 18:00); use 00:00–24:00 for all day',
    );
    expect(err(s({ windows: [{ start: '24:00', end: '06:00' }] }))).toBe(
      'invalid camera config: zones.0.schedule.windows.0.start: a window cannot start at 24:00 (use 00:00)',
    );
    expect(err(s({ windows: [{ start: '7:00', end: '09:00' }] }))).toBe(
      'invalid camera config: zones.0.schedule.windows.0.start: time must be HH:MM (00:00–24:00)',
    );
  });

  it('rejects duplicate zone ids', () => {
    expect(
      err(
        cfg([
          { id: 'z1', type: 'no_parking', polygon: tri },
          { id: 'z1', type: 'no_vending', polygon: tri },
        ]),
      ),
    ).toBe('invalid camera config: zones.1.id: duplicate zone id "z1"');
  });
});
