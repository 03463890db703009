// Add or edit a camera: the API validates, and its error is shown at the field it names.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Camera } from '../api';
import { t } from '../i18n';
import { navigate } from '../router';
import { can } from '../session';
import { ErrorBox, FieldError, Loading, useApi } from '../ui';

export function CameraFormPage({ id }: { id: string | null }) {
  const existing = useApi<Camera>(id ? `/v1/cameras/${encodeURIComponent(id)}` : null);
  const [form, setForm] = useState({ id: '', name: '', url: '', detectUrl: '', enabled: true });
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    const c = existing.data;
    // Stored URLs come back redacted: the form leaves them empty unless the operator types a new one.
    if (c) setForm({ id: c.id, name: c.name ?? '', url: '', detectUrl: '', enabled: c.enabled });
  }, [existing.data]);
  if (id && !existing.data) return existing.error ? <ErrorBox error={existing.error} /> : <Loading />;
  const allowed = id ? can('updateCamera') : can('createCamera');
  const set = (k: keyof typeof form) => (e: Event) => {
    const el = e.currentTarget as HTMLInputElement;
    setForm({ ...form, [k]: el.type === 'checkbox' ? el.checked : el.value });
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (id) {
        const body: Record<string, unknown> = { enabled: form.enabled };
        if (form.name) body.name = form.name;
        if (form.url) body.url = form.url;
        if (form.detectUrl) body.detectUrl = form.detectUrl;
        await api(`/v1/cameras/${encodeURIComponent(id)}`, {
          method: 'PATCH',
          body,
          headers: { 'If-Match': `"${existing.data!.version}"` },
        });
      } else {
        await api('/v1/cameras', {
          method: 'POST',
          body: {
            id: form.id,
            ...(form.name ? { name: form.name } : {}),
            url: form.url,
            ...(form.detectUrl ? { detectUrl: form.detectUrl } : {}),
            enabled: form.enabled,
          },
        });
      }
      navigate(`/cameras/${encodeURIComponent(id ?? form.id)}`);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  const generic =
    error instanceof ApiError && error.field && ['id', 'name', 'url', 'detectUrl', 'enabled'].includes(error.field) ? null : error;
  return (
    <form class="panel form" onSubmit={submit}>
      <h1>{id ? `${t('editCamera')} ${id}` : t('addCamera')}</h1>
      {!allowed && <p class="notice">{t('readOnly')}</p>}
      <fieldset disabled={!allowed}>
        {!id && (
          <label>
            {t('id')}
            <input name="id" value={form.id} onInput={set('id')} required />
            <FieldError error={error} field="id" />
          </label>
        )}
        <label>
          {t('name')}
          <input name="name" value={form.name} onInput={set('name')} />
          <FieldError error={error} field="name" />
        </label>
        <label>
          {t('url')}
          <input
            name="url"
            value={form.url}
            onInput={set('url')}
            placeholder={existing.data?.url ?? 'rtsp://… / https://…/index.m3u8'}
            required={!id}
          />
          {id && <div class="muted">{t('keepUrlHint')}</div>}
          <FieldError error={error} field="url" />
        </label>
        <label>
          {t('detectUrl')}
          <input name="detectUrl" value={form.detectUrl} onInput={set('detectUrl')} placeholder={existing.data?.detectUrl ?? ''} />
          <FieldError error={error} field="detectUrl" />
        </label>
        <label class="check">
          <input type="checkbox" name="enabled" checked={form.enabled} onChange={set('enabled')} /> {t('enabled')}
        </label>
        <ErrorBox error={generic} />
        <button type="submit" class="primary" disabled={busy}>
          {t('save')}
        </button>
      </fieldset>
    </form>
  );
}
