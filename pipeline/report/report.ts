// Text renderings of an evaluation: the fixed-width summary for a terminal and the Markdown report.
import type { ClassMetrics, ConfusionTable, EvalMetrics } from '../eval/metrics.js';

export interface ClipSummary {
  id: string;
  truthFile: string;
  clipPath: string;
  durationSec: number;
  /** Detector model the clip was replayed with (its config's analysis.model, or eval --model). */
  model: string;
  frames: number;
  /** Wall seconds the replay (detector + rules) took. */
  replaySec: number;
  scoredClasses: string[];
  tp: number;
  fp: number;
  fn: number;
  duplicates: number;
  ignored: number;
  timeline: string | null;
  /** Set when re-running the rules over the recorded detections did not reproduce the replay. */
  rerunMismatch?: string;
}

export interface SweepRow {
  value: number;
  metrics: ClassMetrics;
}

export interface SweepReport {
  spec: string;
  classId: string;
  param: string;
  /** The value(s) the clips' own configs use, for orientation. */
  configured: number[];
  rows: SweepRow[];
  plot: string | null;
}

export interface EvalReport {
  generatedAt: string;
  fixturesDir: string;
  toleranceSec: number;
  clips: ClipSummary[];
  metrics: EvalMetrics;
  sweeps: SweepReport[];
  runtimeSec: number;
  files: string[];
}

export const fmtRatio = (v: number | null): string => (v === null ? '—' : v.toFixed(2));
export const fmtSec = (v: number | null): string => (v === null ? '—' : `${v.toFixed(1)}s`);

const HEAD = ['class', 'P', 'R', 'F1', 'TP', 'FP', 'FN', 'dup', 'TTD mean', 'TTD median', 'clips'];
const cells = (m: ClassMetrics): string[] => [
  m.classId,
  fmtRatio(m.precision),
  fmtRatio(m.recall),
  fmtRatio(m.f1),
  String(m.tp),
  String(m.fp),
  String(m.fn),
  String(m.duplicates),
  fmtSec(m.meanTtdSec),
  fmtSec(m.medianTtdSec),
  String(m.clips),
];

/** Column-aligned plain-text table (stdout). */
export function textTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export function mdTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export function summaryText(m: EvalMetrics): string {
  return textTable(HEAD, [...m.classes.map(cells), cells(m.total)]);
}

function confusionMd(table: Record<string, Record<string, number>>, rowTitle: string): string {
  const rows = Object.keys(table).sort();
  const cols = [...new Set(rows.flatMap((r) => Object.keys(table[r]!)))].sort((a, b) =>
    a === 'none' ? 1 : b === 'none' ? -1 : a.localeCompare(b),
  );
  if (!rows.length) return '_nothing to show_';
  return mdTable(
    [rowTitle, ...cols],
    rows.map((r) => [r, ...cols.map((c) => String(table[r]![c] ?? 0))]),
  );
}

export function confusionSection(c: ConfusionTable): string {
  return [
    '### Predictions → overlapped truth class',
    'Each confirmed prediction of a scored class, by the truth class it overlapped in time (`none`: no labelled episode nearby — a pure false alarm).',
    '',
    confusionMd(c.predicted, 'predicted \\ truth'),
    '',
    '### Truth episodes → overlapping predicted class',
    'Each labelled episode, by the class the system reported over it (`none`: missed entirely).',
    '',
    confusionMd(c.truth, 'truth \\ predicted'),
  ].join('\n');
}

export function renderMarkdown(r: EvalReport): string {
  const out: string[] = [];
  out.push('# citywatch evaluation', '');
  out.push(`Generated ${r.generatedAt} from \`${r.fixturesDir}\` — ${r.clips.length} clip(s), ${r.runtimeSec.toFixed(1)} s.`, '');
  out.push(
    'Event-level scoring: a prediction is an episode that reached `confirmed` (one would-be case). It matches a labelled episode of the same class ' +
      `(and zone) when their intervals overlap or lie within the tolerance (default ${r.toleranceSec} s; a truth file's \`tolerance.earlyStartSec\`/\`endSec\` override it). ` +
      'One case per episode: further predictions on a matched episode are **duplicates** and count against precision (P = TP / (TP + FP + dup)). ' +
      'TTD = confirm time − labelled start. Classes a clip names neither in `episodes` nor `negatives` are not scored on it.',
    '',
  );
  out.push(
    '## Per class',
    '',
    mdTable(HEAD, [...r.metrics.classes.map(cells), cells(r.metrics.total).map((c, i) => (i === 0 ? '**total**' : c))]),
    '',
  );
  if (r.metrics.ignored) out.push(`${r.metrics.ignored} confirmed prediction(s) of classes not scored on their clip were ignored.`, '');
  out.push('![precision and recall per class](pr.png)', '');
  out.push('## Confusion', '', confusionSection(r.metrics.confusion), '');
  out.push(
    '## Clips',
    '',
    mdTable(
      ['clip', 'model', 'scored', 'TP', 'FP', 'FN', 'dup', 'frames', 'replay'],
      r.clips.map((c) => [
        c.id,
        c.model,
        c.scoredClasses.join(', ') || '—',
        String(c.tp),
        String(c.fp),
        String(c.fn),
        String(c.duplicates),
        String(c.frames),
        `${c.replaySec.toFixed(1)}s`,
      ]),
    ),
    '',
  );
  for (const c of r.clips) {
    if (c.rerunMismatch)
      out.push(
        `> **warning** (${c.id}): re-running the rules over recorded detections did not reproduce the replay (${c.rerunMismatch}); sweep numbers for this clip are suspect.`,
        '',
      );
    if (c.timeline) out.push(`### ${c.id}`, '', `![timeline ${c.id}](${c.timeline})`, '');
  }
  if (r.sweeps.length) {
    out.push(
      '## Threshold sweeps',
      '',
      'One threshold varied at a time over detections recorded once per clip; everything else as configured.',
      '',
    );
    for (const s of r.sweeps) {
      out.push(
        `### ${s.classId}.${s.param}`,
        '',
        `Configured on the clips: ${s.configured.length ? s.configured.join(', ') : 'catalog default'}.`,
        '',
      );
      out.push(
        mdTable(
          [s.param, 'P', 'R', 'F1', 'TP', 'FP', 'FN', 'dup', 'TTD mean'],
          s.rows.map(({ value, metrics: m }) => [
            String(value),
            fmtRatio(m.precision),
            fmtRatio(m.recall),
            fmtRatio(m.f1),
            String(m.tp),
            String(m.fp),
            String(m.fn),
            String(m.duplicates),
            fmtSec(m.meanTtdSec),
          ]),
        ),
        '',
      );
      if (s.plot) out.push(`![sweep ${s.classId}.${s.param}](${s.plot})`, '');
    }
  }
  return out.join('\n');
}
