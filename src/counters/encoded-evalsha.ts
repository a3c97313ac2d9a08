// Counters: the decision connection's EVALSHA, written as one Buffer encoded here (RESP2 array of bulk
// strings) instead of by ioredis' Command.toWritable, which concatenates a string per argument and
// then encodes it again on write: with a batch of decisions that was an eighth of the garbage a
// decision made. ioredis still owns the connection, queueing, replies, reconnects and errors.
//
// Standalone Redis only: a Cluster routes a command by the keys ioredis reads from its arguments,
// which an encoded command does not expose (a Cluster decide goes through RedisScript.run).

import { Command, type Redis } from 'ioredis';

/** A command whose wire bytes are already encoded: ioredis writes them as they are. */
export class EncodedCommand extends Command {
  constructor(
    name: string,
    private readonly encoded: Buffer,
  ) {
    // Bulk replies as strings, as the commands ioredis builds itself answer.
    super(name, [], { replyEncoding: 'utf8' });
  }

  override toWritable(): Buffer {
    return this.encoded;
  }
}

/** A Lua script by its source and SHA-1 (RedisScript). */
export interface ScriptSource {
  readonly source: string;
  readonly sha: string;
}

const isNoScript = (err: unknown) => err instanceof Error && err.message.startsWith('NOSCRIPT');

/**
 * EVALSHA `script` with KEYS the concatenation of `keys` and ARGV that of `args` (lists of lists, so
 * a batch need not be copied into one array), NOSCRIPT → EVAL as RedisScript.run does.
 */
export async function evalshaEncoded(
  redis: Redis,
  script: ScriptSource,
  keys: readonly (readonly string[])[],
  args: readonly (readonly string[])[],
): Promise<unknown> {
  let keyCount = 0;
  for (const list of keys) keyCount += list.length;
  const head = ['evalsha', script.sha, String(keyCount)];
  try {
    return await redis.sendCommand(new EncodedCommand('evalsha', encodeCommand([head, ...keys, ...args])));
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return await redis.eval(script.source, keyCount, ...keys.flat(), ...args.flat());
  }
}

/** `*<n>\r\n` then `$<bytes>\r\n<string>\r\n` for each string of each list, in order. */
export function encodeCommand(lists: readonly (readonly string[])[]): Buffer {
  let count = 0;
  // A UTF-16 code unit is at most 3 bytes of UTF-8; 16 covers `$`, the length and both CRLFs.
  let bound = 16;
  for (const list of lists) {
    count += list.length;
    for (const s of list) bound += 3 * s.length + 16;
  }
  const buf = bound <= scratch.length ? scratch : Buffer.allocUnsafe(bound);
  buf[0] = 0x2a; // '*'
  let at = crlf(buf, writeDigits(buf, 1, count));
  for (const list of lists) for (const s of list) at = bulkString(buf, at, s);
  if (buf !== scratch) return buf.subarray(0, at);
  const out = Buffer.allocUnsafe(at);
  scratch.copy(out, 0, 0, at);
  return out;
}

/** One buffer for every command that fits (encoding is synchronous); the result is copied out of it. */
const scratch = Buffer.allocUnsafe(64 * 1024);

/**
 * `$<bytes>\r\n<string>\r\n` at `at`; returns the end. Keys and arguments are ASCII: written as if
 * they were, character by character (cheaper than Buffer.byteLength and buf.write, calls into C++
 * that were most of this encoder's time), and written again by UTF-8 from the first one that is not.
 */
function bulkString(buf: Buffer, at: number, s: string): number {
  const n = s.length;
  buf[at] = 0x24; // '$'
  let p = crlf(buf, writeDigits(buf, at + 1, n));
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      p = crlf(buf, writeDigits(buf, at + 1, Buffer.byteLength(s)));
      return crlf(buf, p + buf.write(s, p, 'utf8'));
    }
    buf[p++] = c;
  }
  return crlf(buf, p);
}

function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

function writeDigits(buf: Buffer, at: number, n: number): number {
  const end = at + digits(n);
  for (let i = end - 1; i >= at; i--) {
    buf[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return end;
}

function crlf(buf: Buffer, at: number): number {
  buf[at] = 0x0d;
  buf[at + 1] = 0x0a;
  return at + 2;
}
