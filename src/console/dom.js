// Console: DOM helpers and the admin API client (bearer token from sessionStorage; never a cookie).

const TOKEN = 'tollgate-admin-token';

/** h('div', {class: 'x', onclick}, ...children): text children are text nodes, never HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    // CSSOM, not the style attribute: the CSP allows no inline style attributes.
    else if (name === 'style') el.style.cssText = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN),
  set: (value) => sessionStorage.setItem(TOKEN, value),
  clear: () => sessionStorage.removeItem(TOKEN),
};

export class ApiError extends Error {
  constructor(status, problem) {
    const details = (problem.errors ?? []).map((e) => `${e.path}: ${e.message}`).join('; ');
    super(
      `${problem.title ?? `HTTP ${status}`}${problem.detail ? ` — ${problem.detail}` : ''}${details ? ` (${details})` : ''}`,
    );
    this.status = status;
  }
}

/** One admin API call; JSON in and out unless `text` (a YAML body) or `raw` (answer as text). */
export async function api(method, path, { json, text, raw } = {}) {
  const headers = { authorization: `Bearer ${token.get() ?? ''}`, 'x-tollgate-actor': 'console' };
  let body;
  if (json !== undefined) [headers['content-type'], body] = ['application/json', JSON.stringify(json)];
  if (text !== undefined) [headers['content-type'], body] = ['application/yaml', text];
  if (!raw) headers.accept = 'application/json';
  const res = await fetch(path, { method, headers, body });
  if (!res.ok) {
    const problem = await res.json().catch(() => ({}));
    if (res.status === 401) window.dispatchEvent(new Event('tollgate-unauthorized'));
    throw new ApiError(res.status, problem);
  }
  return raw ? res.text() : res.json();
}

export const when = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) : '—');

/** Runs an action from a button: disables it meanwhile, shows a failure in `out`. */
export async function act(out, action) {
  out.textContent = '';
  out.className = '';
  try {
    await action();
  } catch (err) {
    out.className = 'error';
    out.textContent = err.message;
  }
}

export function usageBar(units, quota) {
  if (!quota) return h('span', { class: 'muted' }, `${units} (no quota)`);
  const ratio = units / quota;
  const cls = ratio >= 1 ? 'bar over' : ratio >= 0.8 ? 'bar warn' : 'bar';
  return h(
    'span',
    {},
    h('span', { class: cls }, h('span', { style: `width:${Math.min(100, ratio * 100)}%` })),
    ` ${units} / ${quota}`,
  );
}
