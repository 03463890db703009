// Zone membership, zone schedules and camera-config validation: the bridge between an operator's
// drawn polygons / opening hours and the per-frame rule engine. Reading a config file from disk is
// pipeline/load/camera-config-file.ts.
import type { Box } from '../types.js';
import { cameraConfigSchema, formatIssues, type CameraConfig, type Schedule, type Zone } from './config-schema.js';
import { boxFootprint, boxOverlapRatio, distanceToInnerEdges, pointInPolygon, toPixels, type Point } from '../geometry/geometry.js';

/**
 * Footprint membership of tracked vehicles and people (the dwell classes): how far inside (× box
 * height) a footprint must be when the zone does not set insideMargin; see membershipSchema.
 * Static blobs, text and counted objects use 0 unless the zone says otherwise: their zones (a bike
 * rack, a wall) are drawn tight around what they hold.
 */
export const DEFAULT_INSIDE_MARGIN = 0.1;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

// Membership runs per detection per frame; scaling the polygon each time is wasted work. Keyed
// weakly by the zone object, so a reloaded config simply gets fresh entries.
interface PixelZone {
  poly: Point[];
  /** Bounding box of the polygon: most boxes are far from most zones, so reject those cheaply. */
  bounds: Box;
}
const pixelCache = new WeakMap<Zone, Map<string, PixelZone>>();

function pixelZone(zone: Zone, width: number, height: number): PixelZone {
  let bySize = pixelCache.get(zone);
  if (!bySize) {
    bySize = new Map();
    pixelCache.set(zone, bySize);
  }
  const key = `${width}x${height}`;
  let pz = bySize.get(key);
  if (!pz) {
    const poly = toPixels(zone.polygon, width, height);
    const xs = poly.map((p) => p[0]);
    const ys = poly.map((p) => p[1]);
    pz = { poly, bounds: { x1: Math.min(...xs), y1: Math.min(...ys), x2: Math.max(...xs), y2: Math.max(...ys) } };
    bySize.set(key, pz);
  }
  return pz;
}

/** Whether a box (source pixels) is in the zone, by the zone's membership rule. */
export function zoneContains(zone: Zone, box: Box, frameWidth: number, frameHeight: number, defaultMargin = 0): boolean {
  if (!(frameWidth > 0 && frameHeight > 0 && Number.isFinite(frameWidth) && Number.isFinite(frameHeight))) {
    throw new RangeError(`zone ${zone.id}: frame size must be positive, got ${frameWidth}x${frameHeight}`);
  }
  const { poly, bounds } = pixelZone(zone, frameWidth, frameHeight);
  const m = zone.membership;
  if (m.mode === 'footprint') {
    const [x, y] = boxFootprint(box);
    if (x < bounds.x1 || x > bounds.x2 || y < bounds.y1 || y > bounds.y2) return false;
    if (!pointInPolygon([x, y], poly)) return false;
    const margin = (m.insideMargin ?? defaultMargin) * (box.y2 - box.y1);
    return margin <= 0 || distanceToInnerEdges([x, y], poly, frameWidth, frameHeight) >= margin;
  }
  if (box.x2 <= bounds.x1 || box.x1 >= bounds.x2 || box.y2 <= bounds.y1 || box.y1 >= bounds.y2) return false;
  return boxOverlapRatio(box, poly) >= m.minRatio;
}

/**
 * How a box sits in a zone, for the reason record: footprint depth inside the polygon (px, to the
 * nearest edge not on the frame border; negative outside) and the margin required.
 */
export function membershipDetail(
  zone: Zone,
  box: Box,
  frameWidth: number,
  frameHeight: number,
  defaultMargin = 0,
): Record<string, number | string> {
  const m = zone.membership;
  if (m.mode !== 'footprint') return { mode: m.mode, minRatio: m.minRatio };
  const { poly } = pixelZone(zone, frameWidth, frameHeight);
  const fp = boxFootprint(box);
  const d = distanceToInnerEdges(fp, poly, frameWidth, frameHeight);
  const depth = pointInPolygon(fp, poly) ? d : -d;
  const insideMargin = m.insideMargin ?? defaultMargin;
  return {
    mode: 'footprint',
    insideMargin,
    marginPx: Math.round(insideMargin * (box.y2 - box.y1) * 10) / 10,
    depthPx: Number.isFinite(depth) ? Math.round(depth * 10) / 10 : 'no inner edge',
  };
}

export function zonesContaining(zones: readonly Zone[], box: Box, frameWidth: number, frameHeight: number, defaultMargin = 0): Zone[] {
  return zones.filter((z) => zoneContains(z, box, frameWidth, frameHeight, defaultMargin));
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const formatters = new Map<string, Intl.DateTimeFormat>();

/** ISO weekday (1 = Monday) and minute of day of an instant in a timezone. */
export function localWeekMinute(wallTimeMs: number, timeZone: string): { weekday: number; minute: number } {
  if (!Number.isFinite(wallTimeMs)) throw new RangeError(`wall time must be finite epoch milliseconds, got ${wallTimeMs}`);
  let fmt = formatters.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', weekday: 'short', hour: '2-digit', minute: '2-digit' });
    formatters.set(timeZone, fmt);
  }
  let weekday = 0;
  let hour = 0;
  let minute = 0;
  for (const p of fmt.formatToParts(wallTimeMs)) {
    if (p.type === 'weekday') weekday = WEEKDAYS[p.value] ?? 0;
    else if (p.type === 'hour') hour = Number(p.value) % 24;
    else if (p.type === 'minute') minute = Number(p.value);
  }
  if (!weekday) throw new Error(`cannot determine the weekday in timezone ${timeZone}`);
  return { weekday, minute: hour * 60 + minute };
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/**
 * True when rules apply at `wallTimeMs`. No schedule: always. `enforce`: only inside a window;
 * `exempt`: except inside a window. A window with start > end crosses midnight and belongs to
 * the day it starts on (Friday 22:00–06:00 covers Saturday 03:00).
 */
export function scheduleActive(schedule: Schedule | undefined, wallTimeMs: number): boolean {
  if (!schedule) return true;
  const { weekday, minute } = localWeekMinute(wallTimeMs, schedule.timezone);
  const yesterday = weekday === 1 ? 7 : weekday - 1;
  const inside = schedule.windows.some((w) => {
    const start = minutes(w.start);
    const end = minutes(w.end);
    if (start < end) return w.days.includes(weekday) && minute >= start && minute < end;
    return (w.days.includes(weekday) && minute >= start) || (w.days.includes(yesterday) && minute < end);
  });
  return schedule.mode === 'enforce' ? inside : !inside;
}

/** Validates a camera config; the error names every offending field. */
export function parseCameraConfig(input: unknown): CameraConfig {
  const r = cameraConfigSchema.safeParse(input);
  if (!r.success) throw new ConfigError(`invalid camera config: ${formatIssues(r.error)}`);
  return r.data;
}
