// `tollgate help [command]`, `tollgate <command> --help`: written from the command table (command-specs.ts).

import { COMMAND_SPECS, COMMON_OPTIONS, GROUPS, type CommandSpec } from './command-specs.js';
import { synopsis } from './flags.js';

/** The general help: one line per command. */
export function usage(): string {
  const lines = ['Usage: tollgate <command> [options]', ''];
  for (const spec of COMMAND_SPECS.values()) lines.push(`  ${spec.name.padEnd(24)} ${spec.summary}`);
  lines.push(
    '',
    "  help <command>           that command's arguments and options (or: tollgate <command> --help)",
    '  --version                the installed version',
    '',
    'Every command takes --json (machine-readable output and errors). Configuration comes from the',
    'environment (DATABASE_URL, DATA_DIR, REDIS_URL, …) exactly as for serve; see the README.',
    '',
  );
  return lines.join('\n');
}

/** Help for one command, or for a group (`tollgate help keys`: its subcommands). */
export function commandHelp(name: string): string {
  const spec = COMMAND_SPECS.get(name);
  if (!spec) {
    const subs = GROUPS.get(name) ?? [];
    return `${subs.map((sub) => `tollgate ${synopsis(COMMAND_SPECS.get(`${name} ${sub}`)!)}`).join('\n')}\n`;
  }
  return specHelp(spec);
}

function specHelp(spec: CommandSpec): string {
  const options = { ...spec.options, ...COMMON_OPTIONS };
  const lines = [`Usage: tollgate ${synopsis(spec)}`, '', spec.summary, '', 'Options:'];
  for (const [flag, o] of Object.entries(options))
    lines.push(`  ${`--${flag}${o.value ? ` ${o.value}` : ''}`.padEnd(24)} ${o.help}`);
  return `${lines.join('\n')}\n`;
}
