// The CLI as a new user meets it: --version, per-command help, did-you-mean, extra arguments refused,
// --json errors, snake_case output, `check` exit codes, policy problems with line:column, the schema.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freshPostgres } from '../support/databases.js';
import { ROOT, runCli } from '../support/processes.js';
import { DEMO_POLICY_YAML } from '../support/tollgate.js';

const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

describe('tollgate CLI manners', () => {
  let db: Awaited<ReturnType<typeof freshPostgres>>;
  let env: Record<string, string>;
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-manners-'));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  /** Only the commands that need no database run without one. */
  const noDb = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };

  beforeAll(async () => {
    db = await freshPostgres();
    env = { DATABASE_URL: db.url, LOG_LEVEL: 'silent' };
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('--version, in text and JSON', async () => {
    expect(await runCli(['--version'], noDb)).toEqual({
      code: 0,
      stdout: `tollgate ${VERSION}\n`,
      stderr: '',
    });
    const json = await runCli(['--version', '--json'], noDb);
    expect(JSON.parse(json.stdout)).toEqual({ version: VERSION });
  });

  it('help <command> and <command> --help show that command and its options', async () => {
    const viaHelp = await runCli(['help', 'keys', 'rotate'], noDb);
    const viaFlag = await runCli(['keys', 'rotate', '--help'], noDb);
    expect(viaHelp.code).toBe(0);
    expect(viaFlag).toEqual(viaHelp);
    expect(viaHelp.stdout).toContain('Usage: tollgate keys rotate <key-id> [--grace 24h]');
    expect(viaHelp.stdout).toMatch(/--grace 24h\s+how long the old key keeps working/);
    const apply = await runCli(['apply', '--help'], noDb);
    expect([apply.code, apply.stdout.split('\n')[0]]).toEqual([0, 'Usage: tollgate apply <policy.yaml>']);
    const keys = await runCli(['help', 'keys'], noDb);
    expect(keys.stdout).toContain('tollgate keys create --account ID [--name N] [--expires-in 30d]');
    const general = await runCli(['help'], noDb);
    expect(general.stdout).toMatch(/^Usage: tollgate <command> \[options\]/);
    expect(general.stdout).toContain('schema policy');
  });

  it('did-you-mean for commands, subcommands and flags (exit 2)', async () => {
    const command = await runCli(['aply', 'x.yaml'], noDb);
    expect([command.code, command.stderr]).toEqual([
      2,
      'tollgate: aply: unknown command; did you mean tollgate apply? (tollgate help lists the commands)\n',
    ]);
    const sub = await runCli(['keys', 'rotat', 'key_1'], noDb);
    expect(sub.stderr).toContain('did you mean tollgate keys rotate?');
    const flag = await runCli(['keys', 'create', '--acount', 'acc_1'], noDb);
    expect([flag.code, flag.stderr]).toEqual([
      2,
      'tollgate keys create: --acount: unknown option; did you mean --account? (tollgate keys create --help lists the options)\n',
    ]);
    expect((await runCli(['--versoin'], noDb)).stderr).toContain('did you mean --version?');
  });

  it('extra arguments are refused, not ignored', async () => {
    const applied = await runCli(['apply', 'a.yaml', 'b.yaml'], noDb);
    expect([applied.code, applied.stderr]).toEqual([
      2,
      'tollgate apply: b.yaml: unexpected argument "b.yaml": tollgate apply <policy.yaml>\n',
    ]);
    expect((await runCli(['migrate', 'now'], noDb)).code).toBe(2);
    expect((await runCli(['serve', 'please'], noDb)).stderr).toContain('unexpected argument "please"');
  });

  it('--json errors: {"error": {code, message, field}} on stderr', async () => {
    const unknown = await runCli(['keys', 'create', '--acount', 'x', '--json'], noDb);
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stderr)).toEqual({
      error: {
        code: 'unknown_option',
        message: 'unknown option; did you mean --account? (tollgate keys create --help lists the options)',
        field: '--acount',
      },
    });
    const missing = await runCli(['keys', 'create', '--json'], env);
    expect(JSON.parse(missing.stderr)).toEqual({
      error: { code: 'invalid_input', message: 'is required', field: '--account' },
    });
    const unreachable = await runCli(['migrate', '--json'], {
      DATABASE_URL: 'postgres://tollgate:pw@127.0.0.1:1/none',
    });
    expect(unreachable.code).toBe(1);
    const { error } = JSON.parse(unreachable.stderr);
    expect(error).toMatchObject({ code: 'unavailable', field: 'DATABASE_URL' });
    expect(error.message).toContain('cannot reach Postgres at postgres://tollgate:***@127.0.0.1:1/none');
  });

  it('apply: a semantic error carries its line:column; JSON output is snake_case like the admin API', async () => {
    const broken = DEMO_POLICY_YAML.replace('methods: [POST]', 'methods: [POSTT, get]');
    const bad = await runCli(['apply', file('bad.yaml', broken)], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      `tollgate apply: ${join(dir, 'bad.yaml')}:20:24: endpoints.chat.match.methods[0]: expected a list of HTTP methods (GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE)\n`,
    );
    const badJson = JSON.parse((await runCli(['apply', join(dir, 'bad.yaml'), '--json'], env)).stderr);
    expect(badJson.error).toMatchObject({ code: 'invalid_input', line: 20, column: 24 });

    expect((await runCli(['apply', file('demo.yaml', DEMO_POLICY_YAML)], env)).code).toBe(0);
    const created = JSON.parse(
      (
        await runCli(
          ['accounts', 'create', '--name', 'acme', '--tier', 'free', '--anchor-day', '5', '--json'],
          env,
        )
      ).stdout,
    );
    const shown = JSON.parse((await runCli(['accounts', 'show', created.id, '--json'], env)).stdout);
    expect(shown).toMatchObject({ id: created.id, billing_anchor_day: 5, credit_balance: 0 });
    expect(JSON.stringify(shown)).not.toMatch(/"[a-z]+[A-Z]\w*":/);
  });

  it('check exits 0 allowed, 1 denied, 2 on an error, and prints what /check answers', async () => {
    const created = JSON.parse(
      (await runCli(['accounts', 'create', '--name', 'checker', '--tier', 'free', '--json'], env)).stdout,
    );
    const { key } = JSON.parse(
      (await runCli(['keys', 'create', '--account', created.id, '--json'], env)).stdout,
    );
    const allowed = await runCli(['check', '--key', key, '--method', 'POST', '--path', '/v1/chat/x'], env);
    expect(allowed.code, allowed.stdout + allowed.stderr).toBe(0);
    expect(allowed.stdout.split('\n')[0]).toBe(
      'allowed: /check answers 204; the call goes upstream (endpoint chat)',
    );
    const denied = await runCli(['check', '--key', key, '--path', '/v1/export/all'], env);
    expect(denied.code).toBe(1);
    expect(denied.stdout.split('\n')[0]).toMatch(
      /^denied: \/check answers 403; the client gets 403 endpoint_not_in_plan: /,
    );
    const error = await runCli(['check', '--key', key, '--cost', 'lots'], env);
    expect([error.code, error.stderr]).toEqual([
      2,
      'tollgate check: --cost: expected an integer from 0 to 1000000\n',
    ]);
  });

  it('schema policy prints a JSON Schema the demo policy validates against', async () => {
    const out = await runCli(['schema', 'policy'], noDb);
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(readFileSync(join(ROOT, 'schema/policy.schema.json'), 'utf8'));
    const validate = new Ajv2020({ strict: true }).compile(JSON.parse(out.stdout));
    expect(validate(parse(DEMO_POLICY_YAML)), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(parse(DEMO_POLICY_YAML.replace('methods: [POST]', 'methods: [POSTT]')))).toBe(false);
  });
});
