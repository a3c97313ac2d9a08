// The operator's CLI against a real Postgres: apply (all errors with paths, nothing changed on error),
// accounts, keys and one decision with `tollgate check`.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres } from '../support/databases.js';
import { runCli } from '../support/processes.js';
import { DEMO_POLICY_YAML, REDIS_URL } from '../support/tollgate.js';

describe('tollgate CLI', () => {
  let db: Awaited<ReturnType<typeof freshPostgres>>;
  let env: Record<string, string>;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const cli = async (...args: string[]) => {
    const result = await runCli(args, env);
    if (result.code !== 0)
      throw new Error(`tollgate ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    db = await freshPostgres();
    env = { DATABASE_URL: db.url, REDIS_URL, LOG_LEVEL: 'silent' };
  });
  afterAll(async () => {
    await db?.sql.close();
    await db?.drop();
  });

  it('migrate and apply the demo policy', async () => {
    expect(await cli('migrate', '--json')).toEqual({ migrated: true });
    const applied = await cli('apply', file('demo.yaml', DEMO_POLICY_YAML), '--json');
    expect(applied.tiers).toEqual(['free', 'pro', 'enterprise']);
    expect(applied.endpoints).toEqual(['chat', 'export']);
  });

  it('apply reports every error with its path and changes nothing', async () => {
    const broken = DEMO_POLICY_YAML.replace('window: 60s', 'window: sixty').replace(
      'algorithm: fixed_window',
      'algorithm: leaky',
    );
    const result = await runCli(['apply', file('broken.yaml', broken)], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('tiers.free.limits[0].window');
    expect(result.stderr).toContain('tiers.enterprise.limits[0].algorithm');
    const tiers = await db.sql.query<{ name: string }>('select name from tiers order by name');
    expect(tiers.map((t) => t.name)).toEqual(['enterprise', 'free', 'pro']);
  });

  it('accounts create, keys create, check, revoke, check again', async () => {
    const account = await cli('accounts', 'create', '--name', 'acme', '--tier', 'free', '--json');
    expect(account.id).toMatch(/^acc_/);
    const key = await cli('keys', 'create', '--account', account.id, '--json');
    expect(key.key).toMatch(/^tg_live_/);
    const allowed = await cli(
      'check',
      '--key',
      key.key,
      '--method',
      'POST',
      '--path',
      '/v1/chat/completions',
      '--json',
    );
    expect([allowed.allowed, allowed.status, allowed.client_status]).toEqual([true, 204, null]);
    expect(allowed.upstream).toContainEqual(['x-tollgate-account', account.id]);
    const gatedRun = await runCli(['check', '--key', key.key, '--path', '/v1/export/x', '--json'], env);
    expect(gatedRun.code).toBe(1);
    const gated = JSON.parse(gatedRun.stdout);
    expect([gated.status, gated.client_status, gated.decision.code]).toEqual([
      403,
      403,
      'endpoint_not_in_plan',
    ]);
    await cli('keys', 'revoke', key.id, '--json');
    const revokedRun = await runCli(['check', '--key', key.key, '--json'], env);
    expect(revokedRun.code).toBe(1);
    const revoked = JSON.parse(revokedRun.stdout);
    expect([revoked.status, revoked.decision.code]).toEqual([401, 'invalid_api_key']);
  });

  it('audits every account, key and credit change it makes, as actor cli', async () => {
    const account = await cli('accounts', 'create', '--name', 'audited', '--tier', 'pro', '--json');
    const key = await cli('keys', 'create', '--account', account.id, '--json');
    const rotated = await cli('keys', 'rotate', key.id, '--grace', '0s', '--json');
    await cli('keys', 'revoke', rotated.id, '--json');
    await cli('keys', 'revoke', rotated.id, '--json'); // idempotent: no second row
    const top = ['credits', 'add', '--account', account.id, '--amount', '7', '--idempotency-key', 'a-1'];
    await cli(...top, '--json');
    await cli(...top, '--json'); // replayed: no second row
    const rows = await db.sql.query<{ actor: string; action: string; target: string }>(
      `select actor, action, target from audit_log
       where target = any($1::text[]) order by id`,
      [[account.id, key.id, rotated.id]],
    );
    expect(rows).toEqual([
      { actor: 'cli', action: 'account.create', target: account.id },
      { actor: 'cli', action: 'key.create', target: key.id },
      { actor: 'cli', action: 'key.rotate', target: key.id },
      { actor: 'cli', action: 'key.revoke', target: rotated.id },
      { actor: 'cli', action: 'credits.add', target: account.id },
    ]);
  });

  it('names the bad flag or field', async () => {
    const unknownTier = await runCli(['accounts', 'create', '--name', 'x', '--tier', 'gold'], env);
    expect(unknownTier.code).toBe(2);
    expect(unknownTier.stderr).toMatch(/tier/);
    const missing = await runCli(['keys', 'create'], env);
    expect(missing.stderr).toContain('--account: is required');
    const badDay = await runCli(
      ['accounts', 'create', '--name', 'x', '--tier', 'free', '--anchor-day', '40'],
      env,
    );
    expect(badDay.stderr).toContain('--anchor-day: expected an integer from 1 to 31');
  });
});
