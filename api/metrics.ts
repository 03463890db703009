// /metrics: the API process' own metrics plus the deployment-wide counters workers publish into
// Redis (infra/metrics-shared.ts), BullMQ queue depths and camera states, in Prometheus text format.
import type { Redis } from 'ioredis';
import { collectDefaultMetrics, Registry } from 'prom-client';
import {
  FRAME_AGE_BUCKETS_S,
  INFERENCE_BUCKETS_MS,
  readGauges,
  readSharedMetric,
  SHARED_METRICS,
  type Labels,
} from '../infra/metrics-shared.js';

interface MetricValue {
  labels: Labels;
  value: number;
  metricName?: string;
}

interface CustomMetric {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum';
  collectValues(): Promise<MetricValue[]>;
}

/** Adapter: prom-client's registry accepts any object with name + get(). */
function custom(m: CustomMetric) {
  return {
    name: m.name,
    help: m.help,
    type: m.type,
    aggregator: m.aggregator,
    async get() {
      return { name: m.name, help: m.help, type: m.type, aggregator: m.aggregator, values: await m.collectValues() };
    },
  };
}

export interface QueueLike {
  name: string;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
}

export interface MetricsSources {
  redis: Redis;
  prefix?: string;
  queues: readonly QueueLike[];
  /** Camera id → state (from the health store). */
  cameraStates(): Promise<{ cameraId: string; state: string }[]>;
  knownStates: readonly string[];
}

export function createMetricsRegistry(src: MetricsSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'citywatch_api_' });
  const counter = (name: string, metric: string, help: string, rename?: (l: Labels) => Labels) =>
    registry.registerMetric(
      custom({
        name,
        help,
        type: 'counter',
        aggregator: 'sum',
        collectValues: async () =>
          (await readSharedMetric(src.redis, src.prefix, metric)).map((s) => ({
            labels: rename ? rename(s.labels) : s.labels,
            value: s.value,
          })),
      }) as never,
    );
  counter('citywatch_frames_analysed_total', SHARED_METRICS.frames, 'Frames analysed by the workers, per camera');
  counter('citywatch_frames_dropped_total', SHARED_METRICS.dropped, 'Frames dropped by live sources (consumer too slow), per camera');
  counter('citywatch_events_total', SHARED_METRICS.events, 'Violation events (debounce transitions), per class and transition');
  counter('citywatch_cases_total', SHARED_METRICS.cases, 'Case store outcomes (created/merged/existing), per class');
  counter('citywatch_delivery_attempts_total', SHARED_METRICS.deliveries, 'Webhook delivery attempts, per result');
  counter('citywatch_replays_total', SHARED_METRICS.replays, 'Replay jobs finished, per result');

  // Histograms stored as non-cumulative buckets per camera (see metrics-shared.ts); `scale` turns the
  // stored unit into seconds and the bucket bounds into their exposed values.
  const histogram = (name: string, metric: string, help: string, bounds: readonly number[], scale: number) =>
    registry.registerMetric(
      custom({
        name,
        help,
        type: 'histogram',
        aggregator: 'sum',
        collectValues: async () => {
          const series = await readSharedMetric(src.redis, src.prefix, metric);
          const byCam = new Map<string, { buckets: Map<string, number>; sum: number; count: number }>();
          for (const s of series) {
            const cam = s.labels.camera ?? '';
            const e = byCam.get(cam) ?? { buckets: new Map(), sum: 0, count: 0 };
            byCam.set(cam, e);
            if (s.labels.le) e.buckets.set(s.labels.le, (e.buckets.get(s.labels.le) ?? 0) + s.value);
            else if (s.labels.stat === 'sum') e.sum = s.value;
            else if (s.labels.stat === 'count') e.count = s.value;
          }
          const out: MetricValue[] = [];
          for (const [camera, e] of byCam) {
            let acc = 0;
            for (const b of bounds) {
              acc += e.buckets.get(String(b)) ?? 0;
              out.push({ metricName: `${name}_bucket`, labels: { camera, le: String(b * scale) }, value: acc });
            }
            acc += e.buckets.get('+Inf') ?? 0;
            out.push({ metricName: `${name}_bucket`, labels: { camera, le: '+Inf' }, value: acc });
            out.push({ metricName: `${name}_sum`, labels: { camera }, value: e.sum * scale });
            out.push({ metricName: `${name}_count`, labels: { camera }, value: e.count });
          }
          return out;
        },
      }) as never,
    );
  histogram(
    'citywatch_inference_latency_seconds',
    SHARED_METRICS.inference,
    'Detector inference latency per analysed frame',
    INFERENCE_BUCKETS_MS,
    1 / 1000,
  );
  // The Frigate-style name of the same series (detector time per analysed frame, queueing included).
  histogram(
    'citywatch_inference_seconds',
    SHARED_METRICS.inference,
    'Detection time per analysed frame (waiting for the shared session included)',
    INFERENCE_BUCKETS_MS,
    1 / 1000,
  );
  histogram(
    'citywatch_frame_age_seconds',
    SHARED_METRICS.frameAge,
    'Age of an analysed frame when its decision is made (capture wall time to rules done)',
    FRAME_AGE_BUCKETS_S,
    1,
  );
  counter(
    'citywatch_lease_losses_total',
    SHARED_METRICS.leaseLosses,
    'Camera leases a worker lost while analysing the camera, per worker and reason',
  );

  const gauge = (name: string, metric: string, help: string) =>
    registry.registerMetric(
      custom({
        name,
        help,
        type: 'gauge',
        aggregator: 'sum',
        collectValues: async () =>
          ((await readGauges(src.redis, src.prefix)).get(metric) ?? []).map((s) => ({ labels: s.labels, value: s.value })),
      }) as never,
    );
  gauge('citywatch_camera_fps', 'camera_fps', 'Frames analysed per second, per camera (over the last heartbeat period)');
  gauge('citywatch_camera_skipped_fps', 'camera_skipped_fps', 'Frames per second dropped because analysis did not keep up, per camera');
  gauge(
    'citywatch_camera_keyframe_decode',
    'camera_keyframe_decode',
    '1 when the camera is decoded keyframes-only, 0 when every frame is decoded',
  );
  gauge('citywatch_worker_cameras', 'worker_cameras', 'Cameras each worker analyses');

  registry.registerMetric(
    custom({
      name: 'citywatch_queue_jobs',
      help: 'BullMQ jobs per queue and state',
      type: 'gauge',
      aggregator: 'sum',
      collectValues: async () => {
        const out: MetricValue[] = [];
        for (const q of src.queues) {
          const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'paused', 'prioritized');
          for (const [state, n] of Object.entries(counts)) out.push({ labels: { queue: q.name, state }, value: n });
        }
        return out;
      },
    }) as never,
  );

  registry.registerMetric(
    custom({
      name: 'citywatch_camera_state',
      help: 'Camera stream state (1 for the current state, 0 otherwise)',
      type: 'gauge',
      aggregator: 'sum',
      collectValues: async () => {
        const out: MetricValue[] = [];
        for (const { cameraId, state } of await src.cameraStates()) {
          for (const s of src.knownStates) out.push({ labels: { camera: cameraId, state: s }, value: s === state ? 1 : 0 });
        }
        return out;
      },
    }) as never,
  );
  return registry;
}
