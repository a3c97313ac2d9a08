// gRPC listeners (grpc-js and lean): the server-neutral shape of one method, called by both servers;
// only the framing around it differs.

import { status as GrpcStatus } from '@grpc/grpc-js';

/** A failed RPC: the status and the grpc-message both servers send. */
export interface GrpcError {
  code: GrpcStatus;
  details: string;
}

/** One unary method: the decoded request → the response, or a rejection with a GrpcError. */
export type UnaryCall<Request, Response> = (request: Request) => Promise<Response>;

/** A server-streaming method's outlet (grpc.health.v1 Watch): messages, then an OK end. */
export interface StreamSink<Response> {
  write(message: Response): void;
  end(): void;
}

/** What a handler rejected with, as a status: its own GrpcError, else INTERNAL (never its message). */
export function asGrpcError(err: unknown): GrpcError {
  if (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as GrpcError).code === 'number' &&
    typeof (err as GrpcError).details === 'string'
  )
    return err as GrpcError;
  return { code: GrpcStatus.INTERNAL, details: 'internal error' };
}

/** A gRPC server bound on GRPC_PORT, whichever implementation (grpc-listener.ts picks it). */
export interface GrpcListener {
  /** Binds plaintext and resolves with the bound port; port 0 picks one. */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting, lets in-flight calls finish; calls still open after `forceAfterMs` are cancelled. */
  close(forceAfterMs: number): Promise<void>;
}
