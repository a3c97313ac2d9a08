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

/** `*<n>\r\n` then `$<bytes>\r\n<string>\r\n` for each string of each list, in order: one allocation. */
export function encodeCommand(lists: readonly (readonly string[])[]): Buffer {
  let count = 0;
  let size = 0;
  for (const list of lists)
    for (const s of list) {
      const bytes = Buffer.byteLength(s);
      size += 1 + digits(bytes) + 2 + bytes + 2;
      count++;
    }
  size += 1 + digits(count) + 2;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 0x2a; // '*'
  let at = writeDigits(buf, 1, count);
  at = crlf(buf, at);
  for (const list of lists)
    for (const s of list) {
      buf[at++] = 0x24; // '$'
      at = crlf(buf, writeDigits(buf, at, Buffer.byteLength(s)));
      at += buf.write(s, at, 'utf8');
      at = crlf(buf, at);
    }
  return buf;
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
