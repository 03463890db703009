// Per-class scores over any number of matched clips. Pure arithmetic on ClipMatch records.
import { median } from '../stats.js';
import type { ClipMatch } from './match.js';

export interface ClassMetrics {
  classId: string;
  /** Truth episodes (TP + FN). */
  truths: number;
  /** Confirmed predictions counted (TP + FP + duplicates). */
  predictions: number;
  tp: number;
  fp: number;
  fn: number;
  duplicates: number;
  /**
   * TP / (TP + FP + duplicates): the share of opened cases that are a distinct real episode —
   * a second case for one episode is as much a burden on the city as a false one.
   * null when nothing was predicted.
   */
  precision: number | null;
  /** TP / (TP + FN); null when the class has no truth episode. */
  recall: number | null;
  /** Harmonic mean of P and R; null when either is null. */
  f1: number | null;
  /** Time-to-detect over true positives (confirm − truth start), seconds; null without TPs. */
  meanTtdSec: number | null;
  medianTtdSec: number | null;
  /** TPs confirmed later than the truth's lateStartSec. */
  late: number;
  /** Clips that scored this class. */
  clips: number;
}

export interface ConfusionTable {
  /** Row labels: predicted classes; columns: truth classes + 'none'. */
  predicted: Record<string, Record<string, number>>;
  /** Row labels: truth classes; columns: predicted classes + 'none'. */
  truth: Record<string, Record<string, number>>;
}

export interface EvalMetrics {
  classes: ClassMetrics[];
  /** Micro-averaged over all scored classes. */
  total: ClassMetrics;
  confusion: ConfusionTable;
  /** Predictions of classes no truth scores (not counted). */
  ignored: number;
}

export function ratio(num: number, den: number): number | null {
  return den > 0 ? num / den : null;
}

export function f1Of(p: number | null, r: number | null): number | null {
  if (p === null || r === null) return null;
  return p + r > 0 ? (2 * p * r) / (p + r) : 0;
}

export function mean(xs: readonly number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

interface Acc {
  tp: number;
  fp: number;
  fn: number;
  duplicates: number;
  ttd: number[];
  late: number;
  clips: number;
}

function finish(classId: string, a: Acc): ClassMetrics {
  const precision = ratio(a.tp, a.tp + a.fp + a.duplicates);
  const recall = ratio(a.tp, a.tp + a.fn);
  return {
    classId,
    truths: a.tp + a.fn,
    predictions: a.tp + a.fp + a.duplicates,
    tp: a.tp,
    fp: a.fp,
    fn: a.fn,
    duplicates: a.duplicates,
    precision,
    recall,
    f1: f1Of(precision, recall),
    meanTtdSec: mean(a.ttd),
    medianTtdSec: median(a.ttd),
    late: a.late,
    clips: a.clips,
  };
}

const bump = (table: Record<string, Record<string, number>>, row: string, col: string) => {
  const r = (table[row] ??= {});
  r[col] = (r[col] ?? 0) + 1;
};

/** Aggregates clip matches into per-class metrics (classes sorted by id) and a micro total. */
export function computeMetrics(clips: readonly ClipMatch[]): EvalMetrics {
  const acc = new Map<string, Acc>();
  const get = (id: string): Acc => {
    let a = acc.get(id);
    if (!a) acc.set(id, (a = { tp: 0, fp: 0, fn: 0, duplicates: 0, ttd: [], late: 0, clips: 0 }));
    return a;
  };
  const confusion: ConfusionTable = { predicted: {}, truth: {} };
  let ignored = 0;
  for (const c of clips) {
    for (const id of c.scoredClasses) get(id).clips++;
    for (const m of c.matches) {
      const a = get(m.prediction.classId);
      a.tp++;
      a.ttd.push(m.timeToDetectSec);
      if (m.late) a.late++;
    }
    for (const d of c.duplicates) get(d.prediction.classId).duplicates++;
    for (const p of c.falsePositives) get(p.classId).fp++;
    for (const f of c.falseNegatives) get(f.truth.classId).fn++;
    for (const e of c.predictionConfusion) bump(confusion.predicted, e.classId, e.other);
    for (const e of c.truthConfusion) bump(confusion.truth, e.classId, e.other);
    ignored += c.ignored.length;
  }
  const ids = [...acc.keys()].sort();
  const total: Acc = { tp: 0, fp: 0, fn: 0, duplicates: 0, ttd: [], late: 0, clips: clips.length };
  for (const a of acc.values()) {
    total.tp += a.tp;
    total.fp += a.fp;
    total.fn += a.fn;
    total.duplicates += a.duplicates;
    total.ttd.push(...a.ttd);
    total.late += a.late;
  }
  return { classes: ids.map((id) => finish(id, acc.get(id)!)), total: finish('total', total), confusion, ignored };
}

export interface ScoreGate {
  minPrecision?: number;
  minRecall?: number;
}

/**
 * Classes below a CI gate, as messages. A class whose score is undefined (nothing predicted, or
 * no truth episode) cannot fail that score: a clean negative clip is not a precision failure.
 */
export function gateFailures(classes: readonly ClassMetrics[], gate: ScoreGate): string[] {
  const out: string[] = [];
  for (const c of classes) {
    if (gate.minPrecision !== undefined && c.precision !== null && c.precision < gate.minPrecision)
      out.push(`${c.classId}: precision ${c.precision.toFixed(3)} < ${gate.minPrecision}`);
    if (gate.minRecall !== undefined && c.recall !== null && c.recall < gate.minRecall)
      out.push(`${c.classId}: recall ${c.recall.toFixed(3)} < ${gate.minRecall}`);
  }
  return out;
}
