// Console: one account — usage chart, live counters, keys, credits, billing, audit, tier and status changes.

import { act, api, h, when } from './dom.js';
import { usageChart } from './usage-chart.js';

const enc = encodeURIComponent;

function table(headers, rows, attrs = {}) {
  return h(
    'table',
    attrs,
    h(
      'tr',
      {},
      headers.map((t) => h('th', {}, t)),
    ),
    rows.map((r) =>
      h(
        'tr',
        {},
        r.map((c) => h('td', {}, c)),
      ),
    ),
  );
}

function keysSection(id, keys, reload) {
  const out = h('p', { id: 'keys-out' });
  const name = h('input', { id: 'key-name', placeholder: 'key name (optional)' });
  const create = () =>
    act(out, async () => {
      const key = await api('POST', `/admin/accounts/${enc(id)}/keys`, {
        json: name.value ? { name: name.value } : {},
      });
      await reload();
      showSecret(key.key, 'New key — shown once, copy it now:');
    });
  const rotate = (k) =>
    act(out, async () => {
      if (
        !confirm(`Rotate ${k.prefix}…? A new key is issued; the old one keeps working for 24 h, then stops.`)
      )
        return;
      const key = await api('POST', `/admin/keys/${enc(k.id)}/rotate`, { json: {} });
      await reload();
      showSecret(key.key, `Replacement for ${k.prefix}… — shown once:`);
    });
  const revoke = (k) =>
    act(out, async () => {
      if (!confirm(`Revoke ${k.prefix}…? Every call with it is refused from now on. This cannot be undone.`))
        return;
      await api('POST', `/admin/keys/${enc(k.id)}/revoke`, { json: {} });
      await reload();
    });
  const showSecret = (secret, label) => {
    const copy = h(
      'button',
      {
        type: 'button',
        id: 'copy-key',
        onclick: () => navigator.clipboard?.writeText(secret).then(() => (copy.textContent = 'Copied')),
      },
      'Copy',
    );
    document
      .getElementById('new-key')
      .replaceChildren(
        h('div', { class: 'row' }, label, h('span', { class: 'secret', id: 'secret' }, secret), copy),
      );
  };
  const rows = keys.map((k) => [
    h('span', { 'data-prefix': k.prefix }, `${k.prefix}…`),
    k.name ?? '',
    k.state,
    when(k.expires_at),
    k.state === 'active'
      ? h(
          'span',
          {},
          h('button', { type: 'button', onclick: () => rotate(k) }, 'Rotate'),
          ' ',
          h('button', { type: 'button', class: 'danger', onclick: () => revoke(k) }, 'Revoke'),
        )
      : '',
  ]);
  return h(
    'section',
    { id: 'keys' },
    h('h2', {}, 'Keys'),
    table(['Prefix', 'Name', 'State', 'Expires', ''], rows),
    h(
      'div',
      { class: 'row' },
      name,
      h('button', { type: 'button', id: 'create-key', onclick: create }, 'Create key'),
    ),
    h('div', { id: 'new-key' }),
    out,
  );
}

function creditsSection(id, credits, reload) {
  const amount = h('input', { id: 'credit-amount', type: 'number', value: '1000' });
  const key = h('input', { id: 'credit-key', value: `topup-${Date.now()}` });
  const out = h('p', { id: 'credits-out' });
  const topUp = () =>
    act(out, async () => {
      await api('POST', `/admin/accounts/${enc(id)}/credits`, {
        json: { amount: Number(amount.value), idempotency_key: key.value },
      });
      await reload();
    });
  const rows = credits.ledger.map((e) => [when(e.created_at), e.amount, e.reason, e.idempotency_key ?? '']);
  return h(
    'section',
    { id: 'credits' },
    h('h2', {}, `Credits: ${credits.balance}`),
    h(
      'div',
      { class: 'row' },
      'Top up',
      amount,
      'idempotency key',
      key,
      h('button', { type: 'button', id: 'topup', onclick: topUp }, 'Top up'),
    ),
    out,
    table(['When', 'Amount', 'Reason', 'Idempotency key'], rows, { id: 'ledger' }),
  );
}

function changeSection(account, tiers, reload) {
  const out = h('p', {});
  const tier = h(
    'select',
    { id: 'tier' },
    tiers.map((t) => h('option', { value: t, selected: t === account.tier }, t)),
  );
  const patch = (body, question) =>
    act(out, async () => {
      if (!confirm(question)) return;
      await api('PATCH', `/admin/accounts/${enc(account.id)}`, { json: body });
      await reload();
    });
  const suspended = account.status === 'suspended';
  return h(
    'section',
    {},
    h('h2', {}, 'Plan and status'),
    h(
      'div',
      { class: 'row' },
      tier,
      h(
        'button',
        {
          type: 'button',
          onclick: () =>
            patch(
              { tier: tier.value },
              `Move ${account.name} from ${account.tier} to ${tier.value}? Its limits and quota change at once, usage so far stays counted.`,
            ),
        },
        'Change tier',
      ),
      h(
        'button',
        {
          type: 'button',
          class: suspended ? '' : 'danger',
          onclick: () =>
            patch(
              { status: suspended ? 'active' : 'suspended' },
              suspended
                ? `Reactivate ${account.name}? Its keys work again at once.`
                : `Suspend ${account.name}? Every call with its keys is refused (403) until reactivated.`,
            ),
        },
        suspended ? 'Reactivate' : 'Suspend',
      ),
    ),
    out,
  );
}

export async function accountPage(main, id) {
  const started = performance.now();
  const reload = () => accountPage(main, id);
  const [account, usage, credits, billing, audit, policy, denials] = await Promise.all([
    api('GET', `/admin/accounts/${enc(id)}`),
    api('GET', `/admin/accounts/${enc(id)}/usage/daily`),
    api('GET', `/admin/accounts/${enc(id)}/credits`),
    api('GET', `/admin/accounts/${enc(id)}/billing`).catch((e) => ({ error: e.message })),
    api('GET', `/admin/audit?target=${enc(id)}`),
    api('GET', '/admin/policy'),
    api('GET', `/admin/accounts/${enc(id)}/denials`),
  ]);
  // Navigated elsewhere while this loaded (e.g. a reload after a top-up): do not paint over that page.
  if (location.hash !== `#/accounts/${enc(id)}`) return;
  const counters = h('div', { id: 'counters' }, 'loading…');
  main.replaceChildren(
    h(
      'h1',
      {},
      `${account.name} `,
      h('span', { class: 'muted' }, `${account.id} · ${account.tier} · ${account.status}`),
    ),
    h(
      'section',
      { id: 'usage' },
      h('h2', {}, 'Usage, current period'),
      usageChart(usage, 'current'),
      h('details', {}, h('summary', {}, 'Previous period'), usageChart(usage, 'previous')),
    ),
    h(
      'section',
      { id: 'denials' },
      h('h2', {}, 'Denials, last 24 h'),
      denials.reasons.length
        ? table(
            ['Reason', 'Count'],
            denials.reasons.map((r) => [r.reason, r.count]),
          )
        : h('p', { class: 'muted' }, 'None.'),
    ),
    h('section', {}, h('h2', {}, 'Live counters'), counters),
    keysSection(id, account.keys, reload),
    creditsSection(id, credits, reload),
    h(
      'section',
      { id: 'billing' },
      h('h2', {}, 'Billing, this month'),
      h('pre', {}, JSON.stringify(billing, null, 2)),
    ),
    changeSection(account, Object.keys(policy.tiers ?? {}), reload),
    h(
      'section',
      { id: 'audit' },
      h('h2', {}, 'Audit log'),
      table(
        ['When', 'Actor', 'Action', 'Details'],
        audit.entries.map((e) => [when(e.at), e.actor, e.action, JSON.stringify(e.details)]),
      ),
    ),
  );
  main.dataset.renderMs = String(Math.round(performance.now() - started));
  api('GET', `/admin/accounts/${enc(id)}/counters`)
    .then((c) =>
      counters.replaceChildren(
        table(
          ['Counter', 'Type', 'Value', 'Resets in'],
          c.counters.map((x) => [
            x.key,
            x.type,
            JSON.stringify(x.value),
            x.pttl_ms == null ? '—' : `${Math.ceil(x.pttl_ms / 1000)} s`,
          ]),
        ),
      ),
    )
    .catch((e) => (counters.textContent = e.message));
}
