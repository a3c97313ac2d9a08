// Console entry: sign-in (admin token in sessionStorage), hash routes, the accounts list and search.

import { accountPage } from './account-page.js';
import { act, api, h, token, usageBar, when } from './dom.js';
import { operationsPage } from './operations-page.js';
import { policyPage } from './policy-page.js';

const main = document.getElementById('main');

function signIn(message) {
  document.getElementById('nav').hidden = true;
  const input = h('input', {
    type: 'password',
    id: 'token',
    autocomplete: 'off',
    placeholder: 'ADMIN_TOKEN',
  });
  const out = h('p', { id: 'signin-error', class: 'error', role: 'alert' }, message ?? '');
  const form = h(
    'form',
    {
      onsubmit: (event) => {
        event.preventDefault();
        token.set(input.value.trim());
        act(out, async () => {
          await api('GET', '/admin/replica');
          route();
        });
      },
    },
    h('div', { class: 'row' }, input, h('button', { type: 'submit', id: 'signin' }, 'Sign in')),
  );
  main.replaceChildren(
    h(
      'section',
      {},
      h('h1', {}, 'Sign in'),
      h('p', { class: 'muted' }, 'The admin token, kept for this browser tab only.'),
      form,
      out,
    ),
  );
}

async function accountsPage(query) {
  const input = h('input', {
    type: 'search',
    id: 'search',
    value: query,
    placeholder: 'id, name, key prefix, billing customer id',
  });
  const list = h('div', {});
  const out = h('p', {});
  const load = () =>
    act(out, async () => {
      const { accounts } = await api('GET', `/admin/accounts?q=${encodeURIComponent(input.value.trim())}`);
      list.replaceChildren(
        h(
          'table',
          { id: 'accounts' },
          h(
            'tr',
            {},
            ['Account', 'Tier', 'Status', 'Usage this period', 'Credits', 'Last call'].map((t) =>
              h('th', {}, t),
            ),
          ),
          accounts.map((a) =>
            h(
              'tr',
              {},
              h(
                'td',
                {},
                h('a', { href: `#/accounts/${encodeURIComponent(a.id)}` }, a.name),
                h('div', { class: 'muted' }, a.id),
              ),
              h('td', {}, a.tier),
              h('td', {}, a.status),
              h('td', {}, usageBar(a.units_this_period, a.quota)),
              h('td', {}, a.credit_balance),
              h('td', {}, when(a.last_call_at)),
            ),
          ),
        ),
        accounts.length === 0 ? h('p', { class: 'muted' }, 'No account matches.') : '',
      );
    });
  const form = h(
    'form',
    { onsubmit: (e) => (e.preventDefault(), load()) },
    h('div', { class: 'row' }, input, h('button', { type: 'submit' }, 'Search')),
  );
  main.replaceChildren(h('section', {}, h('h1', {}, 'Accounts'), form, out, list));
  await load();
}

export async function route() {
  if (!token.get()) return signIn();
  document.getElementById('nav').hidden = false;
  const [, page, id] = location.hash.split('/');
  if (page === 'accounts' && id) return accountPage(main, decodeURIComponent(id));
  if (page === 'policy') return policyPage(main);
  if (page === 'operations') return operationsPage(main);
  return accountsPage('');
}

window.addEventListener('hashchange', route);
window.addEventListener('tollgate-unauthorized', () => {
  token.clear();
  signIn(
    'Wrong admin token: the sidecar refused it (401 Unauthorized). Check ADMIN_TOKEN and sign in again.',
  );
});
document.getElementById('signout').addEventListener('click', () => (token.clear(), signIn()));
route();
