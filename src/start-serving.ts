// `npm start` / `tollgate serve`: load the configuration and serve; a start that fails says why in one line.

import { loadConfig, type Config } from './config.js';
import { BindError, InputError, StoreUnavailable } from './errors.js';
import { serve } from './serve.js';

/** Exit codes of a failed start: the operator must change the configuration (2), or something is down (1). */
export const EXIT_CONFIGURATION = 2;
export const EXIT_FAULT = 1;

/** `json`: the failure as `{"error": {code, message, field}}` (`tollgate serve --json`), like every CLI error. */
export async function startServing(json = false): Promise<void> {
  let config: Readonly<Config> | undefined;
  try {
    config = loadConfig();
    await serve(config);
  } catch (err) {
    const { line, exitCode, field } = explainStartupFailure(err, config);
    const code = exitCode === EXIT_CONFIGURATION ? 'configuration' : field ? 'unavailable' : 'internal';
    process.stderr.write(
      json
        ? `${JSON.stringify({ error: { code, message: line, field: field ?? null } })}\n`
        : `tollgate: ${line}\n`,
    );
    if (config?.logLevel === 'debug' || config?.logLevel === 'trace')
      process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(exitCode);
  }
}

export interface StartupFailure {
  /** One line: the variable or resource at fault and what to do. */
  line: string;
  exitCode: typeof EXIT_CONFIGURATION | typeof EXIT_FAULT;
  /** The variable at fault, when one is (for `--json` errors of the CLI). */
  field?: string;
}

/** `failed` names what failed when nothing more specific is known (the CLI: the command, not a start). */
export function explainStartupFailure(
  err: unknown,
  config: Readonly<Config> | undefined,
  failed = 'failed to start',
): StartupFailure {
  if (err instanceof InputError)
    return {
      ...configuration(
        `invalid configuration: ${err.problems.map((p) => `${p.path}: ${oneLine(p.message)}`).join('; ')}`,
      ),
      field: err.problems[0]?.path,
    };
  if (err instanceof BindError) return { ...bindFailure(err), field: err.variable };
  if (err instanceof StoreUnavailable && err.store === 'redis' && config) return redisFailure(err, config);
  if (err instanceof StoreUnavailable && err.store === 'postgres' && config?.database.kind === 'postgres')
    return fault(
      `cannot reach Postgres at ${withoutPassword(config.database.url)} (DATABASE_URL): ${cause(err)}. ` +
        'Start Postgres or fix DATABASE_URL; no FAILURE_MODE starts without it (migrations and the policy are read at start), ' +
        'and without DATABASE_URL Tollgate runs its embedded database',
      'DATABASE_URL',
    );
  if (isPostgresRefusal(err) && config?.database.kind === 'postgres')
    return configuration(
      `Postgres at ${withoutPassword(config.database.url)} (DATABASE_URL) refused the connection: ${oneLine((err as Error).message)}. ` +
        'Fix the user, password or database name in DATABASE_URL',
      'DATABASE_URL',
    );
  return fault(
    `${failed}: ${oneLine((err as Error)?.message ?? String(err))} (LOG_LEVEL=debug prints the stack)`,
  );
}

function bindFailure(err: BindError): StartupFailure {
  const text = (err.cause as Error)?.message ?? '';
  const where = `${err.host}:${err.port}`;
  if (/EADDRINUSE/.test(text))
    return configuration(
      `${err.variable} ${err.port} is already in use on ${err.host}: stop the other process or set ${err.variable} to a free port`,
    );
  if (/EACCES/.test(text))
    return configuration(
      `${err.variable} ${err.port}: not allowed to bind ${where} (ports below 1024 need privileges): set ${err.variable} to a port above 1023`,
    );
  if (/ENOTFOUND|EAI_AGAIN|EADDRNOTAVAIL|Name resolution failed/.test(text))
    return configuration(
      `HOST "${err.host}" is not an address of this machine: set HOST to a local address or name, like 127.0.0.1 or 0.0.0.0`,
    );
  return fault(`${err.variable}: cannot listen on ${where}: ${oneLine(text)}`);
}

function redisFailure(err: StoreUnavailable, config: Readonly<Config>): StartupFailure {
  const { counters } = config;
  const [where, variable] =
    counters.kind === 'redis'
      ? [withoutPassword(counters.url), 'REDIS_URL']
      : counters.kind === 'redis-cluster'
        ? [counters.nodes.map((n) => `${n.host}:${n.port}`).join(','), 'REDIS_CLUSTER_NODES']
        : ['memory', 'REDIS_URL'];
  return fault(
    `cannot reach Redis at ${where} (${variable}): ${cause(err)}. Start Redis or fix ${variable}; ` +
      `FAILURE_MODE=${config.failureMode} refuses to start without it, FAILURE_MODE=open or local would start degraded`,
    variable,
  );
}

/** A URL as it may be shown: the password replaced, everything else kept (host, port, database). */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** Postgres answered and said no (bad password, unknown role or database): a configuration problem. */
function isPostgresRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return (err as Error)?.name === 'PostgresError' && typeof code === 'string' && /^(28|3D)/.test(code);
}

function cause(err: StoreUnavailable): string {
  const inner = err.cause as Error | undefined;
  return oneLine(inner?.message || err.message).replace(/\.$/, '');
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function configuration(line: string, field?: string): StartupFailure {
  return field ? { line, exitCode: EXIT_CONFIGURATION, field } : { line, exitCode: EXIT_CONFIGURATION };
}

function fault(line: string, field?: string): StartupFailure {
  return field ? { line, exitCode: EXIT_FAULT, field } : { line, exitCode: EXIT_FAULT };
}
