// gRPC listener: a request message that does not decode is the client's mistake, INVALID_ARGUMENT.
//
// grpc-js answers a deserializer throw with INTERNAL (a server fault to any dashboard or retry policy).
// Wrapped here, the deserializer returns a marker instead and the handler answers INVALID_ARGUMENT.

import {
  type MethodDefinition,
  type ServiceDefinition,
  status as GrpcStatus,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';

const MALFORMED = Symbol('malformed request message');
export const MALFORMED_REFUSAL = {
  code: GrpcStatus.INVALID_ARGUMENT,
  details: 'the request message is not valid protobuf',
};

/** A streamed request message that did not decode (the handler of a client stream checks each one). */
export function isMalformed(message: unknown): boolean {
  return message === MALFORMED;
}

type AnyMethod = MethodDefinition<unknown, unknown>;
type Handler = (
  call: { request: unknown; emit(event: 'error', err: unknown): boolean },
  callback?: (err: unknown) => void,
) => void;

/** The service definition and implementation, with every method's malformed messages refused. */
export function refuseMalformed<S extends ServiceDefinition>(
  definition: S,
  implementation: object,
): [ServiceDefinition, UntypedServiceImplementation] {
  const methods: Record<string, AnyMethod> = {};
  const handlers: Record<string, Handler> = {};
  for (const [name, method] of Object.entries(definition as Record<string, AnyMethod>)) {
    methods[name] = { ...method, requestDeserialize: (bytes) => tryDecode(method, bytes) };
    const handler = (implementation as Record<string, Handler | undefined>)[name];
    if (!handler) continue;
    handlers[name] = (call, callback) => {
      if (call.request !== MALFORMED) return handler(call, callback);
      if (callback) return callback(MALFORMED_REFUSAL);
      call.emit('error', MALFORMED_REFUSAL);
    };
  }
  return [methods as ServiceDefinition, handlers as unknown as UntypedServiceImplementation];
}

function tryDecode(method: AnyMethod, bytes: Buffer): unknown {
  try {
    return method.requestDeserialize(bytes);
  } catch {
    return MALFORMED;
  }
}
