// Request target → the canonical path endpoints are matched on, so encoded or odd spellings cannot dodge an override.
//
// Matching is deliberately stricter than any one upstream framework: we decode what some upstream
// might decode (percent-escapes incl. %2F, backslashes, matrix params, trailing dots, case) so that
// every spelling an upstream could route to /v1/export lands on the /v1/export endpoint here.

const MAX_DECODE_ROUNDS = 3;
/** `scheme://authority` of an absolute-form target (RFC 9112 §3.2.2): the path is what follows. */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\\]*/i;
/** Overlong (invalid) UTF-8 spellings of ASCII, e.g. %c0%ae = '.', %c0%af = '/', %e0%80%ae = '.'. */
const OVERLONG_2 = /%c[01]%[89ab][0-9a-f]/gi;
const OVERLONG_3 = /%e0%[89][0-9a-f]%[89ab][0-9a-f]/gi;

export function normalizePath(target: string): string {
  let path = target.replace(ABSOLUTE_FORM, '');
  const cut = path.search(/[?#]/);
  if (cut >= 0) path = path.slice(0, cut);
  for (let round = 0; round < MAX_DECODE_ROUNDS && path.includes('%'); round++) {
    const decoded = percentDecode(path);
    if (decoded === path) break;
    path = decoded;
  }
  // A C-based upstream may end the path at a NUL byte.
  const nul = path.indexOf('\0');
  if (nul >= 0) path = path.slice(0, nul);
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

/**
 * Decodes valid %XX escapes; overlong UTF-8 of ASCII decodes to that ASCII character (old servers
 * did so); any other malformed escape or invalid UTF-8 is left as is.
 */
function percentDecode(input: string): string {
  const path = input.replace(OVERLONG_2, overlong).replace(OVERLONG_3, overlong);
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

/** The ASCII character an overlong 2- or 3-byte sequence spells, kept percent-encoded for the next step. */
function overlong(escapes: string): string {
  const bytes = escapes
    .split('%')
    .slice(1)
    .map((hex) => parseInt(hex, 16));
  const code =
    bytes.length === 2
      ? ((bytes[0]! & 0x1f) << 6) | (bytes[1]! & 0x3f)
      : ((bytes[0]! & 0x0f) << 12) | ((bytes[1]! & 0x3f) << 6) | (bytes[2]! & 0x3f);
  return `%${code.toString(16).padStart(2, '0')}`;
}
