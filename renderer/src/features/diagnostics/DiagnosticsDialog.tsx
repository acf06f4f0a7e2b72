// "Why can't I see someone?": what this node announces and where, what discovery hears, the
// hints the core derives from that, and the links that are up. Read-only; Refresh asks again.
import { useCallback, useEffect, useState } from 'react';
import type { DiagnosticsInfo, PeerId } from '../../../../main/contract/contract.ts';
import type { AppStore } from '../../app/store.ts';
import { useI18n } from '../../i18n/i18n.tsx';
import { Dialog, Icon } from '../../ui/Dialog.tsx';
import '../people/trust.css';

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function DiagnosticsDialog(props: { store: AppStore; onClose: () => void }) {
  const { t, lang } = useI18n();
  const { store } = props;
  const [info, setInfo] = useState<DiagnosticsInfo | null>(null);
  const [at, setAt] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    setBusy(true);
    setError(null);
    try {
      setInfo(await store.api.call('diagnostics', {}));
      setAt(Date.now());
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }, [store]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const time = (ms: number) => new Intl.DateTimeFormat(lang, { timeStyle: 'medium' }).format(ms);
  /** Names come from the people list (already stripped of bidi controls) and render as text. */
  const who = (id: PeerId) => {
    const name = store.peers.get(id)?.name;
    return (
      <>
        {name ? <bdi className="diag-peer-name">{name}</bdi> : null} <span className="mono muted">{id.slice(0, 7)}</span>
      </>
    );
  };
  const d = info?.discovery;

  return (
    <Dialog title={t('diag.title')} closeLabel={t('diag.close')} onClose={props.onClose} className="diagnostics-dialog">
      <div className="diag-toolbar">
        <span className="muted" aria-live="polite">
          {busy ? t('diag.loading') : at ? t('diag.updated', { time: time(at) }) : ''}
        </span>
        <button type="button" onClick={() => void refresh()} disabled={busy} data-testid="diag-refresh">
          <Icon name="refresh" /> {t('diag.refresh')}
        </button>
      </div>
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {info && d ? (
        <div className="diag-body" data-testid="diagnostics">
          <section aria-labelledby="diag-self">
            <h3 id="diag-self">{t('diag.self')}</h3>
            <dl className="details-list">
              <dt>{t('diag.port')}</dt>
              <dd className="mono" data-testid="diag-port">
                {info.self.port}
              </dd>
              <dt>{t('diag.addresses')}</dt>
              <dd data-testid="diag-addresses">
                {info.self.addresses.length
                  ? info.self.addresses.map((a) => (
                      <div key={a} className="mono selectable">
                        {hostPort(a, info.self.port)}
                      </div>
                    ))
                  : t('diag.noAddresses')}
              </dd>
            </dl>
          </section>

          <section aria-labelledby="diag-discovery">
            <h3 id="diag-discovery">{t('diag.discovery')}</h3>
            {!d.enabled ? <p className="muted">{t('diag.discoveryOff')}</p> : null}
            {d.interfaces.length ? (
              <table className="diag-table">
                <caption>{t('diag.interfaces')}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t('diag.col.interface')}</th>
                    <th scope="col">{t('diag.addresses')}</th>
                    <th scope="col">{t('diag.col.beacon')}</th>
                    <th scope="col">{t('diag.col.mdns')}</th>
                  </tr>
                </thead>
                <tbody>
                  {d.interfaces.map((i) => (
                    <tr key={i.name}>
                      <td className="mono">{i.name}</td>
                      <td className="mono">{i.addresses.join(', ')}</td>
                      <td>{i.beacon ? t('diag.yes') : t('diag.no')}</td>
                      <td>{i.mdns ? t('diag.yes') : t('diag.no')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : d.enabled ? (
              <p className="muted">{t('diag.noInterfaces')}</p>
            ) : null}
            {d.skippedInterfaces.length ? (
              <>
                <h4>{t('diag.skipped')}</h4>
                <ul className="diag-list">
                  {d.skippedInterfaces.map((s) => (
                    <li key={s.name}>
                      <span className="mono">{s.name}</span>: {s.reason}
                    </li>
                  ))}
                </ul>
              </>
            ) : null}
            <h4>{t('diag.counters')}</h4>
            <ul className="diag-list">
              <li>{d.beacon ? t('diag.beacon', { ...d.beacon }) : t('diag.beaconOff')}</li>
              <li>{d.mdns ? t('diag.mdns', { ...d.mdns }) : t('diag.mdnsOff')}</li>
            </ul>
          </section>

          {d.warnings.length ? (
            <section aria-labelledby="diag-warnings">
              <h3 id="diag-warnings">{t('diag.warnings')}</h3>
              <ul className="diag-list">
                {d.warnings.map((w, i) => (
                  <li key={`${w.id}-${w.at}-${i}`} className="warning">
                    <Icon name="warning" />
                    <span>
                      {time(w.at)} · {who(w.id)} · <span className="mono">{w.address}</span>: {w.message}
                    </span>
                  </li>
                ))}
              </ul>
            </section>
          ) : null}

          <section aria-labelledby="diag-hints">
            <h3 id="diag-hints">{t('diag.hints')}</h3>
            {d.hints.length ? (
              <ul className="diag-list diag-hints" data-testid="diag-hints">
                {d.hints.map((h, i) => (
                  <li key={i}>{h}</li>
                ))}
              </ul>
            ) : (
              <p className="muted">{t('diag.noHints')}</p>
            )}
            <p className="field-help">{t('diag.hintsLead')}</p>
          </section>

          <section aria-labelledby="diag-links">
            <h3 id="diag-links">{t('diag.links')}</h3>
            {info.links.length ? (
              <table className="diag-table" data-testid="diag-links">
                <thead>
                  <tr>
                    <th scope="col">{t('diag.col.peer')}</th>
                    <th scope="col">{t('diag.col.kind')}</th>
                    <th scope="col">{t('diag.col.direction')}</th>
                    <th scope="col">{t('diag.col.remote')}</th>
                  </tr>
                </thead>
                <tbody>
                  {info.links.map((l) => (
                    <tr key={l.peerId}>
                      <td>{who(l.peerId)}</td>
                      <td>{t(`link.${l.kind}`)}</td>
                      <td>{t(`diag.dir.${l.direction}`)}</td>
                      <td className="mono">{l.remote}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p className="muted">{t('diag.noLinks')}</p>
            )}
          </section>
        </div>
      ) : null}
    </Dialog>
  );
}
