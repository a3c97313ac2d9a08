// Request target → the canonical path endpoints are matched on, so encoded or odd spellings cannot dodge an override.
//
// Matching is deliberately stricter than any one upstream framework: we decode what some upstream
// might decode (percent-escapes incl. %2F, backslashes, matrix params, trailing dots, case) so that
// every spelling an upstream could route to /v1/export lands on the /v1/export endpoint here.

const MAX_DECODE_ROUNDS = 3;

export function normalizePath(target: string): string {
  let path = target;
  const cut = path.search(/[?#]/);
  if (cut >= 0) path = path.slice(0, cut);
  for (let round = 0; round < MAX_DECODE_ROUNDS && path.includes('%'); round++) {
    const decoded = percentDecode(path);
    if (decoded === path) break;
    path = decoded;
  }
  path = path.replace(/\\/g, '/');
  const out: string[] = [];
  for (const raw of path.split('/')) {
    const segment = stripSegment(raw);
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return `/${out.join('/')}`.toLowerCase();
}

/** Drops matrix parameters (`;jsessionid=…`) and trailing dots/spaces that some servers ignore. */
function stripSegment(raw: string): string {
  const semi = raw.indexOf(';');
  const segment = semi >= 0 ? raw.slice(0, semi) : raw;
  if (segment === '.' || segment === '..') return segment;
  return segment.replace(/[. ]+$/, '');
}

/** Decodes valid %XX escapes; a malformed escape or invalid UTF-8 leaves that escape as is. */
function percentDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}
