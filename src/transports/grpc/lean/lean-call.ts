// Lean gRPC server, one call (one HTTP/2 stream): reads the one request message within the size limit
// (or, for a bidirectional method, each message as it completes), keeps the grpc-timeout deadline,
// runs the method, and ends the stream with exactly one grpc-status.

import { status as GrpcStatus } from '@grpc/grpc-js';
import {
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { asGrpcError, type StreamSink } from '../grpc-call.js';
import {
  OK_TRAILERS,
  PREFIX_BYTES,
  RESPOND_OPTIONS,
  TRAILERS_ONLY_OPTIONS,
  RESPONSE_HEADERS,
  statusHeaders,
  timeoutMs,
} from './grpc-wire.js';
import type { LeanBidiHandler, LeanMethod } from './lean-methods.js';
import type { OpenCalls } from './open-calls.js';

// Stream listeners shared by every call (no closures per call): the stream carries its call. A throw
// escaping a listener would take the process down, so each one ends only its stream instead.
const CALL = Symbol('leanCall');
type CallStream = ServerHttp2Stream & { [CALL]?: LeanCall };
function onData(this: CallStream, chunk: Buffer): void {
  try {
    this[CALL]?.received(chunk);
  } catch {
    this.destroy();
  }
}
function onEnd(this: CallStream): void {
  try {
    this[CALL]?.ended();
  } catch {
    this.destroy();
  }
}
function onClose(this: CallStream): void {
  this[CALL]?.closed();
}
function onWantTrailers(this: CallStream): void {
  this[CALL]?.sendTrailers();
}
/** How long a stream ended with trailers may keep its client's side open. */
const TRAILERS_GRACE_MS = 1000;
function closeQuietly(stream: ServerHttp2Stream): void {
  if (!stream.closed && !stream.destroyed) stream.close(constants.NGHTTP2_NO_ERROR);
}
function onDrain(this: CallStream): void {
  this.resume();
}

export class LeanCall implements StreamSink<Buffer> {
  prev: LeanCall | undefined;
  next: LeanCall | undefined;
  private chunks: Buffer[] = [];
  private size = 0;
  /** Declared length of the request message, once its prefix has arrived. */
  private declared = -1;
  private answered = false;
  private headersSent = false;
  private trailers: OutgoingHttpHeaders = OK_TRAILERS;
  private deadline: NodeJS.Timeout | undefined;
  private stop: (() => void) | undefined;
  /** A bidirectional call's handler: it gets each request message as it completes. */
  private bidi: LeanBidiHandler | undefined;

  constructor(
    private readonly stream: CallStream,
    private readonly method: LeanMethod,
    private readonly maxMessageBytes: number,
    private readonly calls: OpenCalls,
  ) {}

  /** Starts reading; every failure from here on is answered with a status, never thrown. */
  start(headers: IncomingHttpHeaders): void {
    const { stream } = this;
    stream[CALL] = this;
    this.calls.add(this);
    stream.on('close', onClose);
    const ms = timeoutMs(headers['grpc-timeout']);
    if (Number.isNaN(ms)) {
      this.fail(GrpcStatus.INVALID_ARGUMENT, 'malformed grpc-timeout');
      return;
    }
    if (ms !== undefined)
      this.deadline = setTimeout(() => this.fail(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'), ms);
    if (this.method.bidi) this.bidi = this.method.bidi(this);
    stream.on('data', onData);
    stream.on('end', onEnd);
  }

  received(chunk: Buffer): void {
    if (this.answered) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    const problem = this.framingProblem(chunk);
    if (problem) this.fail(problem[0], problem[1]);
    else if (this.bidi) this.deliverMessages();
  }

  /** Bidirectional: hands every whole message to the handler; keeps only the part of the next one. */
  private deliverMessages(): void {
    while (this.bidi && !this.answered && this.declared >= 0 && this.size >= PREFIX_BYTES + this.declared) {
      const buf = this.joined();
      const end = PREFIX_BYTES + this.declared;
      let request: unknown;
      try {
        request = this.method.decode(buf, PREFIX_BYTES, end);
      } catch {
        this.fail(GrpcStatus.INVALID_ARGUMENT, 'a request message is not valid protobuf');
        return;
      }
      const rest = buf.subarray(end);
      // A copy: the rest is small next to the joined buffer it would otherwise keep alive.
      this.chunks = rest.length > 0 ? [Buffer.from(rest)] : [];
      this.size = rest.length;
      this.declared = -1;
      this.bidi.message(request);
      const problem = rest.length > 0 ? this.framingProblem(rest) : undefined;
      if (problem) this.fail(problem[0], problem[1]);
    }
  }

  /**
   * What is wrong with the bytes so far, checked as they arrive so nothing past the limit is kept.
   * Broken framing is the client's mistake: INVALID_ARGUMENT, as grpc-server.ts answers an undecodable
   * message (refuse-malformed.ts), so no dashboard counts a client's bytes as a server fault.
   */
  private framingProblem(chunk: Buffer): [number, string] | undefined {
    if (this.declared < 0 && this.size >= PREFIX_BYTES) {
      const head = this.chunks.length === 1 ? chunk : this.joined();
      if (head[0] !== 0)
        return [GrpcStatus.INVALID_ARGUMENT, 'compressed message without a grpc-encoding (identity only)'];
      this.declared = head.readUInt32BE(1);
      if (this.declared > this.maxMessageBytes)
        return [
          GrpcStatus.RESOURCE_EXHAUSTED,
          `Received message larger than max (${this.declared} vs. ${this.maxMessageBytes})`,
        ];
    }
    if (!this.bidi && this.declared >= 0 && this.size > PREFIX_BYTES + this.declared)
      return [GrpcStatus.INVALID_ARGUMENT, 'more than one request message for a unary call'];
    return undefined;
  }

  ended(): void {
    if (this.answered) return;
    if (this.bidi) {
      if (this.size > 0) this.fail(GrpcStatus.INVALID_ARGUMENT, 'truncated request message');
      else this.bidi.end();
      return;
    }
    if (this.declared < 0 || this.size < PREFIX_BYTES + this.declared) {
      this.fail(
        GrpcStatus.INVALID_ARGUMENT,
        this.size === 0 ? 'no request message' : 'truncated request message',
      );
      return;
    }
    const buf = this.joined();
    this.chunks = [];
    let request: unknown;
    try {
      request = this.method.decode(buf, PREFIX_BYTES, PREFIX_BYTES + this.declared);
    } catch {
      this.fail(GrpcStatus.INVALID_ARGUMENT, 'the request message is not valid protobuf');
      return;
    }
    if (this.method.stream) {
      this.stop = this.method.stream(request, this);
      return;
    }
    this.method.unary!(request).then(
      (frame) => this.reply(frame),
      (err: unknown) => {
        const { code, details } = asGrpcError(err);
        this.fail(code, details);
      },
    );
  }

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  /** The unary answer: headers, the message, OK trailers. */
  private reply(frame: Buffer): void {
    if (!this.open()) return;
    this.answered = true;
    this.clearDeadline();
    try {
      this.respond();
      this.stream.end(frame);
    } catch {
      this.stream.destroy();
    }
  }

  /**
   * StreamSink (Watch, bidirectional calls): one framed message. False when the client reads slower
   * than we write: its messages are then not read until the written ones drain.
   */
  write(frame: Buffer): boolean {
    if (!this.open()) return false;
    let flowing = true;
    this.guard(() => {
      if (!this.headersSent) this.respond();
      flowing = this.stream.write(frame);
      if (!flowing) {
        this.stream.pause();
        this.stream.once('drain', onDrain);
      }
    });
    return flowing;
  }

  /** StreamSink (Watch): the end of the stream, status OK. */
  end(): void {
    this.fail(GrpcStatus.OK, '');
  }

  /** Ends the call with a status: trailers after a message, else a trailers-only answer. */
  fail(code: number, details: string): void {
    if (!this.open()) return;
    this.answered = true;
    this.clearDeadline();
    const { stream } = this;
    this.guard(() => {
      if (this.headersSent) {
        // The trailers go out on 'wantTrailers'; a client still sending is told to stop after them.
        this.trailers = statusHeaders(code, details, false);
        stream.end();
        return;
      }
      stream.respond(statusHeaders(code, details, true), TRAILERS_ONLY_OPTIONS);
      // A client still sending (an oversized or extra message) is told to stop, without an error.
      if (!stream.readableEnded) stream.close(constants.NGHTTP2_NO_ERROR);
    });
  }

  private respond(): void {
    this.headersSent = true;
    this.stream.respond(RESPONSE_HEADERS, RESPOND_OPTIONS);
    this.stream.once('wantTrailers', onWantTrailers);
  }

  sendTrailers(): void {
    try {
      this.stream.sendTrailers(this.trailers);
      // A client still sending (a bidirectional call ended by us) is told to stop once the trailers
      // are surely out: a RST_STREAM sent at once can overtake them and read as a call with no status.
      if (!this.stream.readableEnded) setTimeout(closeQuietly, TRAILERS_GRACE_MS, this.stream).unref();
    } catch {
      this.stream.destroy();
    }
  }

  /** Shutdown past its bound: the call is cut (RST_STREAM CANCEL), its late answer dropped. */
  cancel(): void {
    this.answered = true;
    this.guard(() => this.stream.close(constants.NGHTTP2_CANCEL));
  }

  private open(): boolean {
    return !this.answered && !this.stream.destroyed && !this.stream.closed;
  }

  /** Whatever node:http2 throws for a stream that went away meanwhile ends that stream only. */
  private guard(write: () => void): void {
    try {
      write();
    } catch {
      this.stream.destroy();
    }
  }

  closed(): void {
    this.calls.remove(this);
    this.stream[CALL] = undefined;
    this.answered = true;
    this.clearDeadline();
    this.chunks = [];
    this.stop?.();
    this.stop = undefined;
    const { bidi } = this;
    this.bidi = undefined;
    bidi?.close();
  }

  private clearDeadline(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = undefined;
  }
}
