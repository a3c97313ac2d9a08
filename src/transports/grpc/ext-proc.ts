// Envoy ext_proc (envoy.service.ext_proc.v3.ExternalProcessor/Process) for metered routes: one stream
// per HTTP call. The request headers carry the reservation the gate took; the response (a header the
// app set, or the OpenAI-compatible `usage` in its JSON or SSE body) carries the actual units; the
// reservation is settled with them, or at its reserved amount when they cannot be read.
//
// Server-neutral: both gRPC servers feed a stream's messages here and write what it answers. In
// observability mode (the shipped config) Envoy ignores answers, so none is sent; otherwise every
// message is answered CONTINUE, unchanged, at once. The stream is ended as soon as the units are
// known, so Envoy sends no more of the body.

import { StoreUnavailable } from '../../errors.js';
import type {
  HttpHeaders,
  ProcessingRequest,
  ProcessingResponse,
} from '../../generated/envoy/service/ext_proc/v3/external_processor.js';
import type { HeaderMap } from '../../generated/envoy/config/core/v3/base.js';
import type { Logger } from '../../logger.js';
import {
  RESERVATION_HEADER,
  type ReservationSettler,
  type SettleResult,
} from '../../metering/reservation-settler.js';
import { USAGE_UNITS_HEADER, UsageReader, type UsageSource } from '../../metering/usage-reader.js';

/**
 * How a stream's usage was learned: a UsageSource, `incomplete` (the stream ended, was reset or ran
 * past its bound before the response did) or `none` (the call carried no reservation).
 */
export type ExtProcUsage = UsageSource | 'incomplete' | 'none';
/** What the settle did: a SettleResult outcome, `failed` (the store did not answer), `skipped` (nothing to settle). */
export type ExtProcResult = SettleResult['outcome'] | 'failed' | 'skipped';

/** Where a stream's answers go (the gRPC server's side of the call). */
export interface ExtProcSink {
  /** One answer; false when the transport asks the writer to wait (its buffer is full). */
  write(response: ProcessingResponse): boolean;
  /** Ends the call with status OK. */
  end(): void;
}

export interface ExtProcStream {
  message(request: ProcessingRequest): void;
  /** Envoy closed its side: no more messages. */
  end(): void;
  /** The call is gone (reset, deadline, shutdown): nothing more is read or written. */
  close(): void;
}

export type OpenExtProc = (sink: ExtProcSink) => ExtProcStream;

export interface ExtProcOptions {
  settler: ReservationSettler;
  /** Counts every stream once it is settled or given up (tollgate_ext_proc_streams_total). */
  record?(usage: ExtProcUsage, result: ExtProcResult): void;
  logger?: Logger;
  /** A stream still open after this long settles at its reservation and is ended. */
  maxStreamMs?: number;
  /** Waits between settle attempts while the store does not answer. */
  retryDelaysMs?: readonly number[];
}

/** Longer than any answer a metered call should stream; a reservation outlives it by its settle window. */
export const MAX_STREAM_MS = 15 * 60_000;
const RETRY_DELAYS_MS = [250, 1000, 4000] as const;

const CONTINUE = {
  requestHeaders: { requestHeaders: {} },
  responseHeaders: { responseHeaders: {} },
  requestBody: { requestBody: {} },
  responseBody: { responseBody: {} },
  requestTrailers: { requestTrailers: {} },
  responseTrailers: { responseTrailers: {} },
} as const satisfies Record<string, ProcessingResponse>;

export function createExtProc(options: ExtProcOptions): OpenExtProc {
  return (sink) => new MeteredStream(sink, options);
}

class MeteredStream implements ExtProcStream {
  private reservation: string | undefined;
  private readonly reader = new UsageReader();
  private done = false;
  private readonly bound: NodeJS.Timeout;

  constructor(
    private readonly sink: ExtProcSink,
    private readonly options: ExtProcOptions,
  ) {
    this.bound = setTimeout(() => this.finish('incomplete'), options.maxStreamMs ?? MAX_STREAM_MS);
    this.bound.unref();
  }

  message(request: ProcessingRequest): void {
    if (this.done) return;
    const answer = request.observabilityMode ? undefined : continueFor(request);
    if (answer) this.sink.write(answer);
    if (request.requestHeaders) this.requestHeaders(request.requestHeaders);
    else if (request.responseHeaders) {
      const { headers, endOfStream } = request.responseHeaders;
      this.reader.headers(header(headers, 'content-type'), header(headers, USAGE_UNITS_HEADER));
      if (this.reader.settled || endOfStream) this.finish();
      return;
    }
    if (request.responseBody) {
      this.reader.body(request.responseBody.body);
      if (request.responseBody.endOfStream || request.responseBody.endOfStreamWithoutMessage) this.finish();
      return;
    }
    if (request.responseTrailers) this.finish();
  }

  private requestHeaders({ headers }: HttpHeaders): void {
    const id = header(headers, RESERVATION_HEADER);
    if (id !== undefined && id !== '') this.reservation = id;
    else this.finish('none');
  }

  end(): void {
    this.finish('incomplete');
  }

  close(): void {
    this.finish('incomplete');
  }

  /** Once per stream: settles with what was read (or at the reservation) and ends the call. */
  private finish(why?: 'incomplete' | 'none'): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.bound);
    this.sink.end();
    const { reservation } = this;
    if (reservation === undefined) {
      this.options.record?.('none', 'skipped');
      return;
    }
    const reading = why ? { units: null, source: why } : this.reader.finish();
    void settle(this.options, reservation, reading.units).then((result) =>
      this.options.record?.(reading.source, result),
    );
  }
}

/** The CONTINUE answer to one message, unchanged. */
function continueFor(request: ProcessingRequest): ProcessingResponse | undefined {
  if (request.requestHeaders) return CONTINUE.requestHeaders;
  if (request.responseHeaders) return CONTINUE.responseHeaders;
  if (request.requestBody) return CONTINUE.requestBody;
  if (request.responseBody) return CONTINUE.responseBody;
  if (request.requestTrailers) return CONTINUE.requestTrailers;
  if (request.responseTrailers) return CONTINUE.responseTrailers;
  return undefined;
}

/** Settles, retrying while the store does not answer; never rejects. */
async function settle(
  { settler, logger, retryDelaysMs = RETRY_DELAYS_MS }: ExtProcOptions,
  reservation: string,
  units: number | null,
): Promise<ExtProcResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await settler.settle(reservation, units)).outcome;
    } catch (err) {
      const delay = retryDelaysMs[attempt];
      if (err instanceof StoreUnavailable && delay !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        continue;
      }
      // The reservation stands at its reserved amount when it expires: the books stay exact.
      logger?.warn(
        { err: { type: (err as Error)?.name } },
        'ext_proc: settle failed; the reservation stands',
      );
      return 'failed';
    }
  }
}

/** A header's value as Envoy sends it: `raw_value` bytes (current Envoy) or `value`. */
function header(map: HeaderMap | undefined, name: string): string | undefined {
  const headers = map?.headers;
  if (!headers) return undefined;
  for (const h of headers) {
    if (h.key.toLowerCase() !== name) continue;
    return h.rawValue.length > 0 ? h.rawValue.toString('latin1') : h.value;
  }
  return undefined;
}
