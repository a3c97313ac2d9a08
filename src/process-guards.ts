// Process-wide policy for what escaped every handler (`tollgate serve`): a stray promise rejection is
// logged and the replica keeps serving; an uncaught exception leaves the process in an unknown state,
// so it is logged, readiness fails, in-flight work drains, and the process exits non-zero for the
// orchestrator to restart it.

import type { Logger } from './logger.js';

export interface ProcessGuards {
  /** Removes the handlers (tests, embedded use). */
  remove(): void;
}

/** `shutdown(reason, exitCode)`: the graceful path SIGTERM takes (readiness off, drain, flush, exit). */
export function installProcessGuards(
  logger: Logger,
  shutdown: (reason: string, exitCode: number) => void,
): ProcessGuards {
  const onRejection = (reason: unknown) => {
    logger.error({ err: describe(reason) }, 'unhandled promise rejection (a bug): logged, still serving');
  };
  const onException = (err: Error, origin: string) => {
    logger.fatal(
      { err: describe(err), origin },
      'uncaught exception: failing readiness, draining, exiting 1',
    );
    shutdown('uncaughtException', 1);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    remove() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

/** Type, message and stack only: never the arbitrary object a rejection may carry (it could hold a key). */
function describe(reason: unknown): { type: string; message?: string; stack?: string } {
  if (reason instanceof Error) return { type: reason.name, message: reason.message, stack: reason.stack };
  return { type: typeof reason };
}
