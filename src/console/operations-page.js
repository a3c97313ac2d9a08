// Console: operations — this replica's state, the export outbox (pending / failed, retry), threshold events in it.

import { act, api, h, when } from './dom.js';

export async function operationsPage(main) {
  const [replica, pending, failed] = await Promise.all([
    api('GET', '/admin/replica'),
    api('GET', '/admin/outbox?state=pending'),
    api('GET', '/admin/outbox?state=failed'),
  ]);
  if (location.hash !== '#/operations') return; // navigated elsewhere meanwhile
  const out = h('p', { id: 'ops-out' });
  const retry = (row) =>
    act(out, async () => {
      await api('POST', `/admin/outbox/${row.id}/retry`, { json: {} });
      await operationsPage(main);
      document.getElementById('ops-out').textContent = `Row ${row.id} queued for delivery.`;
    });
  const rows = (list, withRetry) =>
    h(
      'table',
      {},
      h(
        'tr',
        {},
        ['Id', 'Kind', 'Account', 'Attempts', 'Last error', 'Created', ''].map((t) => h('th', {}, t)),
      ),
      list.map((r) =>
        h(
          'tr',
          { 'data-outbox': r.id },
          [r.id, r.kind, r.account_id, r.attempts, r.last_error ?? '', when(r.created_at)].map((c) =>
            h('td', {}, c),
          ),
          h('td', {}, withRetry ? h('button', { type: 'button', onclick: () => retry(r) }, 'Retry') : ''),
        ),
      ),
    );
  const thresholds = [...pending.rows, ...failed.rows].filter((r) => r.kind === 'quota.threshold');
  main.replaceChildren(
    h('h1', {}, 'Operations'),
    h(
      'section',
      { id: 'replica' },
      h('h2', {}, 'This replica'),
      h(
        'p',
        {},
        replica.degraded
          ? h('strong', { class: 'error' }, 'DEGRADED: Redis unreachable, deciding locally')
          : h('span', { class: 'ok' }, 'Healthy'),
        ` · usage flush lag ${Number(replica.flush_lag_seconds ?? 0).toFixed(1)} s · last flush ${when(replica.last_flush_ok_at)} · up since ${when(replica.started_at)}`,
      ),
    ),
    h(
      'section',
      { id: 'outbox-failed' },
      h('h2', {}, `Outbox: failed (${failed.rows.length})`),
      rows(failed.rows, true),
      out,
    ),
    h(
      'section',
      { id: 'outbox-pending' },
      h('h2', {}, `Outbox: pending (${pending.rows.length})`),
      rows(pending.rows, false),
    ),
    h(
      'section',
      {},
      h('h2', {}, `Threshold events awaiting delivery (${thresholds.length})`),
      rows(thresholds, false),
    ),
  );
}
