// `tollgate <command>`: operator commands that talk to the database directly (the sidecar may be stopped).

import { loadConfig } from '../config.js';
import { InputError } from '../errors.js';
import { runCommand, USAGE } from './commands.js';

const [command = 'serve', ...args] = process.argv.slice(2);

try {
  if (command === 'help' || command === '--help' || command === '-h') process.stdout.write(USAGE);
  else await runCommand(command, args, loadConfig());
} catch (err) {
  if (!(err instanceof InputError)) throw err;
  process.stderr.write(`tollgate ${command}: ${err.message.replaceAll('\n', `\ntollgate ${command}: `)}\n`);
  process.exitCode = 2;
}
