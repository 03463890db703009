// One camera on one worker: source → detect (+ static-change, + OCR where zones need them) → track
// and rules → events. Events become warnings, cases and evidence jobs; camera state becomes health
// events; handled cases of this camera are verified against what the camera sees now.
//
// Detection never waits on Redis or the platform: events go through an ordered per-camera chain
// that runs beside the frame loop, and evidence/delivery are separate queues.
import { mkdir } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { CameraAnalyzer, sourceRegions } from '../pipeline/analyzer.js';
import { backoffDelay } from '../pipeline/backoff.js';
import { sharedSession } from '../pipeline/detect/session.js';
import { analyseInTurn, workerTurns } from './analysis-turns.js';
import { sourceForModel, sourceTiling } from '../pipeline/detect/stream.js';
import { TextDetector } from '../pipeline/detect/text/index.js';
import { recordCase, recordDropped, recordEvent, recordFrame, recordFrameAge, setCameraGauges } from '../infra/metrics-shared.js';
import { getClass } from '../pipeline/rules/catalog.js';
import { auxiliaryDetectors } from '../pipeline/rules/labels.js';
import { decideCase, evidenceAfterCreate, needsEpisodeCase, wallAt } from '../pipeline/rules/case-policy.js';
import type { DecodeDecision, FrameSource, SourceState } from '../pipeline/source/ffmpeg-source.js';
import { Recorder, ringDirOf } from '../pipeline/source/recorder.js';
import { stallVerdict } from '../pipeline/source/watchdog.js';
import { checkInput, type Resolver } from '../pipeline/source/address-policy.js';
import { isLiveInput, scrubSecrets, secretsSpec } from '../pipeline/source/input-url.js';
import type { ModelInfo } from '../pipeline/evidence/manifest.js';
import type { ViolationEvent } from '../pipeline/types.js';
import type { DeliveryService } from '../infra/delivery/delivery.js';
import type { EvidenceService, EvidencePurpose } from './evidence.js';
import type { WorkerSettings } from '../infra/settings.js';
import type { CameraRecord } from '../infra/stores/camera-store.js';
import type { CaseRecord, CaseStore } from '../infra/stores/case-store.js';
import type { HealthState, HealthStore } from '../infra/stores/health-store.js';
import type { NoticeStore } from '../infra/stores/notice-store.js';
import { Verifier } from './verification.js';
import { DEFAULT_LIVE_OPTIONS, LivePublisher } from './live.js';
import { LiveStore } from '../infra/stores/live-store.js';

export interface RunnerDeps {
  settings: WorkerSettings;
  redis: Redis;
  cases: CaseStore;
  /** Warning-stage notices (optional: without it warnings are only delivered). */
  notices?: NoticeStore;
  health: HealthStore;
  delivery: DeliveryService;
  evidence: EvidenceService;
  log: (msg: string, extra?: Record<string, unknown>) => void;
  /** Name resolution for the address policy (tests inject one; default: the system resolver). */
  resolve?: Resolver;
}

export type Log = RunnerDeps['log'];

/** A config change the running engine can take (zones, thresholds, schedules) vs one that needs a restart. */
export function needsRestart(a: CameraRecord, b: CameraRecord): boolean {
  if (a.url !== b.url || String(a.secretParams) !== String(b.secretParams)) return true;
  if ((a.detectUrl ?? null) !== (b.detectUrl ?? null)) return true;
  if (JSON.stringify(a.config.analysis) !== JSON.stringify(b.config.analysis)) return true;
  const x = auxiliaryDetectors(a.config);
  const y = auxiliaryDetectors(b.config);
  return x.static !== y.static || x.text !== y.text;
}

let textDetector: Promise<TextDetector> | null = null;
function sharedTextDetector(): Promise<TextDetector> {
  textDetector ??= TextDetector.create({ threads: 1 });
  return textDetector;
}

export class CameraRunner {
  camera: CameraRecord;
  private source: FrameSource | null = null;
  private recorder: Recorder | null = null;
  private analyzer: CameraAnalyzer | null = null;
  private verifier: Verifier | null = null;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private chain: Promise<void> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private readonly runEpoch = Date.now();
  private frames = 0;
  private lastFrameAt: number | null = null;
  private recorderStartedAt = 0;
  private recorderRestartedAt = 0;
  /** Epoch ms the frame source last came online (null while it is not). */
  private onlineSince: number | null = null;
  private recorderRestarts = 0;
  private lastHealth: HealthState | null = null;
  private fpsWindow = { at: Date.now(), frames: 0 };
  private analysedFps: number | null = null;
  /** Pixel size of the analysed stream (boxes are in it); the recorded main stream may differ. */
  private detectSize: { width: number; height: number } | null = null;
  /** The detector model (name + sha256) for evidence manifests. */
  private models: ModelInfo[] = [];
  /** Set when the frame loop ended by itself (file input at EOF, or a fatal error). */
  finished = false;
  readonly ringDir: string;
  /** Live debug record for the operator console (null when LIVE_FRAME_INTERVAL_SEC is 0). */
  readonly live: LivePublisher | null;

  constructor(
    camera: CameraRecord,
    private readonly d: RunnerDeps,
  ) {
    this.camera = camera;
    this.ringDir = ringDirOf(d.settings.dataDir, camera.id);
    const s = d.settings;
    const live = {
      intervalSec: s.liveFrameIntervalSec ?? DEFAULT_LIVE_OPTIONS.intervalSec,
      ttlSec: s.liveTtlSec ?? DEFAULT_LIVE_OPTIONS.ttlSec,
      maxWidth: s.liveFrameMaxWidth ?? DEFAULT_LIVE_OPTIONS.maxWidth,
      quality: s.liveJpegQuality ?? DEFAULT_LIVE_OPTIONS.quality,
      watchSec: s.liveWatchSec ?? DEFAULT_LIVE_OPTIONS.watchSec,
    };
    this.live = live.intervalSec > 0 ? new LivePublisher(new LiveStore(d.redis, s.prefix), live, d.log) : null;
  }

  get version(): number {
    return this.camera.version;
  }

  private ringMaxBytes: number | null = null;

  /** The worker's ring disk budget is split over the cameras it holds; this camera's part changed. */
  setRingMaxBytes(bytes: number): void {
    this.ringMaxBytes = bytes;
    this.recorder?.setMaxBytes(bytes);
  }

  /** Qualified idempotency key: the engine's episode id is unique within one stream timeline, which restarts with each runner. */
  episodeKey(episodeId: string): string {
    return `${this.camera.id}:${this.runEpoch.toString(36)}:${episodeId}`;
  }

  async start(): Promise<void> {
    const { settings } = this.d;
    const cfg = this.camera.config;
    // Off the event loop: ffmpeg pipes, segment lists and leases are served while a run is in flight.
    const session = await sharedSession(cfg.analysis.model, {
      threads: settings.inferThreads,
      maxConcurrent: settings.inferConcurrency,
      offThread: true,
    });
    const manifest = session.manifest;
    this.models = [{ name: manifest.name, sha256: manifest.sha256 }];
    const aux = auxiliaryDetectors(cfg);
    const text = aux.text
      ? await sharedTextDetector().catch(
          (err: Error) => (this.d.log('OCR unavailable; text classes inactive', { camera: this.camera.id, error: err.message }), null),
        )
      : null;
    // The same composition as replays and `citywatch analyze`, so a live camera decides like a replay.
    const analyzer = await CameraAnalyzer.create(cfg, { session, textDetector: text, textIntervalSec: settings.textIntervalSec });
    this.analyzer = analyzer;

    await mkdir(this.ringDir, { recursive: true });
    const isFile = !isLiveInput(this.camera.url);
    const live = !isFile;
    // One connection per camera: the recorder's segment output rides on the frame source's ffmpeg
    // run. A separate analysis stream (detectUrl, the camera's substream) is a second connection by
    // design, so then the recorder runs its own ffmpeg on the main stream.
    const detectUrl = this.camera.detectUrl && this.camera.detectUrl !== this.camera.url ? this.camera.detectUrl : null;
    // The address policy runs before any connection; recorder and source connect to the address
    // it checked (DNS pinning). A refusal (link-local, metadata) fails the start with the rule named.
    const policy = { purpose: 'camera', resolve: this.d.resolve } as const;
    const { spec } = await checkInput(this.camera.url, policy, { secretParams: this.camera.secretParams });
    const detectSpec = detectUrl ? (await checkInput(detectUrl, policy, { secretParams: this.camera.secretParams })).spec : spec;
    this.recorder = new Recorder({
      cameraId: this.camera.id,
      input: this.camera.url,
      spec,
      dir: this.ringDir,
      segmentSec: settings.segmentSec,
      maxBytes: this.ringMaxBytes ?? settings.ringMaxBytes,
      maxAgeSec: settings.ringMaxAgeSec,
      realtime: isFile,
      attached: !detectUrl,
    });
    this.recorder.on('error', (err) => this.d.log('recorder error', { camera: this.camera.id, error: this.scrub(err.message) }));
    this.recorder.on('restart', (r) => this.d.log('recorder restarted', { camera: this.camera.id, code: r.code, delayMs: r.delayMs }));
    await this.recorder.start();
    this.recorderStartedAt = Date.now();
    if (this.stopping) {
      // Stopped (lease lost, drain) while setting up.
      await this.recorder.stop().catch(() => undefined);
      return;
    }

    this.verifier = new Verifier({
      cameraId: this.camera.id,
      cases: this.d.cases,
      redis: this.d.redis,
      prefix: settings.prefix,
      settings,
      fps: cfg.analysis.fps,
      onDecision: (c, result, window) => this.enqueue(() => this.afterVerification(c, result, window)),
      log: this.d.log,
    });

    const source = sourceForModel(manifest, {
      input: detectUrl ?? this.camera.url,
      spec: detectSpec,
      fps: cfg.analysis.fps,
      decode: cfg.analysis.keyframesOnly ? 'keyframes' : cfg.analysis.decode,
      tiling: sourceTiling(cfg.analysis.tiling),
      // Text zones also arrive at source resolution for OCR (cut when the session starts; a zone
      // moved by a hot reload is read in the model frame until the next reconnect).
      ...sourceRegions(cfg),
      realtime: isFile,
      recorder: detectUrl ? undefined : this.recorder,
      // Live: the newest picture matters; a deeper queue only adds frame age.
      queueCapacity: 2,
    });
    this.source = source;
    source.on('state', (s: SourceState) => this.onSourceState(s));
    source.on('decode', (d: DecodeDecision) => this.d.log('camera decode mode', { camera: this.camera.id, ...d }));
    this.timers.push(setInterval(() => void this.heartbeat(), settings.heartbeatSec * 1000));
    this.timers.push(setInterval(() => this.watchRecorder(), RECORDER_CHECK_MS));
    // Later refreshes come from the worker's verification round (one query for all its cameras).
    void this.verifier.refresh().catch(() => undefined);

    this.loop = (async () => {
      try {
        const turns = workerTurns(settings.inferConcurrency);
        // Live: frames decoded while this camera waited for its turn replace the one handed (files
        // analyse every frame).
        const newest = () => (live ? source.takeNewest() : undefined);
        for await (const handed of source.frames()) {
          if (this.stopping) break;
          await analyseInTurn(turns, handed, newest, async (frame) => {
            if (this.stopping) return;
            const t0 = performance.now();
            const { events, detections } = await analyzer.process(frame);
            const decidedAt = Date.now();
            recordFrame(this.camera.id, performance.now() - t0, this.takeDropped());
            recordFrameAge(this.camera.id, (decidedAt - (frame.captureWall ?? frame.wallTime)) / 1000);
            this.frames++;
            this.lastFrameAt = decidedAt;
            this.detectSize = { width: frame.letterbox.srcWidth, height: frame.letterbox.srcHeight };
            for (const ev of events) {
              recordEvent(ev.classId, ev.transition);
              this.enqueue(() => this.onEvent(ev));
            }
            this.verifier!.observe(frame, analyzer.rules);
            this.live?.offer(this.camera, frame, detections, analyzer.rules);
          });
        }
      } catch (err) {
        this.d.log('frame loop failed', { camera: this.camera.id, error: (err as Error).message });
      } finally {
        if (!this.stopping) this.finished = true;
      }
    })();
    this.d.log('camera started', {
      camera: this.camera.id,
      worker: settings.workerId,
      static: aux.static,
      text: !!text,
      model: manifest.name,
    });
  }

  /**
   * Resolves once the stream is up, has failed a first time, or after `timeoutMs` (the worker holds
   * a start slot until then).
   */
  connected(timeoutMs: number): Promise<void> {
    const src = this.source;
    if (!src || this.stopping) return Promise.resolve();
    const settled = (s: SourceState) => s.state !== 'connecting';
    if (settled(src.state)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        src.off('state', on);
        resolve();
      };
      const on = (s: SourceState) => settled(s) && done();
      const t = setTimeout(done, timeoutMs);
      src.on('state', on);
    });
  }

  /** Hot reload of zones/thresholds/schedules (caller restarts the runner when needsRestart()). */
  applyConfig(cam: CameraRecord): void {
    this.analyzer?.setConfig(cam.config);
    this.camera = cam;
    this.d.log('camera config reloaded', { camera: cam.id, version: cam.version });
  }

  /** True while this camera verifies handled cases (set up and not stopping): the worker's round includes it. */
  get verifying(): boolean {
    return this.verifier !== null && !this.stopping;
  }

  /** This camera's handled case ids, from the worker's verification round. */
  async refreshVerification(ids: readonly string[]): Promise<void> {
    if (this.verifying) await this.verifier!.refresh(ids);
  }

  /** Stops analysis; open episodes are not flushed (the next holder of the camera carries on). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.source?.stop().catch(() => undefined);
    await this.loop;
    await this.recorder?.stop().catch(() => undefined);
    await this.chain;
    await this.heartbeat().catch(() => undefined);
  }

  private enqueue(task: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      // Redis outages are waited out by the connection; other failures are retried a few times,
      // then logged: a lost warning is better than a stuck camera.
      for (let attempt = 1; ; attempt++) {
        try {
          await task();
          return;
        } catch (err) {
          if (attempt >= 5) {
            this.d.log('event handling failed', { camera: this.camera.id, error: (err as Error).message });
            return;
          }
          await new Promise((r) => setTimeout(r, backoffDelay(attempt, { initialMs: 500, maxMs: 8000 })));
        }
      }
    });
  }

  /**
   * Carries out what the case policy (pipeline/rules/case-policy.ts) decides for an event: the
   * runner asks the case store what the policy needs and does the I/O, nothing more.
   */
  private async onEvent(ev: ViolationEvent): Promise<void> {
    const key = this.episodeKey(ev.episodeId);
    const def = getClass(ev.classId);
    const zone = this.camera.config.zones.find((z) => z.id === ev.reason.zoneId);
    const episodeCase = needsEpisodeCase(ev) ? await this.d.cases.getByEpisode(key) : null;
    const d = decideCase(ev, episodeCase, key);
    switch (d.action) {
      case 'none':
        return;
      case 'notice': {
        const notice = await this.d.notices?.open({
          episodeKey: key,
          cameraId: this.camera.id,
          classId: def.id,
          zoneId: ev.reason.zoneId,
          graceSec: d.graceSec,
          details: { nameZh: def.nameZh, zoneName: zone?.name, boxes: ev.boxes, reason: ev.reason },
        });
        await this.d.delivery.enqueue({
          type: 'violation.warning',
          idempotencyKey: `violation.warning:${key}`,
          data: {
            episodeKey: key,
            noticeId: notice?.notice.id,
            graceUntil: notice?.notice.graceUntil,
            cameraId: this.camera.id,
            cameraName: this.camera.name,
            classId: def.id,
            nameZh: def.nameZh,
            nameEn: def.nameEn,
            urgency: def.urgency,
            zoneId: ev.reason.zoneId,
            zoneName: zone?.name,
            firstSeenAt: wallAt(ev, ev.start),
            at: ev.wallTime,
            boxes: ev.boxes,
            reason: ev.reason,
            extras: ev.extras,
          },
        });
        return;
      }
      case 'create': {
        const { case: c, outcome } = await this.d.cases.create({
          idempotencyKey: key,
          cameraId: this.camera.id,
          cameraName: this.camera.name,
          timezone: this.camera.config.camera.timezone,
          classId: ev.classId,
          zoneId: ev.reason.zoneId,
          zoneName: zone?.name,
          zoneType: ev.reason.zoneType,
          firstSeenAt: d.firstSeenAt,
          lastSeenAt: d.lastSeenAt,
          boxes: ev.boxes,
          reason: ev.reason,
          // The pixel size the boxes are in, so a box can be normalised later (suppressions).
          extras: this.detectSize ? { ...ev.extras, boxSpace: this.detectSize } : ev.extras,
          mergeWindowMs: d.mergeWindowMs,
          mergeIou: d.mergeIou,
        });
        this.d.log(`case ${outcome}`, { camera: this.camera.id, caseId: c.id, classId: c.classId, episode: key });
        void recordCase(c.classId, outcome);
        await this.d.notices?.escalate(key, c.id).catch(() => undefined);
        const purpose = evidenceAfterCreate(outcome);
        if (purpose) await this.queueEvidence(c, ev, purpose, ev.id);
        return;
      }
      case 'merge': {
        const merged = await this.d.cases.addReappearance(d.caseId, d.details, ev.boxes);
        await this.queueEvidence(merged, ev, 'reappearance', ev.id);
        return;
      }
      case 'touch':
        await this.d.cases.touch(d.caseId, d.lastSeenAt);
        return;
      case 'resolve-notice': {
        // Left within the grace period: the notice is resolved and no case is opened.
        const resolved = await this.d.notices?.resolve(key).catch(() => null);
        if (resolved) await this.d.delivery.enqueue({ type: 'notice.resolved', idempotencyKey: `notice.resolved:${key}`, data: resolved });
        return;
      }
    }
  }

  private async queueEvidence(c: CaseRecord, ev: ViolationEvent, purpose: EvidencePurpose, eventId: string): Promise<void> {
    const s = this.d.settings;
    const clock = this.recorder!.clock;
    let start: number;
    let end: number;
    let readyIn: number;
    if (clock === 'wall') {
      end = ev.wallTime;
      start = Math.max(wallAt(ev, ev.start), end - s.maxClipSec * 1000);
      readyIn = end + (s.postRollSec + 2 * s.segmentSec + 1) * 1000 - Date.now();
    } else {
      end = ev.streamTime;
      start = Math.max(ev.start, end - s.maxClipSec);
      readyIn = (s.postRollSec + 2 * s.segmentSec + 1) * 1000;
    }
    await this.d.evidence.enqueue(
      {
        ...this.evidenceOf(c, ev.reason.zoneId),
        timezone: this.camera.config.camera.timezone,
        eventId,
        purpose,
        clock,
        start,
        end,
        snapshotAt: end,
        wallTime: ev.wallTime,
        boxes: ev.boxes,
        episodeId: this.episodeKey(ev.episodeId),
        reason: ev.reason,
        preRollSec: s.preRollSec,
        postRollSec: s.postRollSec,
      },
      readyIn,
    );
  }

  /** What every evidence job of a case on this camera carries: where the ring is, how to label and draw it, which model saw it. */
  private evidenceOf(c: CaseRecord, zoneId: string | null) {
    const zone = this.camera.config.zones.find((z) => z.id === zoneId);
    return {
      caseId: c.id,
      cameraId: this.camera.id,
      classId: c.classId,
      classLabel: `${c.nameZh} ${c.nameEn}`,
      cameraLabel: this.camera.name,
      zonePolygon: zone ? zone.polygon.map((p) => [p[0], p[1]] as const) : null,
      zoneLabel: zone?.name ?? zoneId ?? undefined,
      boxSpace: this.detectSize,
      models: this.models,
      ringDir: this.ringDir,
    };
  }

  /** After a verification decision: reopened cases get fresh evidence of the window; verified ones are announced. */
  private async afterVerification(
    c: CaseRecord,
    result: 'verified' | 'reopened',
    window: { startAt: number; endAt: number; id: string },
  ): Promise<void> {
    const s = this.d.settings;
    if (result === 'verified') {
      await this.d.delivery.enqueue({ type: 'case.verified', idempotencyKey: `case.verified:${c.id}:${window.id}`, data: { case: c } });
      return;
    }
    const clock = this.recorder?.clock ?? 'wall';
    if (clock !== 'wall') {
      await this.d.delivery.enqueue({ type: 'case.reopened', idempotencyKey: `case.reopened:${c.id}:${window.id}`, data: { case: c } });
      return;
    }
    await this.d.evidence.enqueue(
      {
        ...this.evidenceOf(c, c.zoneId),
        timezone: c.timezone,
        eventId: window.id,
        purpose: 'reopen',
        clock,
        start: window.startAt,
        end: window.endAt,
        snapshotAt: window.endAt,
        wallTime: window.endAt,
        boxes: c.boxes,
        reason: c.reason,
        preRollSec: 0,
        postRollSec: 0,
      },
      window.endAt + (2 * s.segmentSec + 1) * 1000 - Date.now(),
    );
  }

  private onSourceState(s: SourceState): void {
    const map: Record<SourceState['state'], HealthState> = {
      connecting: 'connecting',
      online: 'online',
      stalled: 'stalled',
      offline: 'offline',
      ended: 'offline',
      failed: 'offline',
    };
    const state = map[s.state];
    if (s.state === 'online') this.onlineSince ??= s.since;
    else this.onlineSince = null;
    const reason = s.state === 'ended' || s.state === 'failed' ? `${s.state}: ${s.reason ?? ''}` : (s.reason ?? null);
    this.lastHealth = state;
    this.enqueue(() => this.reportHealth(state, reason, s.since));
  }

  /** Removes this camera's secrets (userinfo, secret query values) from text bound for any output. */
  scrub(text: string): string {
    return scrubSecrets(text, secretsSpec(this.camera.url, this.camera.secretParams));
  }

  /** Stores the state; a change is sent to the platform as a camera.health event. */
  async reportHealth(state: HealthState, rawReason: string | null, since: number): Promise<void> {
    // Reasons come from ffmpeg and OS errors, which echo the stream URL: scrub before state, log and webhook.
    const reason = rawReason === null ? null : this.scrub(rawReason);
    const changed = await this.d.health.setState(this.camera.id, state, { reason, since, workerId: this.d.settings.workerId });
    if (!changed) return;
    this.d.log('camera health', { camera: this.camera.id, state, reason });
    await this.d.delivery.enqueue({
      type: 'camera.health',
      idempotencyKey: `camera.health:${this.camera.id}:${since}:${state}`,
      data: { cameraId: this.camera.id, name: this.camera.name, state, reason, since, workerId: this.d.settings.workerId },
    });
  }

  private async heartbeat(): Promise<void> {
    const now = Date.now();
    const span = (now - this.fpsWindow.at) / 1000;
    if (span >= 1) {
      this.analysedFps = Math.round(((this.frames - this.fpsWindow.frames) / span) * 1000) / 1000;
      this.fpsWindow = { at: now, frames: this.frames };
    }
    const d = this.source?.decode ?? null;
    const analysis = {
      decode: d?.mode ?? null,
      decodeReason: d?.reason ?? null,
      keyframeInterval: d?.keyframeInterval ?? null,
      effectiveFps: d?.effectiveFps ?? null,
      analysedFps: this.analysedFps,
    };
    void setCameraGauges(this.camera.id, { fps: this.analysedFps ?? 0, skippedFps: this.skippedFps(), decode: d?.mode ?? null });
    // A consumer stuck on one frame (slow OCR, a starved core) still has its drops counted now.
    void recordDropped(this.camera.id, this.takeDropped());
    await this.d.health.heartbeat(this.camera.id, {
      workerId: this.d.settings.workerId,
      lastFrameAt: this.lastFrameAt,
      frames: this.frames,
      lastSegmentAt: this.recorder?.lastSegmentAt ?? null,
      recorderRestarts: this.recorderRestarts,
      analysis,
    });
  }

  /** Source drops already counted in the frames_dropped metric. */
  private reportedDropped = 0;
  /** Drops since the last report (with an analysed frame, or by the heartbeat while analysis is stuck). */
  private takeDropped(): number {
    const total = this.source?.stats.dropped ?? 0;
    const n = Math.max(0, total - this.reportedDropped);
    this.reportedDropped = total;
    return n;
  }

  private lastSkipped = { at: Date.now(), dropped: 0, fps: 0 };
  /** Frames per second the source dropped because analysis did not keep up (Frigate's skipped_fps). */
  private skippedFps(): number {
    const now = Date.now();
    const dropped = this.source?.stats.dropped ?? 0;
    const span = (now - this.lastSkipped.at) / 1000;
    if (span >= 1) this.lastSkipped = { at: now, dropped, fps: Math.round(((dropped - this.lastSkipped.dropped) / span) * 1000) / 1000 };
    return this.lastSkipped.fps;
  }

  /** When the next recorder check is due (the check runs every RECORDER_CHECK_MS). */
  private recorderCheckDueAt: number | null = null;
  /** Start of the window the recorder is judged on after node itself was held up. */
  private recorderGraceFrom = 0;

  /** A recorder with no segment for 2 × segment length + 30 s is restarted. */
  private watchRecorder(): void {
    const r = this.recorder;
    if (!r || this.stopping) return;
    const now = Date.now();
    const dueAt = this.recorderCheckDueAt ?? now;
    this.recorderCheckDueAt = now + RECORDER_CHECK_MS;
    let ref = Math.max(r.lastListedAt ?? 0, this.recorderStartedAt, this.recorderRestartedAt, this.recorderGraceFrom);
    if (r.opts.attached) {
      // The recorder rides on the frame source's run: while the source is reconnecting there is no
      // run to restart (killing the next one as it connects would keep the camera down for good);
      // once frames flow, segments must follow within the same bound.
      if (this.onlineSince === null) return;
      ref = Math.max(ref, this.onlineSince);
    }
    const verdict = stallVerdict({ now, dueAt, lastProgressAt: ref, timeoutMs: recorderStallMs(this.d.settings.segmentSec) });
    if (verdict === 'node-lagging') {
      // This check ran late: node was starved, and ffmpeg waited on pipes node did not read. A
      // restart would only add a reconnect to the overload; judge a window from now instead.
      this.recorderGraceFrom = now;
      this.recorderLagSkips++;
      if (now - this.lagLoggedAt >= 60_000) {
        this.lagLoggedAt = now;
        this.d.log('recorder check held off: node lagging', {
          camera: this.camera.id,
          lateMs: now - dueAt,
          skips: this.recorderLagSkips,
          sourceRearms: this.source?.stats.lagRearms ?? 0,
        });
      }
      return;
    }
    if (verdict === 'stalled') {
      // Read segment-list lines that arrived while the event loop was held up before judging.
      setImmediate(() => this.restartStalledRecorder(ref));
    }
  }

  /** Recorder checks skipped because node was held up (in the heartbeat). */
  private recorderLagSkips = 0;
  private lagLoggedAt = 0;

  private restartStalledRecorder(ref: number): void {
    const r = this.recorder;
    if (!r || this.stopping) return;
    const now = Date.now();
    if ((r.lastListedAt ?? 0) > ref) return;
    this.recorderRestartedAt = now;
    this.recorderRestarts++;
    this.d.log('recorder stalled; restarting', { camera: this.camera.id, lastSegmentAt: r.lastSegmentAt, lastListedAt: r.lastListedAt });
    r.restart();
  }

  get status(): {
    cameraId: string;
    frames: number;
    lastFrameAt: number | null;
    health: HealthState | null;
    finished: boolean;
    decode: DecodeDecision | null;
    analysedFps: number | null;
  } {
    return {
      cameraId: this.camera.id,
      frames: this.frames,
      lastFrameAt: this.lastFrameAt,
      health: this.lastHealth,
      finished: this.finished,
      decode: this.source?.decode ?? null,
      analysedFps: this.analysedFps,
    };
  }
}

const RECORDER_CHECK_MS = 5000;

/** The recorder stall bound: no segment for 2 × segment length + 30 s since the last one or a (re)start. */
export function recorderStallMs(segmentSec: number): number {
  return 2 * segmentSec * 1000 + 30_000;
}
