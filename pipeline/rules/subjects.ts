// Identity for things the motion tracker does not follow: OCR text regions and static blobs
// without a detector-assigned id. They do not move, so greedy IoU matching against the last box
// is enough; a subject survives short absences (OCR misses a frame, a pedestrian walks past).
import type { Box, Detection } from '../types.js';
import { iou } from '../geometry/geometry.js';

export interface AssociatorOptions {
  /** Minimum IoU between a detection and a subject's last box to be the same subject. */
  minIou: number;
  /** A subject not matched for longer than this (stream s) is forgotten. */
  maxIdleSec: number;
}

interface Held {
  id: number;
  label: string;
  box: Box;
  lastSeen: number;
}

export class BoxAssociator {
  private held: Held[] = [];
  private nextId = 1;

  constructor(private readonly opts: AssociatorOptions = { minIou: 0.3, maxIdleSec: 120 }) {
    if (!(opts.minIou > 0 && opts.minIou <= 1)) throw new RangeError(`associator minIou must be within (0, 1], got ${opts.minIou}`);
    if (!(opts.maxIdleSec >= 0)) throw new RangeError(`associator maxIdleSec must be >= 0, got ${opts.maxIdleSec}`);
  }

  /** Gives every detection a stable numeric id; same label and enough overlap = same subject. */
  assign(dets: readonly Detection[], time: number): { id: number; det: Detection }[] {
    this.held = this.held.filter((h) => time - h.lastSeen <= this.opts.maxIdleSec);
    const pairs: { h: Held; d: number; v: number }[] = [];
    dets.forEach((d, j) => {
      for (const h of this.held) {
        if (h.label !== d.label) continue;
        const v = iou(h.box, d.box);
        if (v >= this.opts.minIou) pairs.push({ h, d: j, v });
      }
    });
    // Best overlaps first; ties broken by older subject then detection order, for determinism.
    pairs.sort((a, b) => b.v - a.v || a.h.id - b.h.id || a.d - b.d);
    const usedH = new Set<Held>();
    const idOf = new Map<number, number>();
    for (const p of pairs) {
      if (usedH.has(p.h) || idOf.has(p.d)) continue;
      usedH.add(p.h);
      idOf.set(p.d, p.h.id);
      p.h.box = { ...dets[p.d]!.box };
      p.h.lastSeen = time;
    }
    return dets.map((det, j) => {
      let id = idOf.get(j);
      if (id === undefined) {
        id = this.nextId++;
        this.held.push({ id, label: det.label, box: { ...det.box }, lastSeen: time });
      }
      return { id, det };
    });
  }

  reset(): void {
    this.held = [];
    this.nextId = 1;
  }
}

/** Shortest distance between two boxes (0 when they touch or overlap). */
export function boxGap(a: Box, b: Box): number {
  const dx = Math.max(0, a.x1 - b.x2, b.x1 - a.x2);
  const dy = Math.max(0, a.y1 - b.y2, b.y1 - a.y2);
  return Math.hypot(dx, dy);
}

/**
 * "Together" for a person and an object: within half the person's height. Scales with distance
 * to the camera, unlike a pixel threshold.
 */
export function isNextTo(person: Box, other: Box, factor = 0.5): boolean {
  return boxGap(person, other) <= factor * (person.y2 - person.y1);
}

/**
 * Merges text lines that belong to one poster or painted ad (boxes closer than the taller line's
 * height) into one detection, so one ad is one episode rather than one per line. Text is joined
 * top to bottom, phone numbers are de-duplicated, the score is the mean of the lines.
 */
export function groupTextLines(dets: readonly Detection[]): Detection[] {
  const n = dets.length;
  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i]!)));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = dets[i]!.box;
      const b = dets[j]!.box;
      if (boxGap(a, b) <= Math.max(a.y2 - a.y1, b.y2 - b.y1)) parent[find(i)] = find(j);
    }
  }
  const groups = new Map<number, Detection[]>();
  dets.forEach((d, i) => {
    const g = groups.get(find(i)) ?? [];
    g.push(d);
    groups.set(find(i), g);
  });
  const out: Detection[] = [];
  for (const g of groups.values()) {
    if (g.length === 1) {
      out.push(g[0]!);
      continue;
    }
    g.sort((a, b) => a.box.y1 - b.box.y1 || a.box.x1 - b.box.x1);
    const texts = g.map((d) => d.attributes?.text).filter((t): t is string => typeof t === 'string' && t.length > 0);
    const phones = [...new Set(g.flatMap((d) => (Array.isArray(d.attributes?.phones) ? (d.attributes!.phones as unknown[]) : [])))];
    out.push({
      ...g[0]!,
      score: g.reduce((s, d) => s + d.score, 0) / g.length,
      box: {
        x1: Math.min(...g.map((d) => d.box.x1)),
        y1: Math.min(...g.map((d) => d.box.y1)),
        x2: Math.max(...g.map((d) => d.box.x2)),
        y2: Math.max(...g.map((d) => d.box.y2)),
      },
      attributes: { text: texts.join('\n'), phones, lines: g.length },
    });
  }
  return out;
}
