// Evidence manifest: one JSON document per event that lets an auditor check what was kept and why
// (the debouncer's reason record, the models that saw it, and every file with size and sha256).
import type { ReasonRecord, ViolationEvent, EvidenceFile, EvidenceRef } from '../types.js';
import type { ClipClock } from '../source/recorder.js';
import type { ClipCoverage } from './clip.js';

export interface ModelInfo {
  name: string;
  sha256: string;
}

/** What the evidence is of, as the manifest records it (the event, or a case's verification window). */
export interface ManifestSubject {
  cameraId: string;
  eventId: string;
  /** Epoch ms of the event. */
  wallTime: number;
  caseId?: string;
  /** Why the evidence was gathered: a new case, a reappearance, a reopened case. */
  purpose?: string;
  episodeId?: string;
  classId?: string;
  transition?: ViolationEvent['transition'];
  streamTime?: number;
  clock: ClipClock;
  start: number;
  end: number;
  reason: ReasonRecord | null;
  extras?: Record<string, unknown>;
}

export interface EvidenceManifest {
  version: 1;
  caseId?: string;
  purpose?: string;
  eventId: string;
  episodeId?: string;
  cameraId: string;
  classId?: string;
  transition?: ViolationEvent['transition'];
  streamTime?: number;
  wallTime: number;
  createdAt: string;
  /** The requested window on the ring's clock (stream s or epoch ms), before pre/post-roll. */
  window: { clock: ClipClock; start: number; end: number };
  reason: ReasonRecord | null;
  extras?: Record<string, unknown>;
  models: ModelInfo[];
  /** What the clip covers and the ring segments it was cut from; null when no clip was attempted. */
  clip: { coverage: ClipCoverage; segments: string[] } | null;
  files: (EvidenceFile & { key?: string })[];
  /** Snapshot moments the ring could not supply. */
  missingSnapshots: string[];
}

export function buildManifest(opts: {
  subject: ManifestSubject;
  models: ModelInfo[];
  files: (EvidenceFile | EvidenceRef)[];
  clip?: { coverage: ClipCoverage; segments: string[] } | null;
  missingSnapshots?: string[];
  now?: Date;
}): EvidenceManifest {
  const s = opts.subject;
  for (const m of opts.models) {
    if (!/^[0-9a-f]{64}$/.test(m.sha256)) throw new Error(`manifest: model ${m.name} has no valid sha256 (got "${m.sha256}")`);
  }
  const optional = <K extends keyof ManifestSubject>(k: K) => (s[k] !== undefined ? { [k]: s[k] } : {});
  return {
    version: 1,
    ...optional('caseId'),
    ...optional('purpose'),
    eventId: s.eventId,
    ...optional('episodeId'),
    cameraId: s.cameraId,
    ...optional('classId'),
    ...optional('transition'),
    ...optional('streamTime'),
    wallTime: s.wallTime,
    createdAt: (opts.now ?? new Date()).toISOString(),
    window: { clock: s.clock, start: s.start, end: s.end },
    reason: s.reason,
    ...optional('extras'),
    models: opts.models,
    clip: opts.clip ?? null,
    files: opts.files.map((f) => ('file' in f ? { ...f.file, key: f.key } : f)),
    missingSnapshots: opts.missingSnapshots ?? [],
  } as EvidenceManifest;
}
