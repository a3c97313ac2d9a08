// Request target → the one path endpoints are matched on, or the reason it has more than one reading.
//
// The proxy forwards the raw target and the app's router reads it raw (Express) or decoded once
// (Flask, most WSGI/Rack servers), some servers resolve dot segments, strip `;` parameters or trailing
// dots, or take `\` for `/`. Tollgate never picks one of those readings: a target where they could
// differ is refused (400 ambiguous_path). What is left has the same segments in every reading, and
// endpoint patterns hold only unreserved characters (parse-endpoint.ts), so raw and decoded agree.
// Read through, because no router picks another endpoint for them: `//`, a trailing `/`, letter case
// (ASCII), the query string and an absolute-form `scheme://authority` prefix.

export type PathReading = { path: string; ambiguous?: undefined } | { ambiguous: string; path?: undefined };

/** `scheme://authority` of an absolute-form target (RFC 9112 §3.2.2): the path is what follows. */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;
/** `%` + two hex digits, anything else after a `%` is malformed. */
const STRAY_PERCENT = /%(?![0-9a-f]{2})/i;
const ESCAPE_RUN = /(?:%[0-9a-f]{2})+/gi;
/** Printable ASCII except space, `\`, `;` and `#`: anything else reads differently somewhere. */
const PLAIN_TARGET = /^[\x21-\x22\x24-\x3a\x3c-\x5b\x5d-\x7e]*$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** More rounds than any stack of decoders between a client and an app plausibly applies. */
const MAX_DECODE_ROUNDS = 4;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const SLASH = 0x2f;

export function normalizePath(target: string): PathReading {
  let path = target.charCodeAt(0) === SLASH ? target : target.replace(ABSOLUTE_FORM, '');
  const query = path.indexOf('?');
  if (query >= 0) path = path.slice(0, query);
  if (path === '') return { path: '/' };
  if (!path.startsWith('/')) return { ambiguous: 'the path does not start with /' };
  if (!PLAIN_TARGET.test(path))
    return { ambiguous: 'the path holds a space, control, non-ASCII, \\, ; or # character' };
  if (isOneReading(path)) return { path: path.toLowerCase() };
  const segments = path.split('/').filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..'))
    return { ambiguous: 'the path holds a dot segment' };
  const problem = decodingProblem(path);
  if (problem) return { ambiguous: problem };
  return { path: `/${segments.join('/')}`.toLowerCase() };
}

/**
 * The common case, read without splitting: no escape, no empty segment or trailing `/`, and no segment
 * that starts or ends with a dot (so no dot segment, nothing for decodingProblem to refuse). Such a
 * path of plain characters is already its one reading, but for letter case.
 */
function isOneReading(path: string): boolean {
  if (path.length === 1) return true;
  return (
    path.charCodeAt(path.length - 1) !== SLASH &&
    !path.endsWith('.') &&
    !path.includes('%') &&
    !path.includes('//') &&
    !path.includes('/.') &&
    !path.includes('./')
  );
}

/**
 * Decodes as often as a stack of decoders could (each round must be valid UTF-8) and refuses any
 * escape that changes what a segment is: encoded unreserved characters (`%2e`, `%65`), `/`, `\`,
 * `;`, control characters, and what NFKC folds into one of `. / \`. Segments that end in `.` or a
 * space once decoded are refused too (Windows servers drop those).
 */
function decodingProblem(raw: string): string | undefined {
  let current = raw;
  for (let round = 0; current.includes('%'); round++) {
    if (round === MAX_DECODE_ROUNDS) return 'the path is percent-encoded too many times';
    if (STRAY_PERCENT.test(current)) return 'the path holds a % that is not percent-encoding';
    let problem: string | undefined;
    current = current.replace(ESCAPE_RUN, (run) => {
      const decoded = decodeRun(run);
      if (typeof decoded !== 'string') problem ??= decoded.problem;
      return typeof decoded === 'string' ? decoded : run;
    });
    if (problem) return problem;
  }
  if (/[. ](?:\/|$)/.test(current)) return 'a path segment ends in a dot or a space';
  return undefined;
}

function decodeRun(run: string): string | { problem: string } {
  const bytes = Uint8Array.from(run.slice(1).split('%'), (hex) => parseInt(hex, 16));
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { problem: 'the path holds percent-encoding that is not valid UTF-8' };
  }
  for (const char of text) {
    if (UNRESERVED.test(char)) return { problem: 'the path percent-encodes a letter, digit, or - . _ ~' };
    if (char === '/' || char === '\\') return { problem: 'the path holds an encoded / or \\' };
    if (char === ';') return { problem: 'the path holds an encoded ;' };
    const code = char.codePointAt(0)!;
    if (code < 0x20 || (code >= 0x7f && code < 0xa0))
      return { problem: 'the path holds an encoded control character' };
    if (code > 0x7f && /[./\\]/.test(char.normalize('NFKC')))
      return { problem: 'the path holds a character that normalises to . / or \\' };
  }
  return text;
}
