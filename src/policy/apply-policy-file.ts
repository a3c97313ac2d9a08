// `tollgate apply` and POLICY_FILE: read, validate whole, store in one transaction (nothing changes on error).

import { readFile } from 'node:fs/promises';
import type { Sql } from '../db/sql.js';
import { InputError } from '../errors.js';
import type { Policy } from './policy.js';
import { parsePolicy } from './policy-file.js';
import { savePolicy } from './policy-repository.js';

export async function applyPolicyFile(sql: Sql, file: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError([
      {
        path: file,
        message: `cannot read the policy file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      },
    ]);
  }
  let policy: Policy;
  try {
    policy = parsePolicy(text);
  } catch (err) {
    if (err instanceof InputError)
      throw new InputError(
        err.problems.map((p) => ({
          ...p,
          // file:line:column, as compilers print it, so editors and terminals can jump there.
          path:
            p.line && !p.path.startsWith('line ')
              ? `${file}:${p.line}:${p.column}: ${p.path}`
              : `${file}: ${p.path}`,
        })),
      );
    throw err;
  }
  await savePolicy(sql, policy);
  return policy;
}
