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
