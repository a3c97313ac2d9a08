// The admin bearer token: ADMIN_TOKEN, or in embedded mode one generated once and kept under DATA_DIR (0600).

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';

export interface AdminToken {
  token: string;
  /** 'generated' tokens are shown in the start banner; a configured one never is. */
  source: 'env' | 'data-dir' | 'generated';
}

export function resolveAdminToken(config: Config): AdminToken {
  if (config.adminToken) return { token: config.adminToken, source: 'env' };
  if (config.database.kind !== 'pglite') return { token: randomToken(), source: 'generated' };
  const file = join(config.dataDir, 'admin-token');
  try {
    return { token: readFileSync(file, 'utf8').trim(), source: 'data-dir' };
  } catch {
    mkdirSync(config.dataDir, { recursive: true });
    const token = randomToken();
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    return { token, source: 'generated' };
  }
}

function randomToken(): string {
  return `tg_admin_${randomBytes(24).toString('base64url')}`;
}
