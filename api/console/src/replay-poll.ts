// Follows a replay job (GET /v1/replays/:id) once a second until it completed or failed: the
// replays page and try-before-save both watch jobs this way.
import { useEffect, useState } from 'preact/hooks';
import { api, type ReplayView } from './api';

/** The replay's latest view (null before the first answer); `onError` hears failed polls, which are retried. */
export function usePollReplay(id: string | null, onError?: (err: Error) => void): ReplayView | null {
  const [view, setView] = useState<ReplayView | null>(null);
  useEffect(() => {
    setView(null);
    if (!id) return;
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const step = async () => {
      try {
        const v = await api<ReplayView>(`/v1/replays/${encodeURIComponent(id)}`);
        if (!alive) return;
        setView(v);
        if (v.state === 'completed' || v.state === 'failed') return;
      } catch (err) {
        if (alive) onError?.(err as Error);
      }
      if (alive) timer = setTimeout(step, 1000);
    };
    void step();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [id]);
  return view;
}
