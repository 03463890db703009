// Small shared pieces: data loading, polling, authorised images, field errors.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, blobUrl, type ClassInfo } from './api';
import { className, t } from './i18n';

export interface Loaded<T> {
  data: T | null;
  error: ApiError | Error | null;
  loading: boolean;
  reload: () => void;
}

/** GET a path (null = nothing to load); `everyMs` polls. Keeps the last data while reloading. */
export function useApi<T>(path: string | null, everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let alive = true;
    const ctl = new AbortController();
    setLoading(true);
    api<T>(path, { signal: ctl.signal }).then(
      (d) => {
        if (!alive) return;
        setData(d);
        setError(null);
        setLoading(false);
      },
      (err: Error) => {
        if (!alive || err.name === 'AbortError') return;
        setError(err);
        setLoading(false);
      },
    );
    const timer = everyMs ? setTimeout(() => setTick((x) => x + 1), everyMs) : undefined;
    return () => {
      alive = false;
      ctl.abort();
      clearTimeout(timer);
    };
  }, [path, tick, everyMs]);
  const reload = useCallback(() => setTick((x) => x + 1), []);
  return { data, error, loading, reload };
}

/** An image behind the API key, fetched as a blob; `refreshKey` refetches; the previous stays until the new one is in. */
export function useAuthImage(path: string | null, refreshKey: unknown = 0): { src: string | null; error: ApiError | Error | null } {
  const [src, setSrc] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const current = useRef<string | null>(null);
  useEffect(() => {
    if (!path) return;
    let alive = true;
    const ctl = new AbortController();
    blobUrl(path, ctl.signal).then(
      (url) => {
        if (!alive) return URL.revokeObjectURL(url);
        if (current.current) URL.revokeObjectURL(current.current);
        current.current = url;
        setSrc(url);
        setError(null);
      },
      (err: Error) => alive && err.name !== 'AbortError' && setError(err),
    );
    return () => {
      alive = false;
      ctl.abort();
    };
  }, [path, refreshKey]);
  useEffect(() => () => void (current.current && URL.revokeObjectURL(current.current)), []);
  return { src, error };
}

/** Counter that increases every `ms` (drives refreshes). */
export function useTicker(ms: number): number {
  const [n, setN] = useState(0);
  useEffect(() => {
    const id = setInterval(() => setN((x) => x + 1), ms);
    return () => clearInterval(id);
  }, [ms]);
  return n;
}

export function ErrorBox({ error }: { error: Error | null | undefined }) {
  if (!error) return null;
  const code = error instanceof ApiError ? `${error.code}: ` : '';
  return (
    <div class="error" role="alert">
      {code}
      {error.message}
    </div>
  );
}

/** The API's error for this field (or a sub-field of it), shown under the input. */
export function FieldError({ error, field, prefix = false }: { error: Error | null | undefined; field: string; prefix?: boolean }) {
  if (!(error instanceof ApiError) || !error.field) return null;
  const hit = error.field === field || (prefix && error.field.startsWith(field + '.'));
  if (!hit) return null;
  return (
    <div class="field-error" role="alert" data-field={error.field}>
      {error.message}
    </div>
  );
}

export function Section({ title, children, id }: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section class="panel" id={id}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

export function Loading() {
  return <p class="muted">{t('loading')}</p>;
}

/** A class id → its name in the console's language (the id until /v1/classes answered). */
export function useClassName(): (id: string) => string {
  const classes = useApi<{ classes: ClassInfo[] }>('/v1/classes');
  return (id) => {
    const c = classes.data?.classes.find((x) => x.id === id);
    return c ? className(c) : id;
  };
}
