// The deployment files (Dockerfile, docker-compose.yml, kubernetes.yaml, deploy/**) cross-checked
// against the code they deploy: env var names and values through src/config.ts itself, ports,
// native gRPC probes, image tags, the service names the nginx / Envoy configs point at, the
// embedded copies of shipped files, and the Grafana dashboard's metric names. Nothing here needs
// Docker, a cluster or Envoy; nginx -t and python3 run locally.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Registry } from 'prom-client';
import { loadConfig, type Config } from '../../src/config.js';
import { exportMetrics } from '../../src/observability/export-metrics.js';
import { nginxTest } from '../support/nginx.js';
import { ROOT } from '../support/processes.js';
import { freePort } from '../support/free-port.js';

// ---------------------------------------------------------------------------------------------------
// Loading

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed manifests
type Env = Record<string, string>;

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

const compose: Json = parse(read('docker-compose.yml'));
const k8sDocs: Json[] = parseAllDocuments(read('kubernetes.yaml')).map((doc) => {
  if (doc.errors.length > 0)
    throw new Error(`kubernetes.yaml: ${doc.errors.map((e) => e.message).join('; ')}`);
  return doc.toJS();
});
const dockerfile = read('Dockerfile');
const dashboard: Json = JSON.parse(read('deploy/grafana/tollgate-dashboard.json'));

const k8s = (kind: string, name: string): Json => {
  const found = k8sDocs.find((d) => d?.kind === kind && d.metadata?.name === name);
  if (!found) throw new Error(`kubernetes.yaml has no ${kind} ${name}`);
  return found;
};
const k8sAll = (kind: string): Json[] => k8sDocs.filter((d) => d?.kind === kind);

const DEFAULTS = loadConfig({});
/** The config a manifest's env produces; on a bad value the defaults, so that the other checks still
 * run (the "values it accepts" tests then fail with loadConfig's own message). */
function configOf(env: Env): Readonly<Config> {
  try {
    return loadConfig(env);
  } catch {
    return DEFAULTS;
  }
}

/** Every variable src/config.ts reads: the names it touches on an empty env (a recording proxy, so
 * `env[name]` inside helpers counts) plus the `env.X` / `(env, 'X'` references in its source. */
function configEnvNames(): Set<string> {
  const names = new Set<string>();
  loadConfig(
    new Proxy({} as Env, { get: (_t, key) => (typeof key === 'string' && names.add(key), undefined) }),
  );
  const source = read('src/config.ts');
  for (const m of source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)) names.add(m[1]!);
  for (const m of source.matchAll(/\(env, '([A-Z][A-Z0-9_]*)'/g)) names.add(m[1]!);
  return names;
}
const CONFIG_ENV = configEnvNames();

/** Compose `${VAR:-default}` / `${VAR-default}` → the default (what `docker compose up` uses with no .env). */
function interpolate(value: unknown): string {
  return String(value).replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g,
    (_all, _name, fallback: string | undefined) => fallback ?? '',
  );
}

function composeEnv(service: string): Env {
  const raw = compose.services[service]?.environment ?? {};
  const entries: Array<[string, string]> = Array.isArray(raw)
    ? raw.map((line: string) => [line.split('=')[0]!, interpolate(line.split('=').slice(1).join('='))])
    : Object.entries(raw).map(([k, v]) => [k, interpolate(v)]);
  return Object.fromEntries(entries);
}

/** A k8s container's environment, resolved through the manifest's ConfigMaps and Secrets. */
function k8sEnv(container: Json): Env {
  const env: Env = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(env, k8s('ConfigMap', source.configMapRef.name).data);
    if (source.secretRef) Object.assign(env, k8s('Secret', source.secretRef.name).stringData);
  }
  for (const entry of container.env ?? []) {
    if ('value' in entry) env[entry.name] = String(entry.value);
    else if (entry.valueFrom?.secretKeyRef) {
      const { name, key } = entry.valueFrom.secretKeyRef;
      const value = k8s('Secret', name).stringData?.[key];
      if (value === undefined) throw new Error(`env ${entry.name}: Secret ${name} has no key ${key}`);
      env[entry.name] = value;
    } else if (entry.valueFrom?.configMapKeyRef) {
      const { name, key } = entry.valueFrom.configMapKeyRef;
      const value = k8s('ConfigMap', name).data?.[key];
      if (value === undefined) throw new Error(`env ${entry.name}: ConfigMap ${name} has no key ${key}`);
      env[entry.name] = value;
    } else throw new Error(`env ${entry.name}: unsupported source`);
  }
  return env;
}

const apiDeployment = k8s('Deployment', 'api');
const podSpec = apiDeployment.spec.template.spec;
const container = (name: string): Json => {
  const found = podSpec.containers.find((c: Json) => c.name === name);
  if (!found) throw new Error(`Deployment api has no container ${name}`);
  return found;
};
const sidecar = container('tollgate');

/** host:port of a URL-ish string with a default port. */
function hostPort(url: string, defaultPort: number): { host: string; port: number; url: URL } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: parsed.port ? Number(parsed.port) : defaultPort, url: parsed };
}

/** The deployment env must be production-shaped: Postgres + Redis + a fixed admin token. */
function expectProductionConfig(env: Env, where: string): Readonly<Config> {
  for (const name of Object.keys(env))
    expect(CONFIG_ENV, `${where}: ${name} is not read by src/config.ts`).toContain(name);
  for (const required of ['DATABASE_URL', 'ADMIN_TOKEN', 'POLICY_FILE'])
    expect(env, `${where}: ${required} is required`).toHaveProperty(required);
  expect(
    env.REDIS_URL ?? env.REDIS_CLUSTER_NODES,
    `${where}: REDIS_URL or REDIS_CLUSTER_NODES is required`,
  ).toBeDefined();
  const config = loadConfig(env); // throws InputError naming the variable on a bad value
  expect(config.database.kind).toBe('postgres');
  expect(config.counters.kind).not.toBe('memory');
  return config;
}

const temps: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------

describe('src/config.ts as the reference', () => {
  it('reads the documented variables (the cross-checks below rely on this list)', () => {
    for (const name of [
      'DATABASE_URL',
      'REDIS_URL',
      'REDIS_CLUSTER_NODES',
      'ADMIN_TOKEN',
      'DATA_DIR',
      'HOST',
      'HTTP_PORT',
      'GRPC_PORT',
      'ADMIN_PORT',
      'FAILURE_MODE',
      'REDIS_TIMEOUT_MS',
      'LOG_LEVEL',
      'POLICY_FILE',
    ]) {
      expect(CONFIG_ENV).toContain(name);
    }
    expect([DEFAULTS.httpPort, DEFAULTS.grpcPort, DEFAULTS.adminPort]).toEqual([8080, 8081, 8082]);
  });
});

describe('Dockerfile', () => {
  const lines = dockerfile.split('\n').filter((l) => !l.trimStart().startsWith('#'));
  const instructions = (name: string) =>
    lines.filter((l) => new RegExp(`^${name}\\s`, 'i').test(l)).map((l) => l.replace(/^\S+\s+/, '').trim());
  const args = Object.fromEntries(instructions('ARG').map((a) => a.split('=') as [string, string]));
  const stages = instructions('FROM').map((f) => {
    const [image, , stage] = f.split(/\s+/);
    return { image: image!.replace(/\$\{(\w+)\}/g, (_m, n: string) => args[n] ?? ''), stage };
  });

  it('is multi-stage on the Node LTS line (26), pinned; engines still allow the oldest supported Node', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const { image } of stages) {
      expect(image).toMatch(/^node:26\.\d+\.\d+-/);
      expectPinned(image, 'Dockerfile FROM');
    }
    expect(JSON.parse(read('package.json')).engines.node).toBe('>=20.19');
  });

  it('labels the build with its commit: a build arg that becomes TOLLGATE_COMMIT, "unknown" by default', () => {
    expect(args.TOLLGATE_COMMIT).toBe('unknown');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's own variable syntax, literally
    expect(instructions('ENV')).toContain('TOLLGATE_COMMIT=${TOLLGATE_COMMIT}');
    expect(loadConfig({ TOLLGATE_COMMIT: args.TOLLGATE_COMMIT }).buildCommit).toBe('unknown');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the file's own variable syntax, literally
    expect(compose.services.tollgate.build.args.TOLLGATE_COMMIT).toBe('${TOLLGATE_COMMIT:-unknown}');
  });

  it('builds with dev dependencies and ships production dependencies only, without lifecycle scripts', () => {
    const runs = instructions('RUN').join('\n');
    expect(runs).toMatch(/npm ci --ignore-scripts/);
    expect(runs).toMatch(/npm run build/);
    expect(runs).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(instructions('COPY')).toContain('--from=build /src/dist ./dist');
  });

  it('applies patches/ in the build stage and ships the patched packages (install scripts are off)', () => {
    expect(instructions('COPY')).toContain('patches ./patches');
    expect(instructions('RUN')).toContain('npx patch-package');
    const patched = readdirSync(join(ROOT, 'patches')).map((f) => f.replace(/\+[^+]*\.patch$/, ''));
    expect(patched.length).toBeGreaterThan(0);
    for (const name of patched)
      expect(instructions('COPY')).toContain(`--from=build /src/node_modules/${name} ./node_modules/${name}`);
  });

  it("the runtime stage's production dependencies cover every package src/ imports at run time", () => {
    const dependencies = Object.keys(JSON.parse(read('package.json')).dependencies ?? {});
    const imported = new Set<string>();
    const walk = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(`${dir}/${e.name}`) : e.name.endsWith('.ts') ? [`${dir}/${e.name}`] : [],
      );
    for (const file of walk('src')) {
      const source = read(file);
      // Static imports and re-exports that survive compilation (`import type` is erased), and import().
      const specifiers = [
        ...source.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\sfrom\s+['"]([^'"]+)['"]/gm),
        ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
      ].map((m) => m[1]!);
      for (const specifier of specifiers) {
        if (specifier.startsWith('.') || specifier.startsWith('node:')) continue;
        imported.add(
          specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!,
        );
      }
    }
    expect(imported.size).toBeGreaterThan(0);
    for (const name of imported) expect(dependencies, `src/ imports ${name}`).toContain(name);
  });

  it('EXPOSEs exactly the default listeners of src/config.ts', () => {
    const exposed = instructions('EXPOSE')
      .flatMap((e) => e.split(/\s+/))
      .map(Number)
      .sort((a, b) => a - b);
    expect(exposed).toEqual([DEFAULTS.httpPort, DEFAULTS.grpcPort, DEFAULTS.adminPort].sort((a, b) => a - b));
  });

  it('runs as a numeric non-root user under tini, with DATA_DIR on a volume', () => {
    const user = instructions('USER').at(-1)!;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    const entrypoint = JSON.parse(instructions('ENTRYPOINT').at(-1)!) as string[];
    expect(entrypoint[0]).toMatch(/tini$/);
    expect(entrypoint[1]).toBe('--');
    // The entry point is the `tollgate` bin, which runs the compiled CLI (serve by default), under
    // the launcher that picks node's GC for the CPUs the container may use (as `npm start` does).
    expect(entrypoint.slice(2)).toEqual(['/app/bin/tollgate-node', '/app/bin/tollgate.js']);
    expect(JSON.parse(read('package.json')).scripts.start).toBe('bin/tollgate-node dist/main.js');
    expect(read('bin/tollgate.js')).toContain('../dist/cli/main.js');
    expect(existsSync(join(ROOT, 'src/cli/main.ts'))).toBe(true);
    expect(JSON.parse(instructions('CMD').at(-1)!)).toEqual(['serve']);
    const env = instructions('ENV').join(' ');
    for (const [, name] of env.matchAll(/([A-Z_][A-Z0-9_]*)=/g)) expect(CONFIG_ENV).toContain(name!);
    expect(env).toContain('DATA_DIR=/data');
    expect(instructions('VOLUME').join(' ')).toContain('/data');
  });

  it('copies only what .dockerignore lets into the build context', () => {
    const ignore = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*'); // an allow-list
    const allowed = ignore.slice(1).map((l) => l.replace(/^!/, '').replace(/\/$/, ''));
    const sources = instructions('COPY')
      .filter((c) => !c.startsWith('--from'))
      .flatMap((c) => c.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(allowed, `COPY ${source}`).toContain(source);
      expect(existsSync(join(ROOT, source)), `COPY ${source}`).toBe(true);
    }
    // Everything the build reads is in the context.
    for (const needed of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'scripts',
      'src',
      'bin',
    ])
      expect(allowed).toContain(needed);
  });
});

/** An exact release: a digest, or a major.minor.patch tag (`16.15`-style for Postgres, whose minor is
 * its patch level) — never `latest`, a bare major or a major.minor line that moves under you. */
function expectPinned(image: string, where: string): void {
  if (/@sha256:[0-9a-f]{64}$/.test(image)) return;
  const slash = image.lastIndexOf('/');
  const colon = image.indexOf(':', slash + 1);
  expect(colon, `${where}: ${image} has no tag`).toBeGreaterThan(0);
  const [name, tag] = [image.slice(0, colon), image.slice(colon + 1)];
  expect(tag, `${where}: ${image}`).not.toMatch(/latest/);
  const exact = name.endsWith('postgres') ? /^\d+\.\d+(-|$)/ : /^v?\d+\.\d+\.\d+(-|$)/;
  expect(tag, `${where}: ${image} is not an exact release`).toMatch(exact);
}

describe('image pins', () => {
  it('accepts exact releases and digests, refuses moving tags', () => {
    for (const good of [
      'node:26.13.1-trixie-slim',
      'envoyproxy/envoy:v1.39.6',
      'postgres:16.15',
      `x/y@sha256:${'a'.repeat(64)}`,
    ])
      expectPinned(good, 'example');
    for (const bad of [
      'redis:7.4',
      'node:26-slim',
      'nginx:latest',
      'postgres:16',
      'python:3.12-slim',
      'tollgate',
    ])
      expect(() => expectPinned(bad, 'example'), bad).toThrow();
  });
});

describe('docker-compose.yml', () => {
  const services = compose.services as Record<string, Json>;
  const tollgateEnv = composeEnv('tollgate');
  const config = configOf(tollgateEnv);

  it('has tollgate, Redis, Postgres, Envoy, nginx and a demo upstream, every image pinned', () => {
    expect(Object.keys(services).sort()).toEqual([
      'demo-upstream',
      'demo-upstream-envoy',
      'envoy',
      'nginx',
      'postgres',
      'redis',
      'tollgate',
    ]);
    for (const [name, service] of Object.entries(services)) {
      if (service.build) {
        // Built, never pulled: `image` next to `build` names an image no registry has.
        expect(service.image, `service ${name} has build and image`).toBeUndefined();
        continue;
      }
      expect(service.image, `service ${name}`).toBeDefined();
      expectPinned(service.image, `service ${name}`);
    }
    expect(services.tollgate.build.context).toBe('.');
    expect(services['demo-upstream'].image).toMatch(/^python:3/);
  });

  it('sets only variables src/config.ts reads, with values it accepts', () => {
    expectProductionConfig(tollgateEnv, 'compose tollgate');
  });

  it('points DATABASE_URL and REDIS_URL at the compose services with matching credentials', () => {
    const db = hostPort(tollgateEnv.DATABASE_URL!, 5432);
    expect(db.host).toBe('postgres');
    expect(services.postgres).toBeDefined();
    const pg = composeEnv('postgres');
    expect(decodeURIComponent(db.url.username)).toBe(pg.POSTGRES_USER);
    expect(decodeURIComponent(db.url.password)).toBe(pg.POSTGRES_PASSWORD);
    expect(db.url.pathname).toBe(`/${pg.POSTGRES_DB}`);
    expect(db.port).toBe(5432);
    const redis = hostPort(tollgateEnv.REDIS_URL!, 6379);
    expect(redis.host).toBe('redis');
    expect(redis.port).toBe(6379);
  });

  it('mounts the policy file and DATA_DIR', () => {
    const mounts = (services.tollgate.volumes as string[]).map((v) => v.split(':'));
    const policy = mounts.find(([, target]) => target === tollgateEnv.POLICY_FILE);
    expect(policy, 'POLICY_FILE is mounted').toBeDefined();
    expect(policy![0]).toBe('./src/policy/demo-policy.yaml');
    expect(existsSync(join(ROOT, policy![0]!))).toBe(true);
    expect(
      mounts.some(
        ([source, target]) => target === config.dataDir && compose.volumes && source! in compose.volumes,
      ),
    ).toBe(true);
  });

  it("publishes the sidecar's listeners on the config's ports (admin on loopback only)", () => {
    const exposed = (services.tollgate.expose ?? []).map(Number);
    const published = (services.tollgate.ports ?? []).map((p: string) => String(p).split(':'));
    expect(exposed).toEqual(expect.arrayContaining([config.httpPort, config.grpcPort]));
    for (const parts of published) {
      expect(parts[0], 'published on loopback only').toBe('127.0.0.1');
      expect(Number(parts.at(-1))).toBe(config.adminPort);
    }
    expect(services.nginx.ports).toContain('127.0.0.1:8000:8000');
    expect(services.envoy.ports).toContain('127.0.0.1:10000:10000');
  });

  it('publishes every port of every service on the host loopback only (a demo with demo secrets)', () => {
    let published = 0;
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) {
        published++;
        if (typeof port === 'object')
          expect(port.host_ip, `${name}: ${JSON.stringify(port)}`).toBe('127.0.0.1');
        else expect(String(port), `${name}: ${port}`).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
      }
    }
    expect(published).toBeGreaterThanOrEqual(3);
  });

  it('waits for healthy dependencies', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, spec] of Object.entries((service.depends_on ?? {}) as Record<string, Json>)) {
        expect(services[dependency], `${name} depends on ${dependency}`).toBeDefined();
        expect(spec.condition).toBe('service_healthy');
        // tollgate's health check is the image's HEALTHCHECK.
        if (dependency === 'tollgate') expect(dockerfile).toMatch(/^HEALTHCHECK /m);
        else expect(services[dependency].healthcheck, `${dependency} has a healthcheck`).toBeDefined();
      }
    }
    expect(Object.keys(services.tollgate.depends_on).sort()).toEqual(['postgres', 'redis']);
    expect(Object.keys(services.nginx.depends_on).sort()).toEqual(['demo-upstream', 'tollgate']);
    expect(Object.keys(services.envoy.depends_on).sort()).toEqual(['demo-upstream-envoy', 'tollgate']);
  });

  /** The proxies mount the shipped directory and deploy/<proxy>/start.sh; returns the start.sh env. */
  function proxyMounts(proxy: 'nginx' | 'envoy', srcVar: string): Env {
    const service = services[proxy];
    const env = composeEnv(proxy);
    const mounts = (service.volumes as string[]).map((v) => v.split(':'));
    const script = mounts.find(([source]) => source === `./deploy/${proxy}/start.sh`);
    expect(script, `${proxy} mounts deploy/${proxy}/start.sh`).toBeDefined();
    expect(service.command).toEqual(['sh', script![1]]);
    const shipped = mounts.find(([source]) => source === `./${proxy}`);
    expect(shipped, `${proxy} mounts the shipped ./${proxy}`).toBeDefined();
    expect(shipped![2]).toBe('ro');
    expect(env[srcVar]!.startsWith(shipped![1]!)).toBe(true);
    return env;
  }

  /** A host:port that start.sh writes must be a compose service listening on that port. */
  function expectServiceAddress(address: string, service: string, port: number): void {
    const [host, p] = address.split(':');
    expect(host).toBe(service);
    expect(services[host!]).toBeDefined();
    expect(Number(p)).toBe(port);
  }
  const appPort = Number(composeEnv('demo-upstream').PORT);

  it('demo upstream listens on the port the proxies are told', () => {
    expect(appPort).toBe(3000);
    expect((services['demo-upstream'].expose ?? []).map(Number)).toContain(appPort);
    expect(services['demo-upstream'].volumes).toContain('./deploy/demo-upstream/app.py:/srv/app.py:ro');
  });

  it('the app behind Envoy is the same app, untouched: Envoy ext_proc settles, so no settle URL or token', () => {
    const behindNginx = services['demo-upstream'];
    const behindEnvoy = services['demo-upstream-envoy'];
    for (const key of ['image', 'command', 'volumes', 'expose', 'healthcheck'])
      expect(behindEnvoy[key], key).toEqual(behindNginx[key]);
    const env = composeEnv('demo-upstream-envoy');
    expect(env.TOLLGATE_SETTLE_URL).toBeUndefined();
    expect(env.SETTLE_TOKEN).toBeUndefined();
    expect(composeEnv('demo-upstream').TOLLGATE_SETTLE_URL).toBe(
      `http://tollgate:${config.httpPort}/internal/usage/settle`,
    );
  });

  it('nginx: the shipped config with the compose service names passes nginx -t', () => {
    const env = proxyMounts('nginx', 'NGINX_SRC');
    expectServiceAddress(env.SIDECAR_ADDR!, 'tollgate', config.httpPort);
    expectServiceAddress(env.APP_ADDR!, 'demo-upstream', appPort);

    const out = tempDir('tollgate-compose-nginx-');
    const render = spawnSync('sh', [join(ROOT, 'deploy/nginx/start.sh'), 'render'], {
      env: { PATH: process.env.PATH ?? '', ...env, NGINX_SRC: join(ROOT, 'nginx'), NGINX_OUT: out },
      encoding: 'utf8',
    });
    expect(render.stderr).toBe('');
    expect(render.status).toBe(0);

    // Only the two upstream servers differ from the shipped files.
    const rendered = readFileSync(join(out, 'tollgate.conf'), 'utf8');
    const upstreams = Object.fromEntries(
      [...rendered.matchAll(/upstream\s+(\S+)\s*\{[^}]*?server\s+([^\s;]+)/g)].map((m) => [m[1], m[2]]),
    );
    expect(upstreams).toEqual({ tollgate_sidecar: env.SIDECAR_ADDR, tollgate_app: env.APP_ADDR });
    const shippedLines = read('nginx/tollgate.conf').split('\n');
    const changed = rendered.split('\n').filter((line, i) => line !== shippedLines[i]);
    expect(changed.map((l) => l.trim())).toEqual([`server ${env.SIDECAR_ADDR};`, `server ${env.APP_ADDR};`]);
    for (const file of ['nginx.conf', 'tollgate-upstream-headers.conf'])
      expect(readFileSync(join(out, file), 'utf8')).toBe(read(`nginx/${file}`));
    expect(rendered).toMatch(/listen 8000;/); // the published port

    // nginx resolves upstream host names when it loads the config, and `tollgate` / `demo-upstream`
    // only resolve inside the compose network: for the syntax check they become 127.0.0.1 (same
    // ports). The check covers everything else: directives, maps, includes, variables.
    writeFileSync(
      join(out, 'tollgate.conf'),
      rendered
        .replace(`server ${env.SIDECAR_ADDR};`, `server 127.0.0.1:${config.httpPort};`)
        .replace(`server ${env.APP_ADDR};`, `server 127.0.0.1:${appPort};`),
    );
    const result = nginxTest(join(out, 'nginx.conf'), out);
    expect(result.output).toMatch(/test is successful/);
    expect(result.code).toBe(0);
  });

  it('nginx: start.sh refuses a shipped config whose addresses it cannot find', () => {
    const src = tempDir('tollgate-compose-nginx-src-');
    writeFileSync(join(src, 'nginx.conf'), read('nginx/nginx.conf'));
    writeFileSync(
      join(src, 'tollgate.conf'),
      read('nginx/tollgate.conf').replace('server 127.0.0.1:3000;', 'server 127.0.0.1:3001;'),
    );
    const result = spawnSync('sh', [join(ROOT, 'deploy/nginx/start.sh'), 'render'], {
      env: {
        PATH: process.env.PATH ?? '',
        NGINX_SRC: src,
        NGINX_OUT: join(src, 'out'),
        SIDECAR_ADDR: 'tollgate:8080',
        APP_ADDR: 'demo-upstream:3000',
      },
      encoding: 'utf8',
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('server 127.0.0.1:3000;');
  });

  it('Envoy: the shipped envoy.yaml with DNS clusters on the compose service names, nothing else changed', () => {
    const env = proxyMounts('envoy', 'ENVOY_SRC');
    expectServiceAddress(env.SIDECAR_ADDR!, 'tollgate', config.grpcPort);
    expectServiceAddress(env.APP_ADDR!, 'demo-upstream-envoy', appPort);

    const out = join(tempDir('tollgate-compose-envoy-'), 'envoy.yaml');
    const render = spawnSync('sh', [join(ROOT, 'deploy/envoy/start.sh'), 'render'], {
      env: {
        PATH: process.env.PATH ?? '',
        ...env,
        ENVOY_SRC: join(ROOT, 'envoy/envoy.yaml'),
        ENVOY_OUT: out,
      },
      encoding: 'utf8',
    });
    expect(render.stderr).toBe('');
    expect(render.status).toBe(0);
    const rendered: Json = parse(readFileSync(out, 'utf8'));
    const shipped: Json = parse(read('envoy/envoy.yaml'));

    const endpoint = (cfg: Json, name: string) => {
      const cluster = cfg.static_resources.clusters.find((c: Json) => c.name === name);
      return {
        type: cluster.type,
        ...cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address,
      };
    };
    expect(endpoint(rendered, 'tollgate')).toEqual({
      type: 'STRICT_DNS',
      address: 'tollgate',
      port_value: config.grpcPort,
    });
    expect(endpoint(rendered, 'app')).toEqual({
      type: 'STRICT_DNS',
      address: 'demo-upstream-envoy',
      port_value: appPort,
    });
    expect(rendered.static_resources.listeners[0].address.socket_address.port_value).toBe(10000); // published
    // ext_authz goes to the sidecar's cluster, which still speaks HTTP/2.
    expect(extAuthzCluster(rendered)).toBe('tollgate');

    // Undo the two clusters' changes: the rest must be the shipped config, field for field.
    for (const name of ['tollgate', 'app']) {
      const cluster = rendered.static_resources.clusters.find((c: Json) => c.name === name);
      const original = shipped.static_resources.clusters.find((c: Json) => c.name === name);
      cluster.type = original.type;
      cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address =
        original.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
    }
    expect(rendered).toEqual(shipped);
  });
});

function extAuthzCluster(envoy: Json): string {
  const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const extAuthz = hcm.http_filters.find((f: Json) => f.name === 'envoy.filters.http.ext_authz');
  const cluster = extAuthz.typed_config.grpc_service.envoy_grpc.cluster_name;
  const def = envoy.static_resources.clusters.find((c: Json) => c.name === cluster);
  expect(
    def.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']
      .explicit_http_config.http2_protocol_options,
  ).toBeDefined();
  return cluster;
}

describe('kubernetes.yaml', () => {
  const env = k8sEnv(sidecar);
  const config = configOf(env);

  it('has every object the pod needs, in the tollgate namespace, with current API versions', () => {
    const kinds = k8sDocs.map((d) => `${d.apiVersion} ${d.kind}`);
    for (const expected of [
      'v1 Namespace',
      'v1 Secret',
      'v1 ConfigMap',
      'apps/v1 Deployment',
      'v1 Service',
      'apps/v1 StatefulSet',
      'autoscaling/v2 HorizontalPodAutoscaler',
      'policy/v1 PodDisruptionBudget',
      'networking.k8s.io/v1 NetworkPolicy',
    ]) {
      expect(kinds).toContain(expected);
    }
    for (const doc of k8sDocs.filter((d) => d.kind !== 'Namespace'))
      expect(doc.metadata.namespace, `${doc.kind} ${doc.metadata.name}`).toBe('tollgate');
    expect(k8s('Namespace', 'tollgate')).toBeDefined();
  });

  it('pins every image to a version tag', () => {
    const images = k8sDocs
      .filter((d) => d.spec?.template?.spec)
      .flatMap((d) =>
        [...(d.spec.template.spec.initContainers ?? []), ...d.spec.template.spec.containers].map(
          (c: Json) => [`${d.metadata.name}/${c.name}`, c.image] as const,
        ),
      );
    expect(images.length).toBeGreaterThanOrEqual(5);
    for (const [where, image] of images) expectPinned(image, where);
    // A placeholder nobody can pull, which the header and README say how to replace in one command.
    const placeholder = `registry.example.com/tollgate:${JSON.parse(read('package.json')).version}`;
    expect(sidecar.image).toBe(placeholder);
    const replace =
      /sed "s#registry\.example\.com\/tollgate:#\$REGISTRY\/tollgate:#" kubernetes\.yaml \| kubectl apply -f -/;
    expect(read('kubernetes.yaml')).toMatch(replace);
    expect(read('README.md')).toMatch(replace);
    // The same envoy and Postgres/Redis releases as compose: one set of versions to keep current.
    for (const service of ['envoy', 'redis', 'postgres'] as const) {
      const composeImage = compose.services[service].image as string;
      const name = composeImage.split(':')[0]!;
      expect(images.filter(([, image]) => image.startsWith(`${name}:`)).map(([, image]) => image)).toEqual([
        composeImage,
      ]);
    }
  });

  it('leaves the replica count of every autoscaled workload to its HPA', () => {
    const hpas = k8sAll('HorizontalPodAutoscaler');
    expect(hpas.length).toBeGreaterThan(0);
    for (const hpa of hpas) {
      const { kind, name } = hpa.spec.scaleTargetRef;
      expect(
        k8s(kind, name).spec.replicas,
        `${kind} ${name} sets replicas while HPA ${hpa.metadata.name} owns them`,
      ).toBeUndefined();
    }
  });

  it("sizes the sidecar's and Envoy's CPU so that throttling cannot stall a decision past its timeout", () => {
    const cores = (quantity: string | number) =>
      typeof quantity === 'number'
        ? quantity
        : quantity.endsWith('m')
          ? Number(quantity.slice(0, -1)) / 1000
          : Number(quantity);
    const { requests, limits } = sidecar.resources;
    // One JS thread plus GC/libuv threads: a limit of 2 cores is never exhausted within a CFS period.
    expect(cores(limits.cpu)).toBeGreaterThanOrEqual(2);
    expect(cores(requests.cpu)).toBeGreaterThanOrEqual(0.25);
    expect(cores(requests.cpu)).toBeLessThanOrEqual(cores(limits.cpu));
    expect(config.redisTimeoutMs).toBe(50);
    // The reason sits next to the numbers, naming the timeout it protects.
    const manifest = read('kubernetes.yaml');
    const sidecarBlock = manifest.slice(manifest.indexOf(`image: ${sidecar.image}`));
    expect(sidecarBlock.slice(0, sidecarBlock.indexOf('resources:'))).toMatch(/REDIS_TIMEOUT_MS=50/);

    // Envoy: a worker per CPU of the node unless told; workers must fit its own limit.
    const envoy = container('envoy');
    const concurrency = Number(envoy.command[envoy.command.indexOf('--concurrency') + 1]);
    expect(concurrency).toBeGreaterThanOrEqual(1);
    expect(cores(envoy.resources.limits.cpu)).toBeGreaterThanOrEqual(concurrency);
  });

  it('sets only the sidecar variables src/config.ts reads, from the Secret and ConfigMap, with values it accepts', () => {
    expectProductionConfig(env, 'k8s tollgate');
    const fromSecret = (sidecar.env as Json[])
      .filter((e) => e.valueFrom?.secretKeyRef)
      .map((e) => e.name)
      .sort();
    expect(fromSecret).toEqual(['ADMIN_TOKEN', 'DATABASE_URL', 'SETTLE_TOKEN']);
    expect(Object.keys(k8s('Secret', 'tollgate').stringData).sort()).toEqual([
      'ADMIN_TOKEN',
      'DATABASE_URL',
      'SETTLE_TOKEN',
    ]);
  });

  it('points DATABASE_URL and REDIS_URL at the Services, with the postgres credentials', () => {
    const serviceFor = (host: string) => {
      const [name, namespace] = host.split('.');
      if (namespace) expect(namespace).toBe('tollgate');
      return k8s('Service', name!);
    };
    const db = hostPort(env.DATABASE_URL!, 5432);
    const pgService = serviceFor(db.host);
    expect(pgService.spec.ports.map((p: Json) => p.port)).toContain(db.port);
    const postgres = k8s('StatefulSet', 'postgres');
    expect(postgres.spec.serviceName).toBe(pgService.metadata.name);
    expect(pgService.spec.clusterIP).toBe('None'); // headless
    expect(postgres.spec.volumeClaimTemplates.length).toBe(1);
    const pgEnv = k8sEnv(postgres.spec.template.spec.containers[0]);
    expect(decodeURIComponent(db.url.username)).toBe(pgEnv.POSTGRES_USER);
    expect(decodeURIComponent(db.url.password)).toBe(pgEnv.POSTGRES_PASSWORD);
    expect(db.url.pathname).toBe(`/${pgEnv.POSTGRES_DB}`);

    const redis = hostPort(env.REDIS_URL!, 6379);
    expect(serviceFor(redis.host).spec.ports.map((p: Json) => p.port)).toContain(redis.port);
  });

  it("declares the sidecar's container ports as the config's listeners", () => {
    const ports = Object.fromEntries((sidecar.ports as Json[]).map((p) => [p.name, p.containerPort]));
    expect(ports).toEqual({ http: config.httpPort, grpc: config.grpcPort, admin: config.adminPort });
    expect(config.host).toBe('0.0.0.0'); // the kubelet probes the pod IP, not 127.0.0.1
  });

  it('probes the sidecar with native gRPC health: liveness = overall, readiness = "readiness"', () => {
    expect(sidecar.livenessProbe.grpc).toBeDefined();
    expect(sidecar.livenessProbe.grpc.port).toBe(config.grpcPort);
    expect(typeof sidecar.livenessProbe.grpc.port).toBe('number'); // named ports are not supported
    expect(sidecar.livenessProbe.grpc.service ?? '').toBe('');
    expect(sidecar.readinessProbe.grpc).toEqual({ port: config.grpcPort, service: 'readiness' });
    if (sidecar.startupProbe) expect(sidecar.startupProbe.grpc.port).toBe(config.grpcPort);
    for (const probe of [sidecar.livenessProbe, sidecar.readinessProbe, sidecar.startupProbe].filter(
      Boolean,
    )) {
      expect(Object.keys(probe).filter((k) => ['grpc', 'httpGet', 'tcpSocket', 'exec'].includes(k))).toEqual([
        'grpc',
      ]);
    }
  });

  it('mounts the policy, a writable DATA_DIR and /tmp; the root filesystem is read-only and non-root', () => {
    /** The pod volume mounted at `path` in the sidecar. */
    const volumeAt = (path: string): Json => {
      const mount = (sidecar.volumeMounts as Json[]).find((m) => m.mountPath === path);
      if (!mount) throw new Error(`the tollgate container has no volume mounted at ${path}`);
      return (podSpec.volumes as Json[]).find((v) => v.name === mount.name);
    };
    const policyDir = env.POLICY_FILE!.slice(0, env.POLICY_FILE!.lastIndexOf('/'));
    const configMap = k8s('ConfigMap', volumeAt(policyDir).configMap.name);
    expect(configMap.data[env.POLICY_FILE!.slice(policyDir.length + 1)]).toBe(
      read('src/policy/demo-policy.yaml'),
    );
    expect(volumeAt(config.dataDir).emptyDir).toBeDefined();
    expect(volumeAt('/tmp').emptyDir).toBeDefined();
    expect(podSpec.securityContext.runAsNonRoot).toBe(true);
    for (const c of podSpec.containers as Json[]) {
      expect(c.securityContext.readOnlyRootFilesystem, c.name).toBe(true);
      expect(c.securityContext.allowPrivilegeEscalation, c.name).toBe(false);
      expect(c.securityContext.runAsUser, c.name).toBeGreaterThan(0);
      expect(c.resources.requests.cpu, c.name).toBeDefined(); // the HPA's utilisation needs every container's request
      expect(c.resources.requests.memory, c.name).toBeDefined();
      expect(c.resources.limits.memory, c.name).toBeDefined();
      expect(c.resources.limits.cpu, c.name).toBeDefined();
    }
    expect(sidecar.securityContext.runAsUser).toBe(Number(/^USER (\d+)/m.exec(dockerfile)![1]));
  });

  it('runs the shipped envoy.yaml verbatim: ext_authz to the sidecar and the app over the pod loopback', () => {
    const envoyContainer = container('envoy');
    const configPath = envoyContainer.command[envoyContainer.command.indexOf('-c') + 1] as string;
    const dir = configPath.slice(0, configPath.lastIndexOf('/'));
    const mount = (envoyContainer.volumeMounts as Json[]).find((m) => m.mountPath === dir);
    const configMap = k8s(
      'ConfigMap',
      (podSpec.volumes as Json[]).find((v) => v.name === mount.name).configMap.name,
    );
    const text = configMap.data[configPath.slice(dir.length + 1)];
    expect(text).toBe(read('envoy/envoy.yaml'));

    const envoy: Json = parse(text);
    const endpoint = (name: string) =>
      envoy.static_resources.clusters.find((c: Json) => c.name === name).load_assignment.endpoints[0]
        .lb_endpoints[0].endpoint.address.socket_address;
    expect(endpoint(extAuthzCluster(envoy))).toEqual({ address: '127.0.0.1', port_value: config.grpcPort });
    const app = container('app');
    const appEnv = k8sEnv(app);
    expect(endpoint('app')).toEqual({ address: '127.0.0.1', port_value: Number(appEnv.PORT) });
    expect(app.ports[0].containerPort).toBe(Number(appEnv.PORT));
    expect(appEnv.HOST).toBe('127.0.0.1'); // only Envoy, in the pod, reaches the app

    const listenerPort = envoy.static_resources.listeners[0].address.socket_address.port_value;
    expect(envoyContainer.ports.map((p: Json) => p.containerPort)).toEqual([listenerPort]);
    const service = k8s('Service', 'api');
    expect(service.spec.ports.map((p: Json) => p.targetPort)).toEqual([listenerPort]);
  });

  it('embeds the demo upstream verbatim', () => {
    const app = container('app');
    const script = app.command.at(-1) as string;
    const dir = script.slice(0, script.lastIndexOf('/'));
    const mount = (app.volumeMounts as Json[]).find((m) => m.mountPath === dir);
    const configMap = k8s(
      'ConfigMap',
      (podSpec.volumes as Json[]).find((v) => v.name === mount.name).configMap.name,
    );
    expect(configMap.data[script.slice(dir.length + 1)]).toBe(read('deploy/demo-upstream/app.py'));
  });

  it('selects real pods from every Service, the HPA and the PDB', () => {
    const podLabels = k8sDocs
      .filter((d) => d.spec?.template?.metadata?.labels)
      .map((d) => d.spec.template.metadata.labels as Env);
    const matches = (selector: Env) =>
      podLabels.some((labels) => Object.entries(selector).every(([k, v]) => labels[k] === v));
    for (const service of k8sAll('Service'))
      expect(matches(service.spec.selector), `Service ${service.metadata.name}`).toBe(true);
    for (const workload of [...k8sAll('Deployment'), ...k8sAll('StatefulSet')]) {
      expect(workload.spec.template.metadata.labels).toMatchObject(workload.spec.selector.matchLabels);
    }
    const hpa = k8s('HorizontalPodAutoscaler', 'api');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' });
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    const pdb = k8s('PodDisruptionBudget', 'api');
    expect(pdb.spec.selector.matchLabels).toEqual(apiDeployment.spec.selector.matchLabels);
    expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas); // a drain can always proceed
  });

  it("NetworkPolicy: the API only on Envoy's port (and /metrics for monitoring), never the admin port; Redis and Postgres only from the API pods", () => {
    const policies = k8sAll('NetworkPolicy');
    expect(
      policies.some(
        (p) =>
          Object.keys(p.spec.podSelector).length === 0 &&
          p.spec.policyTypes.includes('Ingress') &&
          !p.spec.ingress,
      ),
    ).toBe(true); // default deny
    const selects = (p: Json, name: string) =>
      p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === name;

    const api = policies.find((p) => selects(p, 'api'));
    const envoyPort = k8s('Service', 'api').spec.ports[0].targetPort;
    const rules = api.spec.ingress as Json[];
    const openToAll = rules.filter((r) => !r.from);
    expect(openToAll.flatMap((r) => r.ports.map((p: Json) => p.port))).toEqual([envoyPort]);
    const allPorts = rules.flatMap((r) => r.ports.map((p: Json) => p.port));
    expect(allPorts).not.toContain(config.adminPort);
    expect(allPorts).not.toContain(config.grpcPort);
    for (const rule of rules.filter((r) => r.from)) {
      expect(rule.ports.map((p: Json) => p.port)).toEqual([config.httpPort]); // /metrics
      expect(rule.from.every((f: Json) => f.namespaceSelector && !f.ipBlock)).toBe(true);
    }

    for (const store of ['redis', 'postgres']) {
      const policy = policies.find((p) => selects(p, store));
      expect(policy, `NetworkPolicy for ${store}`).toBeDefined();
      const servicePorts = k8s('Service', store).spec.ports.map((p: Json) => p.port);
      for (const rule of policy.spec.ingress as Json[]) {
        expect(rule.from).toEqual([
          { podSelector: { matchLabels: apiDeployment.spec.selector.matchLabels } },
        ]);
        expect(rule.ports.map((p: Json) => p.port)).toEqual(servicePorts);
      }
    }
  });
});

describe('deploy/grafana/tollgate-dashboard.json', () => {
  const COUNTERS = [
    'tollgate_decisions_total',
    'tollgate_store_errors_total',
    'tollgate_key_cache_total',
    'tollgate_shadow_denied_total',
    'tollgate_near_limit_total',
    'tollgate_export_failures_total',
    'tollgate_export_delivered_total',
    'tollgate_ext_proc_streams_total',
  ];
  const HISTOGRAMS = ['tollgate_decision_duration_seconds', 'tollgate_store_duration_seconds'];
  const GAUGES = [
    'tollgate_degraded',
    'tollgate_redis_scripts_fallback',
    'tollgate_usage_flush_lag_seconds',
    'tollgate_policy_limit',
    'tollgate_export_lag_seconds',
  ];
  const panels = (dashboard.panels as Json[]).flatMap((p) => [p, ...(p.panels ?? [])]);
  const exprs = panels.flatMap((p) => (p.targets ?? []).map((t: Json) => t.expr as string));
  const variableQueries = (dashboard.templating.list as Json[])
    .map((v) => (typeof v.query === 'string' ? v.query : v.query?.query))
    .filter(Boolean) as string[];

  it('queries only the metrics Tollgate exports, each the way its type allows', () => {
    const used = [...exprs, ...variableQueries].flatMap((e) =>
      [...e.matchAll(/\btollgate_[a-z0-9_]+/g)].map((m) => m[0]),
    );
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) {
      const histogram = HISTOGRAMS.find((h) => name.startsWith(`${h}_`));
      if (histogram) expect(['bucket', 'sum', 'count'], name).toContain(name.slice(histogram.length + 1));
      else expect([...COUNTERS, ...GAUGES], name).toContain(name);
    }
    for (const expr of exprs) {
      for (const counter of COUNTERS)
        if (expr.includes(counter))
          expect(expr, 'counters are read as rates').toMatch(new RegExp(`(rate|increase)\\(${counter}`));
    }
  });

  it('has the panels for decisions, denials, latency percentiles, degraded state, flush lag, store errors and the cache hit ratio', () => {
    const has = (re: RegExp) => exprs.some((e) => re.test(e));
    expect(has(/sum by \(outcome\) \(rate\(tollgate_decisions_total/)).toBe(true);
    expect(has(/sum by \(reason\) \(rate\(tollgate_decisions_total\{outcome="denied"/)).toBe(true);
    for (const q of ['0.5', '0.9', '0.99'])
      expect(has(new RegExp(`histogram_quantile\\(${q}, .*tollgate_decision_duration_seconds_bucket`))).toBe(
        true,
      );
    expect(has(/tollgate_degraded/)).toBe(true);
    expect(has(/tollgate_usage_flush_lag_seconds/)).toBe(true);
    expect(has(/tollgate_store_errors_total/)).toBe(true);
    expect(has(/tollgate_key_cache_total\{result=~"hit\|negative_hit"\}.*\/.*tollgate_key_cache_total/)).toBe(
      true,
    );
  });

  it('has the export panels: lag per replica, failures by sink, deliveries by sink and kind', async () => {
    const has = (re: RegExp) => exprs.some((e) => re.test(e));
    expect(has(/^max by \(instance\) \(tollgate_export_lag_seconds\)$/)).toBe(true);
    expect(has(/^sum by \(sink\) \(rate\(tollgate_export_failures_total\[/)).toBe(true);
    expect(has(/^sum by \(sink, kind\) \(rate\(tollgate_export_delivered_total\[/)).toBe(true);
    // Every metric the exporter registers has a panel (names from the registry, not a list here).
    const registry = new Registry();
    exportMetrics(registry);
    const exported = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(exported.length).toBe(3);
    for (const name of exported)
      expect(
        exprs.some((e) => e.includes(name)),
        name,
      ).toBe(true);
  });

  it('has a metering row: ext_proc answers by usage source, and the share settled at the reservation', () => {
    const has = (re: RegExp) => exprs.some((e) => re.test(e));
    expect(has(/^sum by \(usage\) \(rate\(tollgate_ext_proc_streams_total\[/)).toBe(true);
    expect(has(/usage=~"missing\|unreadable\|incomplete"/)).toBe(true);
  });

  it('has an RLS row with envoyproxy/ratelimit per-rule stats and config loads, read as rates', () => {
    expect(panels.some((p) => p.type === 'row' && /RLS/.test(p.title))).toBe(true);
    const rls = exprs.filter((e) => e.includes('ratelimit_service_'));
    for (const stat of ['within_limit', 'near_limit', 'over_limit', 'shadow_mode'])
      expect(rls.some((e) => e.includes(`rate(ratelimit_service_rate_limit_${stat}[`))).toBe(true);
    expect(rls.some((e) => e.includes('ratelimit_service_config_load_error'))).toBe(true);
    for (const e of rls) expect(e).toMatch(/(rate|increase)\(ratelimit_service_/);
  });

  it('uses a Prometheus datasource variable everywhere, with unique panel ids', () => {
    const variable = (dashboard.templating.list as Json[]).find((v) => v.type === 'datasource');
    expect(variable.query).toBe('prometheus');
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: `\${${variable.name}}` });
      for (const t of panel.targets) expect(t.datasource).toEqual(panel.datasource);
    }
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.uid).toBe('tollgate');
  });
});

describe('deploy/demo-upstream (Python)', () => {
  const python = spawnSync('python3', ['--version']).status === 0;
  it.skipIf(!python)(
    'echoes the x-tollgate-* identity as JSON and logs it to stdout (skipped without python3)',
    async () => {
      const port = await freePort();
      const child = spawn('python3', [join(ROOT, 'deploy/demo-upstream/app.py')], {
        env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        const deadline = Date.now() + 10_000;
        while (!stdout.includes('listening')) {
          if (Date.now() > deadline || child.exitCode !== null)
            throw new Error(`demo upstream did not start: ${stdout}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
          method: 'POST',
          headers: {
            'x-tollgate-account': 'acc_1',
            'x-tollgate-tier': 'pro',
            'x-tollgate-key-id': 'key_1',
            'x-request-id': 'r1',
          },
          body: '{"prompt":"hi"}',
        });
        expect(response.status).toBe(200);
        const body = (await response.json()) as Json;
        expect(body).toMatchObject({
          method: 'POST',
          path: '/v1/chat/completions',
          api_key_received: false,
          request_id: 'r1',
        });
        expect(body.tollgate).toEqual({
          'x-tollgate-account': 'acc_1',
          'x-tollgate-tier': 'pro',
          'x-tollgate-key-id': 'key_1',
        });
        const leaked = (await (
          await fetch(`http://127.0.0.1:${port}/x`, { headers: { 'x-api-key': 'tg_live_secret' } })
        ).json()) as Json;
        expect(leaked.api_key_received).toBe(true);
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
        const logged = stdout
          .split('\n')
          .filter((l) => l.includes('/v1/chat/completions'))
          .map((l) => JSON.parse(l));
        expect(logged).toHaveLength(1);
        expect(logged[0].tollgate['x-tollgate-account']).toBe('acc_1');
      } finally {
        child.kill('SIGTERM'); // handled: exits cleanly, as PID 1 in a container must
        const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 5_000))]);
        if (code === 'timeout') child.kill('SIGKILL');
        expect(code).toBe(0);
      }
    },
  );
});
