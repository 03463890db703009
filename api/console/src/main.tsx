// The operator console: sign-in, cameras, live view, zone editor, cases, class tuning, statistics,
// deliveries and replays, in Chinese and English. Everything goes through the documented API.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { lang, roleName, setLang, t } from './i18n';
import { match, navigate, onLink, path } from './router';
import { authError, me, restore, signIn, signOut, can } from './session';
import { CamerasPage } from './pages/cameras';
import { CameraFormPage } from './pages/camera-form';
import { CameraViewPage } from './pages/camera-view';
import { ZoneEditorPage } from './pages/zone-editor';
import { CasesPage } from './pages/cases';
import { ClassesPage } from './pages/classes';
import { StatsPage } from './pages/stats';
import { DeliveriesPage } from './pages/deliveries';
import { ReplaysPage } from './pages/replays';
import './styles.css';

function SignIn() {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(authError.value);
  const [busy, setBusy] = useState(false);
  return (
    <main class="signin">
      <h1>{t('appTitle')}</h1>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          try {
            await signIn(key.trim());
            if (path.value === '/' || path.value === '/signin') navigate('/cameras', true);
          } catch (err) {
            setError((err as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label>
          {t('apiKey')}
          <input name="apiKey" type="password" autocomplete="off" value={key} onInput={(e) => setKey(e.currentTarget.value)} required />
        </label>
        <p class="muted">{t('apiKeyHint')}</p>
        {error && (
          <div class="error" role="alert">
            {error}
          </div>
        )}
        <button type="submit" disabled={busy || !key.trim()}>
          {t('signIn')}
        </button>
        <LangToggle />
      </form>
    </main>
  );
}

function LangToggle() {
  return (
    <button type="button" class="lang" onClick={() => setLang(lang.value === 'zh' ? 'en' : 'zh')} title="中文 / English">
      {lang.value === 'zh' ? 'English' : '中文'}
    </button>
  );
}

const NAV: { to: string; label: () => string; op: string }[] = [
  { to: '/cameras', label: () => t('cameras'), op: 'listCameras' },
  { to: '/cases', label: () => t('cases'), op: 'listCases' },
  { to: '/stats', label: () => t('hotspots'), op: 'caseMatrix' },
  { to: '/deliveries', label: () => t('deliveries'), op: 'listDeadLetters' },
  { to: '/replays', label: () => t('replays'), op: 'uploadReplay' },
];

function Page() {
  const p = path.value;
  let m: Record<string, string> | null;
  if ((m = match('/cameras', p))) return <CamerasPage />;
  if ((m = match('/cameras/new', p))) return <CameraFormPage id={null} />;
  if ((m = match('/cameras/:id', p))) return <CameraViewPage id={m.id!} />;
  if ((m = match('/cameras/:id/edit', p))) return <CameraFormPage id={m.id!} />;
  if ((m = match('/cameras/:id/zones', p))) return <ZoneEditorPage id={m.id!} />;
  if ((m = match('/cameras/:id/classes', p))) return <ClassesPage id={m.id!} />;
  if ((m = match('/cases', p))) return <CasesPage caseId={null} />;
  if ((m = match('/cases/:id', p))) return <CasesPage caseId={m.id!} />;
  if ((m = match('/stats', p))) return <StatsPage />;
  if ((m = match('/deliveries', p))) return <DeliveriesPage />;
  if ((m = match('/replays', p))) return <ReplaysPage />;
  return <p>Not found: {p}</p>;
}

function App() {
  const [ready, setReady] = useState(false);
  useEffect(() => {
    document.documentElement.lang = lang.value === 'zh' ? 'zh-CN' : 'en';
    void restore().finally(() => setReady(true));
  }, []);
  useEffect(() => {
    if (me.value && (path.value === '/' || path.value === '/signin')) navigate('/cameras', true);
  }, [me.value, path.value]);
  if (!ready) return null;
  if (!me.value) return <SignIn />;
  const who = me.value;
  return (
    <div class="shell">
      <header>
        <strong class="brand">{t('appTitle')}</strong>
        <nav>
          {NAV.filter((n) => can(n.op)).map((n) => (
            <a href={n.to} class={path.value.startsWith(n.to) ? 'current' : ''} onClick={(e) => onLink(e, n.to)}>
              {n.label()}
            </a>
          ))}
        </nav>
        <span class="who" data-role={who.role}>
          {t('signedInAs')} {who.name} ({t('role')}: {roleName(who.role)})
        </span>
        <LangToggle />
        <button type="button" onClick={() => signOut()}>
          {t('signOut')}
        </button>
      </header>
      <main>
        <Page />
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
