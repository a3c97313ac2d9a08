// The usage reader: units from an OpenAI-compatible answer (x-usage-units, a JSON body, an SSE
// stream), fed in arbitrary pieces, with its memory bounded whatever the body is.

import { describe, expect, it } from 'vitest';
import { MAX_EVENT_BYTES, MAX_JSON_BYTES, UsageReader, unitsOf } from '../../src/metering/usage-reader.js';

/** Feeds `body` in `size`-byte pieces (splitting UTF-8 sequences and line ends where they fall). */
function read(contentType: string | undefined, body: string, size: number, header?: string) {
  const reader = new UsageReader();
  reader.headers(contentType, header);
  const bytes = Buffer.from(body, 'utf8');
  for (let at = 0; at < bytes.length; at += size) reader.body(bytes.subarray(at, at + size));
  return reader.finish();
}

const SSE = [
  'data: {"choices":[{"delta":{"content":"Grüße"}}],"usage":null}',
  '',
  ': a comment',
  'event: message',
  'data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42}}',
  '',
  'data: [DONE]',
  '',
  '',
].join('\n');

describe('UsageReader', () => {
  it('reads usage.total_tokens from a JSON body in any split', () => {
    const body = JSON.stringify({
      id: 'x',
      choices: [{ message: { content: 'naïve' } }],
      usage: { total_tokens: 321 },
    });
    for (const size of [1, 3, 7, 1000])
      expect(read('application/json', body, size)).toEqual({ units: 321, source: 'body' });
  });

  it('adds prompt + completion, or input + output, when there is no total', () => {
    expect(unitsOf({ prompt_tokens: 5, completion_tokens: 7 })).toBe(12);
    expect(unitsOf({ input_tokens: 3, output_tokens: 4 })).toBe(7);
    expect(unitsOf({ prompt_tokens: 5 })).toBeNull();
    expect(unitsOf({ total_tokens: -1 })).toBeNull();
    expect(unitsOf({ total_tokens: 1.5 })).toBeNull();
    expect(unitsOf({ total_tokens: 2e9 })).toBeNull();
    expect(unitsOf([1])).toBeNull();
  });

  it('reads the last usage of an SSE stream split anywhere, LF or CRLF', () => {
    for (const text of [SSE, SSE.replaceAll('\n', '\r\n')])
      for (const size of [1, 2, 5, 13, 64, 100_000])
        expect(read('text/event-stream; charset=utf-8', text, size)).toEqual({ units: 42, source: 'body' });
  });

  it('reads an event whose data spans several lines, and a stream that ends without a blank line', () => {
    const multi = 'data: {"usage":\ndata: {"total_tokens": 9}}\n\n';
    expect(read('text/event-stream', multi, 4)).toEqual({ units: 9, source: 'body' });
    expect(read('text/event-stream', 'data: {"usage":{"total_tokens":8}}', 4)).toEqual({
      units: 8,
      source: 'body',
    });
  });

  it('takes x-usage-units over the body; an unreadable header falls back to the body', () => {
    const reader = new UsageReader();
    reader.headers('application/json', '77');
    expect(reader.settled).toBe(true);
    reader.body(Buffer.from('{"usage":{"total_tokens":1}}'));
    expect(reader.finish()).toEqual({ units: 77, source: 'header' });
    expect(read('application/json', '{"usage":{"total_tokens":5}}', 4, 'lots')).toEqual({
      units: 5,
      source: 'body',
    });
    expect(read('application/json', '{}', 4, '-3')).toEqual({ units: null, source: 'unreadable' });
  });

  it('missing: no body, no usage, usage null; unreadable: not JSON, a usage that is not a count', () => {
    expect(read('application/json', '', 4)).toEqual({ units: null, source: 'missing' });
    expect(read('application/json', '{"id":"x"}', 4)).toEqual({ units: null, source: 'missing' });
    expect(read(undefined, '{"usage":null}', 4)).toEqual({ units: null, source: 'missing' });
    expect(read('text/event-stream', 'data: {"usage":null}\n\ndata: [DONE]\n\n', 4)).toEqual({
      units: null,
      source: 'missing',
    });
    expect(read('application/json', '<html>', 4)).toEqual({ units: null, source: 'unreadable' });
    expect(read('application/json', '{"usage":{"total_tokens":"9"}}', 4)).toEqual({
      units: null,
      source: 'unreadable',
    });
    expect(read('text/event-stream', 'data: {"usage": {oops\n\n', 4)).toEqual({
      units: null,
      source: 'unreadable',
    });
  });

  it('keeps no more than MAX_JSON_BYTES of a JSON body: a larger one is unreadable', () => {
    const reader = new UsageReader();
    reader.headers('application/json', undefined);
    const piece = Buffer.alloc(64 * 1024, 0x20);
    for (let i = 0; i <= MAX_JSON_BYTES / piece.length; i++) reader.body(piece);
    const kept = (reader as unknown as { chunks: Uint8Array[] }).chunks;
    expect(kept.reduce((n, c) => n + c.length, 0)).toBe(0);
    reader.body(Buffer.from('{"usage":{"total_tokens":1}}'));
    expect(reader.finish()).toEqual({ units: null, source: 'unreadable' });
  });

  it('keeps no more than MAX_EVENT_BYTES of an SSE line or event, and reads the events after it', () => {
    const reader = new UsageReader();
    reader.headers('text/event-stream', undefined);
    const piece = Buffer.alloc(64 * 1024, 0x78);
    const state = reader as unknown as { line: string; event: string };
    for (let i = 0; i < 100; i++) {
      reader.body(piece);
      expect(state.line.length + state.event.length).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    }
    reader.body(Buffer.from('\n\n'));
    const longData = `data: ${'y'.repeat(100_000)}\n`;
    for (let i = 0; i < 5; i++) {
      reader.body(Buffer.from(longData));
      expect(state.line.length + state.event.length).toBeLessThanOrEqual(MAX_EVENT_BYTES);
    }
    reader.body(Buffer.from('\ndata: {"usage":{"total_tokens":3}}\n\n'));
    expect(reader.finish()).toEqual({ units: 3, source: 'body' });
  });
});
