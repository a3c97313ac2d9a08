// `tollgate <command>`: operator commands that talk to the database directly (the sidecar may be stopped).

import { readFileSync } from 'node:fs';
import { loadConfig, type Config } from '../config.js';
import { InputError } from '../errors.js';
import { explainStartupFailure, startServing } from '../start-serving.js';
import { runCommand } from './commands.js';
import { COMMAND_SPECS } from './command-specs.js';
import { parseCommand, UsageError } from './flags.js';
import { commandHelp, usage } from './help.js';
import { print, printError, type CliError } from './output.js';
import { resolveCommand } from './resolve-command.js';

const argv = process.argv.slice(2);
const json = argv.includes('--json');
/** The command named in error lines; empty until the words are known to name one. */
let label = '';
let config: Readonly<Config> | undefined;

try {
  const resolved = resolveCommand(argv);
  if (resolved.kind === 'version') {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    print({ json }, { version }, `tollgate ${version}`);
  } else if (resolved.kind === 'help') {
    process.stdout.write(resolved.command ? commandHelp(resolved.command) : usage());
  } else {
    label = resolved.command;
    if (label === 'serve') {
      parseCommand(COMMAND_SPECS.get('serve')!, resolved.args);
      await startServing(json);
    } else {
      config = loadConfig();
      await runCommand(label, resolved.args, config);
    }
  }
} catch (err) {
  printError(json, label, describe(err));
  if (config?.logLevel === 'debug' || config?.logLevel === 'trace')
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = err instanceof InputError ? 2 : explainStartupFailure(err, config).exitCode;
}

function describe(err: unknown): CliError[] {
  if (err instanceof UsageError)
    return [{ code: err.code, message: err.problems[0]!.message, field: err.problems[0]!.path }];
  if (err instanceof InputError)
    return err.problems.map((p) => ({
      code: 'invalid_input',
      message: p.message,
      field: p.path,
      ...(p.line ? { line: p.line, column: p.column } : {}),
    }));
  const failure = explainStartupFailure(err, config, 'failed');
  return [
    {
      // A fault that names a resource (DATABASE_URL, REDIS_URL) is an outage; one that names none, a bug.
      code: failure.exitCode === 2 ? 'configuration' : failure.field ? 'unavailable' : 'internal',
      message: failure.line,
      field: failure.field ?? null,
    },
  ];
}
