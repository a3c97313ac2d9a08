// Failures (not denials): the one typed error each transport maps to its protocol.

/** A backing store (Redis or Postgres) did not answer in time or failed. */
export class StoreUnavailable extends Error {
  override readonly name = 'StoreUnavailable';
  constructor(
    readonly store: 'redis' | 'postgres' | 'memory',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${store} unavailable: ${message}`, options);
  }
}

/**
 * This replica has MAX_INFLIGHT decisions in flight already: the call is shed, not decided (code
 * `overloaded`). Never a store failure: Redis may be fine; this process is past its bound.
 */
export class Overloaded extends Error {
  override readonly name = 'Overloaded';
  constructor(readonly maxInflight: number) {
    super(`overloaded: ${maxInflight} decisions already in flight on this replica`);
  }
}

/** Bad input from an operator (policy file, CLI arguments): names the field at fault. */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(readonly problems: Array<{ path: string; message: string; line?: number; column?: number }>) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  }
}

/** A listener could not bind: names the variable that chose the port, so start-up can say which to change. */
export class BindError extends Error {
  override readonly name = 'BindError';
  constructor(
    readonly variable: 'HTTP_PORT' | 'GRPC_PORT' | 'ADMIN_PORT',
    readonly host: string,
    readonly port: number,
    cause: unknown,
  ) {
    super(`${variable} ${host}:${port}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}
