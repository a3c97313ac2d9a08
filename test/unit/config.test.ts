import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { InputError } from '../../src/errors.js';

describe('loadConfig', () => {
  it('defaults to the embedded backends and the documented ports', () => {
    const config = loadConfig({});
    expect(config.database.kind).toBe('pglite');
    expect(config.counters).toEqual({ kind: 'memory' });
    expect([config.httpPort, config.grpcPort, config.adminPort]).toEqual([8080, 8081, 8082]);
    expect(config.failureMode).toBe('closed');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('picks Postgres, Redis and Redis Cluster from the environment', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db' }).database).toEqual({
      kind: 'postgres',
      url: 'postgres://u@h/db',
    });
    expect(loadConfig({ REDIS_URL: 'redis://h:6379' }).counters).toEqual({
      kind: 'redis',
      url: 'redis://h:6379',
    });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000, b:7001' }).counters).toEqual({
      kind: 'redis-cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
    });
  });

  it('reports every bad variable by name, without echoing secrets', () => {
    let error: unknown;
    try {
      loadConfig({
        HTTP_PORT: 'eighty',
        FAILURE_MODE: 'maybe',
        DATABASE_URL: 'mysql://user:s3cret@h/db',
        REDIS_CLUSTER_NODES: 'a',
        ADMIN_TOKEN: 'short',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InputError);
    const paths = (error as InputError).problems.map((p) => p.path);
    expect(paths.sort()).toEqual([
      'ADMIN_TOKEN',
      'DATABASE_URL',
      'FAILURE_MODE',
      'HTTP_PORT',
      'REDIS_CLUSTER_NODES',
    ]);
    expect((error as InputError).message).not.toContain('s3cret');
    expect((error as InputError).message).toContain(
      'HTTP_PORT: expected an integer from 0 to 65535 but got "eighty"',
    );
  });

  it('GRPC_SERVER picks the gRPC server: lean by default, grpc-js as the fallback, anything else named', () => {
    expect(loadConfig({}).grpcServer).toBe('lean');
    expect(loadConfig({ GRPC_SERVER: 'grpc-js' }).grpcServer).toBe('grpc-js');
    expect(() => loadConfig({ GRPC_SERVER: 'grpc-go' })).toThrow(
      'GRPC_SERVER: expected one of lean, grpc-js but got "grpc-go"',
    );
  });
});

describe('TOLLGATE_COMMIT (the build label of tollgate_build_info)', () => {
  it('defaults to "unknown", takes a commit id, and names the variable on anything else', () => {
    expect(loadConfig({}).buildCommit).toBe('unknown');
    expect(loadConfig({ TOLLGATE_COMMIT: '0a1b2c3' }).buildCommit).toBe('0a1b2c3');
    expect(() => loadConfig({ TOLLGATE_COMMIT: 'a"} evil{' })).toThrow(/TOLLGATE_COMMIT/);
    expect(() => loadConfig({ TOLLGATE_COMMIT: 'a'.repeat(65) })).toThrow(/TOLLGATE_COMMIT/);
  });
});

describe('loadConfig: envoyproxy/ratelimit variables', () => {
  it('finds the config directory from ERL_CONFIG_DIR or RUNTIME_* as that service composes it', () => {
    expect(loadConfig({}).rls.configDir).toBeUndefined();
    expect(loadConfig({ ERL_CONFIG_DIR: '/etc/rl' }).rls.configDir).toBe('/etc/rl');
    expect(loadConfig({ RUNTIME_SUBDIRECTORY: 'ratelimit' }).rls.configDir).toBe(
      '/srv/runtime_data/current/ratelimit/config',
    );
    expect(
      loadConfig({ RUNTIME_ROOT: '/data', RUNTIME_SUBDIRECTORY: 'rl', RUNTIME_APPDIRECTORY: 'limits' }).rls
        .configDir,
    ).toBe('/data/rl/limits');
  });

  it('reads its booleans as Go does and names every bad variable', () => {
    const rls = loadConfig({
      SHADOW_MODE: 'True',
      MERGE_DOMAIN_CONFIG: '1',
      LIMIT_LIMIT_HEADER: 'X-Limit',
    }).rls;
    expect([rls.shadowMode, rls.mergeDomains, rls.quotaMode, rls.nearLimitRatio]).toEqual([
      true,
      true,
      false,
      0.8,
    ]);
    expect(rls.erlHeaderNames).toEqual({
      limit: 'X-Limit',
      remaining: 'RateLimit-Remaining',
      reset: 'RateLimit-Reset',
    });
    let message = '';
    try {
      loadConfig({ QUOTA_MODE: 'yes', NEAR_LIMIT_RATIO: '1.5', RLS_RESPONSE_HEADERS: 'x-ratelimit' });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const problem of [
      'QUOTA_MODE: expected true or false but got "yes"',
      'NEAR_LIMIT_RATIO: expected a number from 0 to 1 but got "1.5"',
      'RLS_RESPONSE_HEADERS: expected one of none, erl, ietf but got "x-ratelimit"',
    ])
      expect(message).toContain(problem);
  });
});
