// The dashboard: every processor with its state, position and lag (FAILED first, with the error), the
// buttons that steer them, the charts, and the replicas.
import { useEffect, useRef, useState } from 'preact/hooks';
import { HeadChart, LagChart } from './charts.tsx';
import { lagSecondsNow, type Monitor, type View } from './monitor.ts';
import type { Action, Processor, Replica } from './operations.ts';

const number = new Intl.NumberFormat('en');
const seconds = (s: number) => (s < 10 ? `${s.toFixed(1)} s` : s < 120 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`);

function useView(monitor: Monitor): View {
  const [view, setView] = useState(monitor.current());
  useEffect(() => monitor.listen(setView), [monitor]);
  return view;
}

export function Dashboard({ monitor, onForgetToken }: { monitor: Monitor; onForgetToken: (() => void) | undefined }) {
  const view = useView(monitor);
  const [confirming, setConfirming] = useState<string | null>(null);
  const act = (name: string, action: Action) => (action === 'rebuild' ? setConfirming(name) : void monitor.act(name, action));
  return (
    <div class="dashboard">
      <header class="top">
        <h1>Converge console</h1>
        <p class={`connection ${view.connection}`} role="status">
          {view.connection === 'live' ? 'Live' : 'Reconnecting…'}
        </p>
        {onForgetToken && (
          <button type="button" class="quiet" onClick={onForgetToken}>
            Forget token
          </button>
        )}
      </header>
      <main>
        <p class={`outcome ${view.outcome?.ok === false ? 'bad' : ''}`} role="status" aria-live="polite" data-testid="outcome">
          {view.outcome?.text ?? ''}
        </p>
        <Processors view={view} onAct={act} />
        <section aria-labelledby="charts-title">
          <h2 id="charts-title">Over the last 15 minutes</h2>
          <div class="charts">
            <HeadChart series={monitor.rates} view={view} />
            {view.processors.map((p) => (
              <LagChart key={p.name} name={p.name} series={monitor.lag.get(p.name)} view={view} />
            ))}
          </div>
        </section>
        <Replicas replicas={view.replicas} />
      </main>
      {confirming && (
        <ConfirmRebuild
          name={confirming}
          onAnswer={(yes) => {
            setConfirming(null);
            if (yes) void monitor.act(confirming, 'rebuild');
          }}
        />
      )}
    </div>
  );
}

function Processors({ view, onAct }: { view: View; onAct(name: string, action: Action): void }) {
  const now = Date.now();
  const head = view.log?.head;
  return (
    <section aria-labelledby="processors-title">
      <h2 id="processors-title">Projections, process managers and publishers</h2>
      <p class="help">
        Log head: {head ? <code title={head}>{short(head)}</code> : 'empty'}
        {view.rate !== undefined && <> · {number.format(Math.round(view.rate))} events/s appended</>}
      </p>
      <table class="processors">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Kind</th>
            <th scope="col">State</th>
            <th scope="col">Position</th>
            <th scope="col">Lag (events)</th>
            <th scope="col">Lag (seconds)</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        {view.processors.map((p) => (
          <tbody key={p.name} data-processor={p.name} data-state={p.state}>
            <tr>
              <th scope="row">{p.name}</th>
              <td data-label="Kind">{p.kind.replaceAll('_', ' ').toLowerCase()}</td>
              <td data-label="State">
                <span class={`state ${p.state.toLowerCase()}`}>{p.state}</span>
                {p.state === 'REBUILDING' && <RebuildProgress processor={p} start={view.rebuilds[p.name]} />}
              </td>
              <td data-label="Position">{p.position ? <code title={p.position}>{short(p.position)}</code> : '—'}</td>
              <td data-label="Lag (events)" data-testid="lag-events">
                {number.format(p.lagEvents)}
              </td>
              <td data-label="Lag (seconds)">{seconds(lagSecondsNow(p, view.readAt[p.name], now))}</td>
              <td data-label="Actions" class="actions">
                <Buttons processor={p} busy={view.busy[p.name]} onAct={onAct} />
              </td>
            </tr>
            {p.state === 'FAILED' && p.lastError && (
              <tr class="error-row">
                <td colspan={7}>
                  <strong>Error:</strong> {p.lastError}
                </td>
              </tr>
            )}
          </tbody>
        ))}
      </table>
    </section>
  );
}

/** The buttons a state allows; a kind other than PROJECTION has no tables to rebuild. */
function Buttons({
  processor: p,
  busy,
  onAct,
}: {
  processor: Processor;
  busy: Action | undefined;
  onAct(name: string, action: Action): void;
}) {
  const button = (action: Action, label: string) => (
    <button type="button" disabled={busy !== undefined} aria-label={`${label} ${p.name}`} onClick={() => onAct(p.name, action)}>
      {busy === action ? `${label}…` : label}
    </button>
  );
  return (
    <>
      {p.state !== 'PAUSED' && button('pause', 'Pause')}
      {(p.state === 'PAUSED' || p.state === 'FAILED') && button('resume', 'Resume')}
      {p.kind === 'PROJECTION' && button('rebuild', 'Rebuild')}
    </>
  );
}

function RebuildProgress({ processor: p, start }: { processor: Processor; start: number | undefined }) {
  const left = p.rebuildLagEvents;
  if (left === null) return null;
  const total = Math.max(start ?? left, left, 1);
  return (
    <span class="rebuild">
      <progress max={total} value={total - left} aria-label={`Rebuild of ${p.name}`} />
      <span>{number.format(left)} events to the swap</span>
    </span>
  );
}

function Replicas({ replicas }: { replicas: Replica[] }) {
  return (
    <section aria-labelledby="replicas-title">
      <h2 id="replicas-title">Replicas</h2>
      {replicas.length === 0 ? (
        <p class="help">None configured: queries read on the primary (DATABASE_REPLICA_URLS adds some).</p>
      ) : (
        <table class="replicas">
          <thead>
            <tr>
              <th scope="col">Replica</th>
              <th scope="col">State</th>
              <th scope="col">Lag</th>
              <th scope="col">Why out of rotation</th>
            </tr>
          </thead>
          <tbody>
            {replicas.map((r) => (
              <tr key={r.name}>
                <th scope="row">{r.name}</th>
                <td data-label="State">
                  <span class={`state ${r.state === 'IN_ROTATION' ? 'running' : 'failed'}`}>{r.state}</span>
                </td>
                <td data-label="Lag">{r.lagSeconds === null ? 'unknown' : seconds(r.lagSeconds)}</td>
                <td data-label="Why out">{r.reason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** A modal question (the browser's <dialog>: focus stays inside, Escape cancels). */
function ConfirmRebuild({ name, onAnswer }: { name: string; onAnswer(yes: boolean): void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => dialog.current?.showModal(), []);
  return (
    <dialog ref={dialog} aria-labelledby="confirm-title" onCancel={() => onAnswer(false)}>
      <h2 id="confirm-title">Rebuild {name}?</h2>
      <p>
        Its read model is built again from the first event, beside the one that keeps serving reads; the new copy is swapped in once it has
        caught up. On a long log this takes a while and loads the database.
      </p>
      <div class="dialog-buttons">
        <button type="button" onClick={() => onAnswer(false)}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={() => onAnswer(true)}>
          Rebuild {name}
        </button>
      </div>
    </dialog>
  );
}

/** A consistency token is opaque: its end tells two apart at a glance; the whole is in the title. */
const short = (token: string) => (token.length > 12 ? `…${token.slice(-10)}` : token);
