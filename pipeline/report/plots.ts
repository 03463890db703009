// Evaluation plots as SVG (pure string builders) rendered to PNG with sharp — no plotting package.
import sharp from 'sharp';
import { escapeXml } from '../evidence/annotate.js';

const FONT = "'DejaVu Sans','Noto Sans',sans-serif";
const COLORS = {
  precision: '#1f77b4',
  recall: '#ff7f0e',
  f1: '#2ca02c',
  truth: '#2ca02c',
  tp: '#1f77b4',
  fp: '#d62728',
  dup: '#ff9f1c',
  ignored: '#9e9e9e',
  grid: '#dddddd',
  axis: '#333333',
};

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000));
const text = (x: number, y: number, s: string, attrs = '') =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-family="${FONT}" ${attrs}>${escapeXml(s)}</text>`;

/** "Nice" axis ticks (1, 2, 5 × 10^k steps) covering [0, max]. */
export function niceTicks(max: number, target = 8): number[] {
  if (!(max > 0)) return [0];
  const raw = max / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Math.round(v * 1e9) / 1e9);
  return out;
}

export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png().toBuffer();
}

function frame(width: number, height: number, title: string, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<rect width="100%" height="100%" fill="#ffffff"/>` +
    text(width / 2, 24, title, 'font-size="16" font-weight="bold" text-anchor="middle" fill="#111"') +
    body +
    `</svg>`
  );
}

function legend(x: number, y: number, items: [string, string][]): string {
  return items
    .map(
      ([label, color], i) =>
        `<rect x="${x + i * 120}" y="${y - 10}" width="12" height="12" fill="${color}"/>` +
        text(x + i * 120 + 16, y, label, 'font-size="12" fill="#111"'),
    )
    .join('');
}

export interface PrBar {
  classId: string;
  precision: number | null;
  recall: number | null;
}

/** Grouped P/R bars per class; a missing value (nothing predicted / no truth) is marked n/a. */
export function prBarsSvg(rows: readonly PrBar[], title = 'Precision / recall per class'): string {
  // Room on the left for the first class's rotated label.
  const left = 96;
  const top = 48;
  const plotH = 240;
  const group = 84;
  const width = Math.max(520, left + 24 + group * rows.length);
  const height = top + plotH + 130;
  const y = (v: number) => top + plotH * (1 - v);
  let body = '';
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    body +=
      `<line x1="${left}" x2="${width - 16}" y1="${y(t)}" y2="${y(t)}" stroke="${COLORS.grid}"/>` +
      text(left - 8, y(t) + 4, t.toFixed(2), 'font-size="11" text-anchor="end" fill="#333"');
  }
  body += `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="${COLORS.axis}"/>`;
  rows.forEach((r, i) => {
    const gx = left + 12 + i * group;
    (
      [
        ['precision', r.precision],
        ['recall', r.recall],
      ] as const
    ).forEach(([k, v], b) => {
      const bx = gx + b * 30;
      if (v === null) body += text(bx + 13, y(0) - 6, 'n/a', 'font-size="10" text-anchor="middle" fill="#777"');
      else {
        const h = Math.max(1, plotH * v);
        body +=
          `<rect x="${bx}" y="${(y(0) - h).toFixed(1)}" width="26" height="${h.toFixed(1)}" fill="${COLORS[k]}"/>` +
          text(bx + 13, y(0) - h - 4, v.toFixed(2), 'font-size="10" text-anchor="middle" fill="#111"');
      }
    });
    const lx = gx + 28;
    const ly = top + plotH + 14;
    body += `<text x="${lx}" y="${ly}" font-family="${FONT}" font-size="11" text-anchor="end" fill="#111" transform="rotate(-35 ${lx} ${ly})">${escapeXml(r.classId)}</text>`;
  });
  body += legend(left, height - 12, [
    ['precision', COLORS.precision],
    ['recall', COLORS.recall],
  ]);
  return frame(width, height, title, body);
}

export interface TimelineInterval {
  start: number;
  end: number;
  label?: string;
}
export interface TimelinePrediction extends TimelineInterval {
  confirmedAt: number;
  kind: 'tp' | 'fp' | 'dup' | 'ignored';
}
export interface TimelineRow {
  classId: string;
  truths: TimelineInterval[];
  predictions: TimelinePrediction[];
}

/** Sub-lane per interval: the first lane whose previous interval ended before this one starts. */
export function stackIntervals(items: readonly { start: number; end: number }[]): number[] {
  const order = items.map((_, i) => i).sort((a, b) => items[a]!.start - items[b]!.start || a - b);
  const laneEnds: number[] = [];
  const out = new Array<number>(items.length).fill(0);
  for (const i of order) {
    const it = items[i]!;
    let k = laneEnds.findIndex((end) => end <= it.start);
    if (k < 0) k = laneEnds.push(it.end) - 1;
    else laneEnds[k] = it.end;
    out[i] = k;
  }
  return out;
}

/** One clip: per class a truth lane and a detection lane, with a marker where each case was confirmed. */
export function timelineSvg(clipId: string, durationSec: number, rows: readonly TimelineRow[]): string {
  const left = 170;
  const right = 24;
  const width = 960;
  const top = 48;
  const lane = 22;
  const rowH = lane * 2 + 18;
  const plotW = width - left - right;
  const height = top + Math.max(1, rows.length) * rowH + 70;
  const dur = Math.max(durationSec, 1e-6);
  const x = (t: number) => left + (plotW * Math.min(Math.max(t, 0), dur)) / dur;
  let body = '';
  const axisY = top + Math.max(1, rows.length) * rowH;
  for (const t of niceTicks(dur, 10)) {
    body +=
      `<line x1="${x(t)}" x2="${x(t)}" y1="${top}" y2="${axisY}" stroke="${COLORS.grid}"/>` +
      text(x(t), axisY + 16, `${fmt(t)}s`, 'font-size="11" text-anchor="middle" fill="#333"');
  }
  if (!rows.length)
    body += text(
      left + plotW / 2,
      top + 30,
      'no scored class and no detection on this clip',
      'font-size="13" text-anchor="middle" fill="#777"',
    );
  rows.forEach((r, i) => {
    const ry = top + i * rowH + 4;
    body += text(left - 10, ry + lane - 4, r.classId, 'font-size="12" text-anchor="end" fill="#111"');
    body += text(left - 10, ry + 2 * lane - 2, 'truth / detected', 'font-size="9" text-anchor="end" fill="#777"');
    body += `<rect x="${left}" y="${ry}" width="${plotW}" height="${lane * 2}" fill="#f7f7f7"/>`;
    for (const t of r.truths) {
      body += `<rect x="${x(t.start).toFixed(1)}" y="${ry + 2}" width="${Math.max(2, x(t.end) - x(t.start)).toFixed(1)}" height="${lane - 4}" fill="${COLORS.truth}" opacity="0.85"/>`;
      if (t.label) body += text(x(t.start) + 4, ry + lane - 7, t.label, 'font-size="10" fill="#fff"');
    }
    // Overlapping predictions (duplicates, parallel subjects) get their own sub-lanes so none hides another.
    const subLane = stackIntervals(r.predictions);
    const subs = Math.max(1, ...subLane.map((k) => k + 1));
    const subH = (lane - 4) / subs;
    for (const [pi, p] of r.predictions.entries()) {
      const py = ry + lane + 2 + subLane[pi]! * subH;
      body += `<rect x="${x(p.start).toFixed(1)}" y="${py.toFixed(1)}" width="${Math.max(2, x(p.end) - x(p.start)).toFixed(1)}" height="${Math.max(1, subH - 1).toFixed(1)}" fill="${COLORS[p.kind]}" opacity="0.85"/>`;
      const cx = x(p.confirmedAt);
      body +=
        `<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${ry}" y2="${ry + 2 * lane}" stroke="#000" stroke-width="2"/>` +
        `<path d="M ${(cx - 5).toFixed(1)} ${ry + 2 * lane + 7} L ${(cx + 5).toFixed(1)} ${ry + 2 * lane + 7} L ${cx.toFixed(1)} ${ry + 2 * lane} Z" fill="#000"/>`;
    }
  });
  body += `<line x1="${left}" x2="${width - right}" y1="${axisY}" y2="${axisY}" stroke="${COLORS.axis}"/>`;
  body += legend(left, height - 12, [
    ['truth', COLORS.truth],
    ['detected TP', COLORS.tp],
    ['false pos.', COLORS.fp],
    ['duplicate', COLORS.dup],
    ['not scored', COLORS.ignored],
  ]);
  body += text(width - right, height - 12, '▲ confirmed', 'font-size="11" text-anchor="end" fill="#111"');
  return frame(width, height, `${clipId} — truth vs detected episodes`, body);
}

export interface SweepPoint {
  value: number;
  precision: number | null;
  recall: number | null;
  f1: number | null;
}

/** P, R and F1 against a swept threshold; points without a value are left out of the line. */
export function sweepSvg(title: string, param: string, points: readonly SweepPoint[]): string {
  const left = 56;
  const top = 48;
  const plotW = 560;
  const plotH = 260;
  const width = left + plotW + 30;
  const height = top + plotH + 80;
  const vs = points.map((p) => p.value);
  const lo = Math.min(...vs);
  const hi = Math.max(...vs);
  const span = hi - lo || 1;
  const x = (v: number) => left + (hi === lo ? plotW / 2 : (plotW * (v - lo)) / span);
  const y = (v: number) => top + plotH * (1 - v);
  let body = '';
  for (const t of [0, 0.25, 0.5, 0.75, 1])
    body +=
      `<line x1="${left}" x2="${left + plotW}" y1="${y(t)}" y2="${y(t)}" stroke="${COLORS.grid}"/>` +
      text(left - 8, y(t) + 4, t.toFixed(2), 'font-size="11" text-anchor="end" fill="#333"');
  for (const v of vs) body += text(x(v), top + plotH + 18, fmt(v), 'font-size="11" text-anchor="middle" fill="#333"');
  body += text(left + plotW / 2, top + plotH + 38, param, 'font-size="12" text-anchor="middle" fill="#111"');
  (['precision', 'recall', 'f1'] as const).forEach((k, si) => {
    const pts = points.filter((p) => p[k] !== null).map((p) => [x(p.value), y(p[k]!)] as const);
    // Offsets keep coincident series (P = R = 1) visible.
    const dy = (si - 1) * 2;
    if (pts.length > 1)
      body += `<polyline fill="none" stroke="${COLORS[k]}" stroke-width="2.5" points="${pts.map(([px, py]) => `${px.toFixed(1)},${(py + dy).toFixed(1)}`).join(' ')}"/>`;
    for (const [px, py] of pts) body += `<circle cx="${px.toFixed(1)}" cy="${(py + dy).toFixed(1)}" r="4" fill="${COLORS[k]}"/>`;
  });
  body += `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="${COLORS.axis}"/><line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="${COLORS.axis}"/>`;
  body += legend(left, height - 10, [
    ['precision', COLORS.precision],
    ['recall', COLORS.recall],
    ['F1', COLORS.f1],
  ]);
  return frame(width, height, title, body);
}
