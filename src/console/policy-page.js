// Console: the policy — YAML editor validated by POST /admin/policy/validate, a diff before saving, tiers and endpoints.

import { act, api, h } from './dom.js';

/** Line diff (LCS): [' '|'+'|'-', line][] — policies are small, O(n·m) is fine. */
export function diffLines(before, after) {
  const a = before.split('\n');
  const b = after.split('\n');
  const dp = Array.from({ length: a.length + 1 }, () => new Array(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  const out = [];
  let [i, j] = [0, 0];
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) out.push([' ', a[i++], j++]);
    else if (j < b.length && (i === a.length || dp[i][j + 1] >= dp[i + 1][j])) out.push(['+', b[j++]]);
    else out.push(['-', a[i++]]);
  }
  return out.map(([sign, line]) => [sign, line]);
}

const text = (v) =>
  v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
const limits = (list) => (list ?? []).map((l) => `${l.name}: ${l.limit}/${l.window}`).join(', ');
const quota = (q) =>
  q && typeof q === 'object' ? `${q.requests}/${q.period}, overage ${q.overage}` : text(q);
const price = (p) => (p ? `${p.monthly} ${p.currency}/month, ${p.overage_per_1000} per 1000 over` : '');
const match = (m) => `${(m?.methods ?? ['any']).join(',')} ${m?.path ?? ''}`;
const overrides = (o) =>
  Object.entries(o ?? {})
    .map(
      ([tier, v]) =>
        `${tier}: ${v.allowed === false ? 'blocked (feature gate)' : limits(v.limits) || text(v)}`,
    )
    .join('; ');

function tables(policy) {
  const tiers = Object.entries(policy.tiers ?? {}).map(([name, t]) => [
    name,
    limits(t.limits),
    quota(t.quota),
    text(t.credits_per_request ?? 0),
    price(t.price),
  ]);
  const endpoints = Object.entries(policy.endpoints ?? {}).map(([name, e]) => [
    name,
    match(e.match),
    text(e.cost ?? 1),
    overrides(e.overrides),
  ]);
  const table = (headers, rows, id) =>
    h(
      'table',
      { id },
      h(
        'tr',
        {},
        headers.map((x) => h('th', {}, x)),
      ),
      rows.map((r) =>
        h(
          'tr',
          {},
          r.map((c) => h('td', {}, c)),
        ),
      ),
    );
  return [
    h('h2', {}, 'Tiers'),
    table(['Tier', 'Limits', 'Quota', 'Credits/unit', 'Price'], tiers, 'tiers'),
    h('h2', {}, 'Endpoints'),
    table(['Endpoint', 'Match', 'Cost', 'Overrides and feature gates'], endpoints, 'endpoints'),
  ];
}

export async function policyPage(main) {
  const [stored, policy] = await Promise.all([
    api('GET', '/admin/policy', { raw: true }),
    api('GET', '/admin/policy'),
  ]);
  if (location.hash !== '#/policy') return; // navigated elsewhere meanwhile
  const editor = h('textarea', { id: 'policy-editor', spellcheck: 'false' });
  editor.value = stored;
  const out = h('div', { id: 'policy-out', role: 'status' });
  const diff = h('div', { id: 'policy-diff' });
  const save = h('button', { type: 'button', id: 'policy-save', disabled: true }, 'Save');
  const review = () =>
    act(out, async () => {
      save.disabled = true;
      diff.replaceChildren();
      const result = await api('POST', '/admin/policy/validate', { text: editor.value });
      if (!result.valid) {
        out.replaceChildren(
          h('p', { class: 'error' }, 'Not valid — nothing saved:'),
          h(
            'ul',
            { id: 'policy-errors' },
            result.errors.map((e) =>
              h('li', { class: 'error' }, `${e.line ? `line ${e.line}: ` : ''}${e.path}: ${e.message}`),
            ),
          ),
        );
        return;
      }
      const lines = diffLines(stored, editor.value).filter(([sign]) => sign !== ' ');
      out.replaceChildren(
        h(
          'p',
          { class: 'ok' },
          lines.length ? 'Valid. Review the change, then save.' : 'Valid; no change from the stored policy.',
        ),
      );
      diff.replaceChildren(
        h(
          'pre',
          {},
          lines.map(([sign, line]) =>
            h('div', { class: sign === '+' ? 'diff-add' : 'diff-del' }, `${sign} ${line}`),
          ),
        ),
      );
      save.disabled = lines.length === 0;
    });
  save.addEventListener('click', () =>
    act(out, async () => {
      const summary = await api('PUT', '/admin/policy', { text: editor.value });
      await policyPage(main);
      document
        .getElementById('policy-out')
        .replaceChildren(
          h(
            'p',
            { class: 'ok', id: 'policy-saved' },
            `Saved: ${summary.tiers.length} tiers, ${summary.endpoints.length} endpoints.`,
          ),
        );
    }),
  );
  editor.addEventListener('input', () => (save.disabled = true));
  main.replaceChildren(
    h(
      'section',
      {},
      h('h1', {}, 'Policy'),
      editor,
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'button', id: 'policy-validate', onclick: review }, 'Validate and show diff'),
        save,
      ),
      out,
      diff,
    ),
    h('section', {}, tables(policy)),
  );
}
