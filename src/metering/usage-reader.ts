// Metering from the response: the units an OpenAI-compatible answer reports, read as its bytes go by.
//
//   x-usage-units: 1234                      a response header the app may set (wins over the body)
//   {"usage": {"total_tokens": 1234}}        a JSON body (or prompt_tokens + completion_tokens,
//                                            or input_tokens + output_tokens)
//   data: {..., "usage": {...}}\n\n          a streamed (SSE) body: the last event carrying usage
//
// Memory is bounded whatever the upstream sends: a JSON body past MAX_JSON_BYTES, or one SSE event
// past MAX_EVENT_BYTES, is dropped (the usage is then unreadable). Nothing here throws on input.

import { MAX_SETTLE_UNITS } from './reservation-settler.js';

/** The response header an app may set with the call's actual units instead of a usage object. */
export const USAGE_UNITS_HEADER = 'x-usage-units';
/** A non-streamed answer is kept whole until its end, up to this size. */
export const MAX_JSON_BYTES = 1024 * 1024;
/** One SSE event (its data lines) is kept until its blank line, up to this size. */
export const MAX_EVENT_BYTES = 256 * 1024;

/**
 * Where the units came from: `header`, `body`; or why they are unknown (the call then settles at
 * its reservation): `missing` (no usage anywhere), `unreadable` (usage or header present but not a
 * count, a body too large or not JSON).
 */
export type UsageSource = 'header' | 'body' | 'missing' | 'unreadable';

export interface UsageReading {
  units: number | null;
  source: UsageSource;
}

type Mode = 'json' | 'sse' | 'done';

export class UsageReader {
  private mode: Mode = 'json';
  private fromHeader: number | null = null;
  private headerUnreadable = false;
  // json: the body so far (dropped once past the bound)
  private chunks: Uint8Array[] = [];
  private size = 0;
  private tooLarge = false;
  // sse: the text of the current line and event, and the last usage seen
  private readonly decoder = new TextDecoder('utf-8');
  private line = '';
  private skippingLine = false;
  /** The last text ended in CR: a LF opening the next is the same line end. */
  private pendingCr = false;
  private event = '';
  private eventTooLarge = false;
  private lastUsage: number | null = null;
  private sawUnreadable = false;

  /** The response headers: picks the body reading (SSE or JSON) or takes the app's header. */
  headers(contentType: string | undefined, usageHeader: string | undefined): void {
    if (usageHeader !== undefined) {
      const units = parseCount(usageHeader.trim());
      if (units !== null) {
        this.fromHeader = units;
        this.mode = 'done';
        return;
      }
      this.headerUnreadable = true;
    }
    if (contentType?.toLowerCase().includes('text/event-stream')) this.mode = 'sse';
  }

  /** True once the units are known and no body needs reading. */
  get settled(): boolean {
    return this.mode === 'done';
  }

  /** One piece of the response body, in order. */
  body(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.mode === 'json') this.keepJson(chunk);
    else if (this.mode === 'sse') this.readSse(this.decoder.decode(chunk, { stream: true }));
  }

  /** The body ended (or the stream did): what was read. */
  finish(): UsageReading {
    if (this.fromHeader !== null) return { units: this.fromHeader, source: 'header' };
    if (this.mode === 'sse') {
      this.readSse(`${this.decoder.decode()}\n\n`);
      if (this.lastUsage !== null) return { units: this.lastUsage, source: 'body' };
      return this.unknown(this.sawUnreadable);
    }
    if (this.tooLarge) return this.unknown(true);
    if (this.size === 0) return this.unknown(false);
    const body = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    const units = usageIn(body.toString('utf8'));
    return typeof units === 'number' ? { units, source: 'body' } : this.unknown(units === 'unreadable');
  }

  private unknown(unreadable: boolean): UsageReading {
    return { units: null, source: unreadable || this.headerUnreadable ? 'unreadable' : 'missing' };
  }

  private keepJson(chunk: Uint8Array): void {
    if (this.tooLarge) return;
    this.size += chunk.length;
    if (this.size > MAX_JSON_BYTES) {
      this.tooLarge = true;
      this.chunks = [];
      return;
    }
    // The transport may reuse its buffer: keep a copy.
    this.chunks.push(Uint8Array.prototype.slice.call(chunk));
  }

  /** Splits decoded text into lines (LF, CRLF or CR) and feeds whole lines to the event reader. */
  private readSse(text: string): void {
    let start = 0;
    if (this.pendingCr && text.charCodeAt(0) === 10) start = 1;
    this.pendingCr = false;
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.appendLine(text, start, i);
      this.endLine();
      // CRLF is one line end, even split across two pieces.
      if (c === 13 && i + 1 === text.length) this.pendingCr = true;
      else if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.appendLine(text, start, text.length);
  }

  private appendLine(text: string, start: number, end: number): void {
    if (this.skippingLine || start === end) return;
    if (this.line.length + (end - start) > MAX_EVENT_BYTES) {
      this.skippingLine = true;
      this.line = '';
      return;
    }
    this.line += text.slice(start, end);
  }

  private endLine(): void {
    const { line } = this;
    const skipped = this.skippingLine;
    this.line = '';
    this.skippingLine = false;
    if (skipped) {
      this.eventTooLarge = true;
      return;
    }
    if (line === '') {
      this.dispatch();
      return;
    }
    if (!line.startsWith('data:')) return;
    const data = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
    if (this.eventTooLarge) return;
    if (this.event.length + data.length + 1 > MAX_EVENT_BYTES) {
      this.eventTooLarge = true;
      this.event = '';
      return;
    }
    this.event = this.event === '' ? data : `${this.event}\n${data}`;
  }

  /** A blank line ends an event: its data, if it mentions usage, may carry the count. */
  private dispatch(): void {
    const { event } = this;
    const tooLarge = this.eventTooLarge;
    this.event = '';
    this.eventTooLarge = false;
    if (tooLarge) {
      this.sawUnreadable = true;
      return;
    }
    if (!event.includes('"usage"')) return;
    // OpenAI sends "usage": null on every chunk but the last when include_usage is on: absent.
    const units = usageIn(event);
    if (typeof units === 'number') this.lastUsage = units;
    else if (units === 'unreadable') this.sawUnreadable = true;
  }
}

/** The units of a JSON document's `usage`: `absent` (none, or null), `unreadable` (bad JSON or usage). */
function usageIn(json: string): number | 'absent' | 'unreadable' {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return 'unreadable';
  }
  const usage = isObject(parsed) ? parsed.usage : undefined;
  if (usage === undefined || usage === null) return 'absent';
  return unitsOf(usage) ?? 'unreadable';
}

/** total_tokens, else prompt + completion (Chat Completions), else input + output (Responses, Messages). */
export function unitsOf(usage: unknown): number | null {
  if (!isObject(usage)) return null;
  const total = count(usage.total_tokens);
  if (total !== null) return total;
  const pair = (a: unknown, b: unknown) => {
    const x = count(a);
    const y = count(b);
    return x === null || y === null ? null : capped(x + y);
  };
  return pair(usage.prompt_tokens, usage.completion_tokens) ?? pair(usage.input_tokens, usage.output_tokens);
}

function count(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? capped(value) : null;
}

function capped(units: number): number | null {
  return units <= MAX_SETTLE_UNITS ? units : null;
}

function parseCount(text: string): number | null {
  if (!/^\d{1,10}$/.test(text)) return null;
  return capped(Number(text));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
