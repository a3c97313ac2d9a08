// argv → which command (or help / version) the operator meant; unknown words get a did-you-mean.

import { COMMAND_SPECS, GROUPS } from './command-specs.js';
import { didYouMean } from './did-you-mean.js';
import { UsageError } from './flags.js';

export type Resolved =
  | { kind: 'version' }
  | { kind: 'help'; command?: string }
  | { kind: 'run'; command: string; args: string[] };

const TOP_FLAGS = ['--version', '--help', '--json'];

export function resolveCommand(argv: string[]): Resolved {
  const words = argv.filter((a) => a !== '--json');
  const [first, ...rest] = words;
  if (first === undefined) return { kind: 'run', command: 'serve', args: argv };
  if (['--version', '-v', 'version'].includes(first) && rest.length === 0) return { kind: 'version' };
  if (['help', '--help', '-h'].includes(first)) {
    const named = rest.filter((a) => !a.startsWith('-'));
    const general = named.length === 0 || named[0] === 'help' || named[0] === 'version';
    return general ? { kind: 'help' } : { kind: 'help', command: known(named) };
  }
  if (first.startsWith('-')) {
    const near = didYouMean(
      first.replace(/^-+/, ''),
      TOP_FLAGS.map((f) => f.slice(2)),
    );
    throw new UsageError('unknown_option', first, `unknown option${near ? `; did you mean --${near}?` : ''}`);
  }
  const command = known(
    words.filter((a) => !a.startsWith('-')).slice(0, GROUPS.has(first) ? 2 : 1),
    argv.includes('--help'),
  );
  if (argv.includes('--help') || argv.includes('-h')) return { kind: 'help', command };
  const skip = command.split(' ').length;
  return { kind: 'run', command, args: dropWords(argv, skip) };
}

/** The command the words name: `keys create`, `migrate`, or a group alone when help is asked for. */
function known(words: string[], helpForGroup = true): string {
  const [first, second] = words as [string, string | undefined];
  const subs = GROUPS.get(first);
  if (subs) {
    if (second === undefined) {
      if (helpForGroup) return first;
      throw new UsageError(
        'missing_subcommand',
        first,
        `expected a subcommand: ${subs.map((s) => `tollgate ${first} ${s}`).join(', ')}`,
      );
    }
    if (subs.includes(second)) return `${first} ${second}`;
    const near = didYouMean(second, subs);
    throw new UsageError(
      'unknown_command',
      `${first} ${second}`,
      `unknown command${near ? `; did you mean tollgate ${first} ${near}?` : ''} (expected one of: ${subs.join(', ')})`,
    );
  }
  if (COMMAND_SPECS.has(first)) return first;
  const tops = new Set([...[...COMMAND_SPECS.keys()].map((n) => n.split(' ')[0]!), 'help', 'version']);
  const near = didYouMean(first, tops);
  throw new UsageError(
    'unknown_command',
    first,
    `unknown command${near ? `; did you mean tollgate ${near}?` : ''} (tollgate help lists the commands)`,
  );
}

/** argv without the first `count` command words (flags before them are kept). */
function dropWords(argv: string[], count: number): string[] {
  const out: string[] = [];
  let dropped = 0;
  for (const arg of argv) {
    if (dropped < count && !arg.startsWith('-')) dropped++;
    else out.push(arg);
  }
  return out;
}
