// `tollgate import-envoy-ratelimit <file.yaml>…`: envoyproxy/ratelimit configs → a `ratelimit_domains`
// section on stdout (YAML with a note per rule, or --json). Reads files only; no database.

import { readFile } from 'node:fs/promises';
import { Document } from 'yaml';
import { InputError } from '../errors.js';
import { importEnvoyRatelimit, type EnvoyConfigFile } from '../rls/import-envoy-ratelimit.js';
import { ratelimitDomainsToYaml } from '../policy/serialize-ratelimit-domains.js';
import type { CommandContext } from './output.js';

export async function importEnvoyRatelimitCommand(
  ctx: Pick<CommandContext, 'positionals' | 'json' | 'values'>,
): Promise<void> {
  const { positionals, values } = ctx;
  if (positionals.length === 0)
    throw new InputError([
      { path: 'file.yaml', message: 'name the config files: tollgate import-envoy-ratelimit <file.yaml>…' },
    ]);
  const files: EnvoyConfigFile[] = [];
  for (const name of positionals) {
    try {
      files.push({ name, text: await readFile(name, 'utf8') });
    } catch (err) {
      throw new InputError([
        {
          path: name,
          message: `cannot read the config file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        },
      ]);
    }
  }
  process.stdout.write(renderImport(files, ctx.json, values.merge === true));
}

/** The command's whole stdout, for the given files; `merge` as that service's MERGE_DOMAIN_CONFIG. */
export function renderImport(files: EnvoyConfigFile[], json: boolean, merge = false): string {
  const { domains, notes } = importEnvoyRatelimit(files, { mergeDomains: merge });
  const section = { ratelimit_domains: ratelimitDomainsToYaml(domains) };
  if (json) return `${JSON.stringify({ ...section, notes }, null, 2)}\n`;
  const doc = new Document(section);
  doc.commentBefore = [
    ` Imported by tollgate import-envoy-ratelimit from ${files.map((f) => f.name).join(', ')}.`,
    ' Paste into a policy file and `tollgate apply` it. What each rule does:',
    ...notes.map((note) => `   ${note}`),
  ].join('\n');
  return doc.toString({ lineWidth: 0 });
}
