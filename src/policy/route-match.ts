// Endpoint path patterns (`/v1/chat/**`, `/v1/items/*`) compiled once into matchers on normalised paths.

/** `*` matches one segment; a trailing `/**` matches the prefix itself and everything below it. */
export function compilePathPattern(pattern: string): (path: string) => boolean {
  const lower = pattern.toLowerCase();
  const deep = lower.endsWith('/**');
  const base = deep ? lower.slice(0, -3) : lower;
  const body = base
    .split('/')
    .map((segment) => (segment === '*' ? '[^/]+' : escapeRegExp(segment)))
    .join('/');
  const regex = new RegExp(`^${body}${deep ? '(?:/.*)?' : '/?'}$`);
  return (path) => regex.test(path);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
