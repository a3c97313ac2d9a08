// `tollgate schema policy`: the policy file's JSON Schema on stdout (no database), as shipped in schema/.

import { policySchema } from '../policy/policy-schema.js';
import type { CommandContext } from './output.js';

export async function schemaPolicyCommand(_ctx: Pick<CommandContext, 'json'>): Promise<void> {
  process.stdout.write(`${JSON.stringify(policySchema(), null, 2)}\n`);
}
