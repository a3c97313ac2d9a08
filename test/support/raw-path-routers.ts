// The app's side of "one reading of every path": which handler three common kinds of router run for a
// request target as it reaches the app, for the routes of test/e2e/path-readings.test.ts.
//
// - express4: Express 4 routes on `parseurl(req).pathname` — the RAW path (no percent-decoding, no dot
//   segments resolved); legacy url.parse only when the target holds `#`, space, tab, CR/LF, FF, NBSP or
//   BOM (which also turns `\` into `/` and drops the `#…`). path-to-regexp 0.1: case-insensitive, an
//   optional trailing slash, `*` = `(.*)`, `:id` = `[^/]+?`; params go through decodeURIComponent and
//   a URIError is a 400.
// - flask: Werkzeug's server percent-decodes the path once into PATH_INFO (UTF-8, invalid bytes
//   replaced), Flask routes on that: case-sensitive, leading `//` read as `/` by Werkzeug's server and
//   any other `//` answered with a 308 redirect (merge_slashes),
//   no optional trailing slash, `<path:rest>` = `[^/].*?`, `<id>` = `[^/]+`. Dot segments stay.
// - normalizing: a Tomcat/Spring-style container: `;params` dropped per segment, decoded once, `\` read
//   as `/`, slashes merged, dot segments resolved (above the root is a 400), then case-sensitive routes.
//
// Checked once against Express 4.22.3 and Flask 3.1.3 / Werkzeug 3.1.8 on every spelling of the table.
// null = no handler ran (404, 400, redirect): nothing was served, so nothing can have been bypassed.

import { parse as legacyParse } from 'node:url';

export type Router = 'express4' | 'flask' | 'normalizing';
export const ROUTERS: readonly Router[] = ['express4', 'flask', 'normalizing'];

/** The app's routes, named by the Tollgate endpoint each one is (path-readings.test.ts's policy). */
const ROUTES: Array<{ method?: string; express: string; werkzeug: RegExp; endpoint: string }> = [
  { method: 'POST', express: '/v1/chat/*', werkzeug: /^\/v1\/chat\/[^/].*$/, endpoint: 'chat' },
  { express: '/v1/export', werkzeug: /^\/v1\/export$/, endpoint: 'export' },
  { express: '/v1/export/*', werkzeug: /^\/v1\/export\/[^/].*$/, endpoint: 'export' },
  { express: '/v1/items/:id', werkzeug: /^\/v1\/items\/[^/]+$/, endpoint: 'items' },
  { express: '/v1/data', werkzeug: /^\/v1\/data$/, endpoint: 'default' },
  { express: '/v1/export-preview/*', werkzeug: /^\/v1\/export-preview\/[^/].*$/, endpoint: 'default' },
];

const EXPRESS = ROUTES.map((route) => ({ ...route, regex: expressRegex(route.express) }));

export function servedBy(router: Router, method: string, target: string): string | null {
  if (router === 'express4') return express4(method, target);
  const path = router === 'flask' ? werkzeugPath(target)?.replace(/^\/+/, '/') : normalizedPath(target);
  if (path === null || path === undefined || (router === 'flask' && path.includes('//'))) return null;
  return ROUTES.find((r) => (!r.method || r.method === method) && r.werkzeug.test(path))?.endpoint ?? null;
}

/** path-to-regexp 0.1.x with sensitive: false, strict: false, end: true. */
function expressRegex(path: string): RegExp {
  const body = path
    .replace(/[.+?^${}()|[\]\\/]/g, (c) => `\\${c}`)
    .replace(/:\w+/g, '(?:([^\\/]+?))')
    .replace(/\*/g, '(.*)');
  return new RegExp(`^${body}\\/?$`, 'i');
}

function express4(method: string, target: string): string | null {
  const pathname = /^\/[^?\t\n\f\r #\u00a0\ufeff]*(?:\?|$)/.test(target)
    ? target.split('?')[0]!
    : (legacyParse(target).pathname ?? '');
  for (const route of EXPRESS) {
    if (route.method && route.method !== method) continue;
    const match = route.regex.exec(pathname);
    if (!match) continue;
    try {
      for (const param of match.slice(1)) if (param !== undefined) decodeURIComponent(param);
    } catch {
      return null; // Express: 400 "Failed to decode param"
    }
    return route.endpoint;
  }
  return null;
}

/** PATH_INFO as Werkzeug builds it: urlsplit, unquote once to bytes, read as UTF-8 with replacement. */
function werkzeugPath(target: string): string | null {
  const path = target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').split(/[?#]/)[0]!;
  return Buffer.from(unquoteToBytes(path)).toString('utf8'); // invalid UTF-8 becomes U+FFFD, as in Werkzeug
}

function normalizedPath(target: string): string | null {
  const raw = target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').split(/[?#]/)[0]!;
  const withoutParams = raw
    .split('/')
    .map((segment) => segment.split(';')[0])
    .join('/');
  let decoded: string;
  try {
    decoded = decodeURIComponent(withoutParams);
  } catch {
    return null;
  }
  const out: string[] = [];
  for (const segment of decoded.replace(/\\/g, '/').split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(segment);
  }
  return `/${out.join('/')}`;
}

/** urllib.parse.unquote_to_bytes: valid %XX escapes decoded, everything else kept as its UTF-8 bytes. */
function unquoteToBytes(text: string): number[] {
  const bytes: number[] = [];
  const raw = Buffer.from(text, 'latin1'); // node:http hands the target over byte for byte as latin1
  for (let i = 0; i < raw.length; i++) {
    const hex = raw.subarray(i + 1, i + 3).toString('latin1');
    if (raw[i] === 0x25 && /^[0-9a-f]{2}$/i.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(raw[i]!);
  }
  return bytes;
}
