// Replays for testers: upload a clip with a camera config (and optional ground truth), follow the
// job, then read precision/recall and the would-be cases on a timeline.
import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { className, replayStateName, t } from '../i18n';
import { usePollReplay } from '../replay-poll';
import { ErrorBox, FieldError, useAuthImage } from '../ui';
import { Timeline } from './try';

const SAMPLE_CONFIG = JSON.stringify(
  {
    camera: { id: 'replay' },
    analysis: { fps: 2 },
    zones: [
      {
        id: 'lane',
        type: 'no_parking',
        polygon: [
          [0.1, 0.5],
          [0.9, 0.5],
          [0.9, 0.95],
          [0.1, 0.95],
        ],
      },
    ],
    classes: { illegal_parking: { minDwellSec: 8 } },
  },
  null,
  2,
);

/** A would-be case's annotated frame (behind the key, so fetched as a blob). */
function Snapshot({ path, title }: { path: string; title: string }) {
  const { src } = useAuthImage(path);
  return (
    <figure class="replay-snapshot">
      {src && <img src={src} alt={title} />}
      <figcaption class="muted">{title}</figcaption>
    </figure>
  );
}

export function ReplaysPage() {
  const [file, setFile] = useState<File | null>(null);
  const [config, setConfig] = useState(SAMPLE_CONFIG);
  const [truth, setTruth] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const [id, setId] = useState<string | null>(null);
  const view = usePollReplay(id, setError);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setError(null);
    const form = new FormData();
    form.set('clip', file);
    form.set('config', config);
    if (truth.trim()) form.set('groundTruth', truth);
    try {
      const r = await api<{ id: string }>('/v1/replays/upload', { method: 'POST', form });
      setId(r.id);
    } catch (err) {
      setError(err as Error);
    }
  };
  const ev = view?.result?.evaluation;
  const span = Math.max(10, view?.progress?.duration ?? view?.progress?.seconds ?? 0);
  return (
    <div>
      <h1>{t('replays')}</h1>
      <form class="panel form" onSubmit={submit}>
        <label>
          {t('clipFile')}{' '}
          <input type="file" name="clip" accept="video/*" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} required />
        </label>
        <FieldError error={error} field="clip" />
        <label>
          {t('configJson')}
          <textarea name="config" rows={8} value={config} onInput={(e) => setConfig(e.currentTarget.value)} />
        </label>
        <FieldError error={error} field="config" prefix />
        <label>
          {t('groundTruth')}
          <textarea name="groundTruth" rows={4} value={truth} onInput={(e) => setTruth(e.currentTarget.value)} />
        </label>
        <FieldError error={error} field="groundTruth" prefix />
        <ErrorBox error={error instanceof ApiError && /^(clip|config|groundTruth)\b/.test(error.field ?? '') ? null : error} />
        <button type="submit" class="primary" disabled={!file}>
          {t('upload')}
        </button>
      </form>
      {view && (
        <section class="panel" data-replay={view.id} data-state={view.state}>
          <h2>
            {view.input} · {replayStateName(view.state)} {view.progress?.percent != null && `${view.progress.percent.toFixed(0)}%`}
          </h2>
          {view.error && <div class="error">{view.error}</div>}
          {ev && (
            <p class="pr" data-precision={ev.total.precision ?? ''} data-recall={ev.total.recall ?? ''}>
              {t('precision')} {ev.total.precision?.toFixed(2) ?? '—'} · {t('recall')} {ev.total.recall?.toFixed(2) ?? '—'}
              {` · TP ${ev.total.tp} · FP ${ev.total.fp} · FN ${ev.total.fn}`}
            </p>
          )}
          {view.result && <Timeline label={t('timeline')} run={view.result} span={span} testId="replay-timeline" />}
          <div class="replay-snapshots">
            {view.result?.cases.map((c) =>
              c.snapshot ? <Snapshot path={c.snapshot.url} title={`${className(c)} · ${c.confirmedAt.toFixed(1)} s`} /> : null,
            )}
          </div>
        </section>
      )}
    </div>
  );
}
