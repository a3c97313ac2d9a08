// RLS rules from envoyproxy/ratelimit's config directory as it lives (ERL_CONFIG_DIR or RUNTIME_*):
// every *.yaml there, checked by the importer, re-read when a file or the directory's symlink
// target changes (the Kubernetes ConfigMap `..data` swap included). A bad file keeps the last good rules.

import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import type { RatelimitDomains } from '../policy/ratelimit-rules.js';
import { importEnvoyRatelimit } from './import-envoy-ratelimit.js';

/**
 * ms between looks at the directory. A look is one readdir and one stat per file; polling (not
 * inotify) sees every way a mounted directory changes: edits, renames and symlink swaps.
 */
export const CONFIG_POLL_MS = 500;

export interface ConfigDirectoryOptions {
  dir: string;
  ignoreDotFiles: boolean;
  mergeDomains: boolean;
  pollMs?: number;
  /** A load that replaced the rules (domains and file count). */
  onLoad(domains: RatelimitDomains, files: number): void;
  /** A load that failed: the last good rules stay. `problems` name file, line and what is wrong. */
  onError(problems: Array<{ path: string; message: string }>): void;
}

export interface ConfigDirectory {
  /** The last good rules ({} until one load succeeded). */
  readonly domains: RatelimitDomains;
  close(): void;
}

/** Loads once (a bad directory at start is reported, not fatal), then keeps looking. */
export async function watchConfigDirectory(options: ConfigDirectoryOptions): Promise<ConfigDirectory> {
  let domains: RatelimitDomains = {};
  let seen = '';
  let busy = false;
  const look = async () => {
    if (busy) return;
    busy = true;
    try {
      const files = await listFiles(options.dir, options.ignoreDotFiles);
      const fingerprint = JSON.stringify(files.map((f) => [f.name, f.id]));
      if (fingerprint === seen) return;
      seen = fingerprint;
      const texts = await Promise.all(
        files.map(async (f) => ({ name: f.name, text: await readFile(join(options.dir, f.name), 'utf8') })),
      );
      domains = importEnvoyRatelimit(texts, { mergeDomains: options.mergeDomains }).domains;
      options.onLoad(domains, files.length);
    } catch (err) {
      options.onError(
        err instanceof InputError
          ? err.problems
          : [{ path: options.dir, message: err instanceof Error ? err.message : String(err) }],
      );
    } finally {
      busy = false;
    }
  };
  await look();
  const timer = setInterval(() => void look(), options.pollMs ?? CONFIG_POLL_MS);
  timer.unref();
  return {
    get domains() {
      return domains;
    },
    close: () => clearInterval(timer),
  };
}

/** The directory's *.yaml files (symlinks followed, directories such as `..data` skipped), with a change id each. */
async function listFiles(dir: string, ignoreDotFiles: boolean): Promise<Array<{ name: string; id: string }>> {
  const real = await realpath(dir);
  const names = (await readdir(dir))
    .filter((n) => /\.ya?ml$/.test(n) && !(ignoreDotFiles && n.startsWith('.')))
    .sort();
  const files: Array<{ name: string; id: string }> = [];
  for (const name of names) {
    const info = await stat(join(dir, name)).catch(() => undefined); // removed meanwhile: next look
    if (!info?.isFile()) continue;
    // ino changes when a ConfigMap swaps `..data`; size and mtime when a file is edited in place.
    files.push({ name, id: `${real}|${info.ino}|${info.size}|${info.mtimeMs}` });
  }
  return files;
}
