// Verification (核查): after a case is marked handled, the worker holding its camera watches the same
// class and zone for a window and decides verified (gone) or reopened (still there).
//
// Presence per analysed frame = the rules engine holds an episode of that class in that zone (any
// phase from candidate on) with a hit within the last ~2 frames. It reuses the engine's zone,
// stationarity and score rules, so "still there" means exactly what "violation" means. Counters live
// in Redis, so a failover mid-window continues the count instead of starting over. The window starts
// `verifyDelaySec` after the handled mark (the crew may still be in the picture clearing it up).
import type { Redis } from 'ioredis';
import type { RulesEngine } from '../pipeline/rules/engine.js';
import type { Frame } from '../pipeline/types.js';
import { Keys } from '../infra/redis.js';
import type { WorkerSettings } from '../infra/settings.js';
import { CaseTransitionError, type CaseRecord, type CaseStore } from '../infra/stores/case-store.js';

export interface VerificationWindow {
  /** Stable id of this verification round (handled timestamp), used in delivery keys. */
  id: string;
  caseId: string;
  classId: string;
  zoneId: string | null;
  startAt: number;
  endAt: number;
}

/** Pure decision: reopen when the violation was present in at least `ratio` of the observed frames. */
export function decide(present: number, total: number, ratio: number): 'verified' | 'reopened' | null {
  if (total <= 0) return null;
  return present / total >= ratio ? 'reopened' : 'verified';
}

/** The verification window of a handled case (from its last `handled` history entry). */
export function windowFor(c: CaseRecord, delaySec: number, windowSec: number): VerificationWindow | null {
  const handled = [...c.history].reverse().find((h) => h.to === 'handled');
  if (!handled) return null;
  const startAt = handled.at + delaySec * 1000;
  return { id: `v${handled.at}`, caseId: c.id, classId: c.classId, zoneId: c.zoneId, startAt, endAt: startAt + windowSec * 1000 };
}

/** How often a worker picks up handled cases for all the cameras it runs (one case-store query per round). */
export const VERIFY_REFRESH_MS = 3000;
/** A failing round is logged the first time, then once in this many in a row (at 3 s: once a minute). */
export const VERIFY_REFRESH_LOG_EVERY = 20;

/** A camera that verifies: receives its handled case ids each round. */
export interface VerificationTarget {
  refreshVerification(ids: readonly string[]): Promise<void>;
}

export interface VerificationRoundsOptions {
  cases: Pick<CaseStore, 'idsInStateByCamera'>;
  /** The cameras to refresh this round (those whose runner is running), by camera id. */
  targets: () => Iterable<readonly [string, VerificationTarget]>;
  log: (msg: string, extra?: Record<string, unknown>) => void;
  intervalMs?: number;
}

/**
 * The worker's verification rounds: every VERIFY_REFRESH_MS, ONE query for the handled cases of all
 * the cameras it runs, then each camera gets its own ids (a worker of 64 cameras used to send 21
 * queries a second, one per camera every 3 s). A failed round is retried at the next one; failures
 * are logged rate-limited and never thrown.
 */
export class VerificationRounds {
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;

  constructor(private readonly o: VerificationRoundsOptions) {}

  /** One round; resolves when every camera has taken its ids. Never rejects. */
  async round(): Promise<void> {
    const targets = new Map(this.o.targets());
    if (targets.size === 0) return;
    let byCamera: Map<string, string[]>;
    try {
      byCamera = await this.o.cases.idsInStateByCamera('handled', [...targets.keys()]);
    } catch (err) {
      this.warn('verification refresh failed; retrying next round', err, { cameras: targets.size });
      return;
    }
    const results = await Promise.allSettled([...targets].map(([id, t]) => t.refreshVerification(byCamera.get(id) ?? [])));
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed < 0) this.failures = 0;
    else
      this.warn('verification refresh of a camera failed; retrying next round', (results[failed] as PromiseRejectedResult).reason, {
        camera: [...targets.keys()][failed],
      });
  }

  /** Starts the timer; a round still running when the next is due is not overlapped (that one is skipped). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.inFlight) return;
      this.inFlight = this.round()
        .catch((err) => this.warn('verification round failed', err, {}))
        .finally(() => (this.inFlight = null));
    }, this.o.intervalMs ?? VERIFY_REFRESH_MS);
  }

  /** Stops the timer and waits for a running round. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  private warn(msg: string, err: unknown, extra: Record<string, unknown>): void {
    if (this.failures++ % VERIFY_REFRESH_LOG_EVERY === 0)
      this.o.log(msg, { ...extra, error: (err as Error)?.message ?? String(err), failures: this.failures });
  }
}

export interface VerifierOptions {
  cameraId: string;
  cases: CaseStore;
  redis: Redis;
  prefix: string;
  settings: Pick<WorkerSettings, 'verifyDelaySec' | 'verifyWindowSec' | 'verifyPresenceRatio'>;
  fps: number;
  onDecision: (c: CaseRecord, result: 'verified' | 'reopened', window: VerificationWindow) => void;
  log: (msg: string, extra?: Record<string, unknown>) => void;
}

export class Verifier {
  private windows = new Map<string, VerificationWindow>();
  private deciding = new Set<string>();
  private readonly keys: Keys;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: VerifierOptions) {
    this.keys = new Keys(o.prefix);
  }

  private counterKey(w: VerificationWindow): string {
    return this.keys.k('verify', w.caseId, w.id);
  }

  /**
   * Picks up cases of this camera that are in state handled (the state itself is the trigger).
   * `ids`: this camera's handled case ids, already fetched by the worker's round for all its
   * cameras (then nothing is queried for the list); without them the camera asks for itself.
   */
  async refresh(ids?: readonly string[]): Promise<void> {
    ids ??= (await this.o.cases.idsInStateByCamera('handled', [this.o.cameraId])).get(this.o.cameraId) ?? [];
    const live = new Set(ids);
    for (const id of this.windows.keys()) if (!live.has(id)) this.windows.delete(id);
    for (const id of ids) {
      if (this.windows.has(id)) continue;
      const c = await this.o.cases.get(id);
      if (!c || c.state !== 'handled') continue;
      const w = windowFor(c, this.o.settings.verifyDelaySec, this.o.settings.verifyWindowSec);
      if (w) this.windows.set(id, w);
    }
  }

  /** Ids of the cases under verification (window pending or running), in id order. */
  watching(): string[] {
    return [...this.windows.keys()].sort();
  }

  /** Called for every analysed frame after the engine has processed it. */
  observe(frame: Frame, engine: RulesEngine): void {
    if (this.windows.size === 0) return;
    const now = frame.wallTime;
    const tolerance = Math.max(1.5, 2.5 / this.o.fps);
    for (const w of this.windows.values()) {
      if (now < w.startAt || this.deciding.has(w.caseId)) continue;
      if (now < w.endAt) {
        const present = engine
          .openEpisodes()
          .some(
            (e) => e.classId === w.classId && e.zoneId === w.zoneId && e.lastSeen !== null && frame.streamTime - e.lastSeen <= tolerance,
          );
        const key = this.counterKey(w);
        this.writes = this.writes.then(() =>
          this.o.redis
            .multi()
            .hincrby(key, 'total', 1)
            .hincrby(key, 'present', present ? 1 : 0)
            .pexpire(key, 7 * 24 * 3600 * 1000)
            .exec()
            .catch(() => undefined),
        );
        continue;
      }
      this.deciding.add(w.caseId);
      void this.finish(w).finally(() => this.deciding.delete(w.caseId));
    }
  }

  private async finish(w: VerificationWindow): Promise<void> {
    await this.writes;
    const h = await this.o.redis.hgetall(this.counterKey(w));
    const present = Number(h.present ?? 0);
    const total = Number(h.total ?? 0);
    const result = decide(present, total, this.o.settings.verifyPresenceRatio);
    if (!result) {
      // Nothing observed (camera down during the window): look again for another window.
      const span = w.endAt - w.startAt;
      this.windows.set(w.caseId, { ...w, startAt: w.endAt, endAt: w.endAt + span });
      this.o.log('verification window had no frames; extending', { caseId: w.caseId });
      return;
    }
    const pct = Math.round((100 * present) / total);
    try {
      const c = await this.o.cases.transition(w.caseId, result, {
        expectFrom: 'handled',
        actor: `camera:${this.o.cameraId}`,
        reason: `verification: violation present in ${present}/${total} frames (${pct}%) between ${new Date(w.startAt).toISOString()} and ${new Date(w.endAt).toISOString()}; threshold ${this.o.settings.verifyPresenceRatio * 100}%`,
        verification: {
          startAt: w.startAt,
          endAt: w.endAt,
          presenceRatio: this.o.settings.verifyPresenceRatio,
          present,
          total,
          result,
          decidedAt: Date.now(),
        },
      });
      this.windows.delete(w.caseId);
      this.o.log(`case ${result}`, { caseId: w.caseId, present, total });
      this.o.onDecision(c, result, w);
    } catch (err) {
      // Someone else (an operator, another worker after failover) moved the case on: nothing to do.
      if (err instanceof CaseTransitionError) this.windows.delete(w.caseId);
      else throw err;
    }
  }
}
