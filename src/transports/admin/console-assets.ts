// Admin listener: the console's static files (/console), served without the token — the page signs in itself,
// every data call it makes goes through the token-checked admin API. Strict CSP: nothing but this origin.

import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname } from 'node:path';

export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
/** Next to the compiled (dist/console) or source (src/console) admin server: copied by scripts/copy-assets.mjs. */
const DIR = new URL('../../console/', import.meta.url);

/** Read once at start: a handful of small files, so a request never touches the disk. */
function loadAssets(): Map<string, { type: string; body: Buffer }> {
  const assets = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(DIR)) {
    const type = TYPES[extname(name)];
    if (type) assets.set(name, { type, body: readFileSync(new URL(name, DIR)) });
  }
  return assets;
}

/** Answers /console and /console/<file>; false for any other path (the admin API's). */
export function consoleHandler(): (req: IncomingMessage, res: ServerResponse, path: string) => boolean {
  let assets: Map<string, { type: string; body: Buffer }> | undefined;
  return (req, res, path) => {
    if (path !== '/console' && !path.startsWith('/console/')) return false;
    assets ??= loadAssets();
    const name = path === '/console' || path === '/console/' ? 'index.html' : path.slice('/console/'.length);
    const asset = assets.get(name);
    const method = req.method ?? 'GET';
    res.setHeader('content-security-policy', CONSOLE_CSP);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('use GET\n');
    } else if (!asset) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such console file\n');
    } else {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' });
      res.end(method === 'HEAD' ? undefined : asset.body);
    }
    return true;
  };
}
