// Admin listener: request path + method → the route and its path parameters, from the route table.

import type { AdminRoute } from './admin-route.js';

export interface Match {
  route: AdminRoute;
  params: Record<string, string>;
}

export interface Router {
  /** `route` undefined with `allowed` set: the path exists, the method does not (405). */
  match(method: string, path: string): { found: Match } | { allowed: string[] } | null;
}

export function createRouter(routes: readonly AdminRoute[]): Router {
  const compiled = routes.map((route) => {
    const names: string[] = [];
    const source = route.path
      .split('/')
      .map((segment) => {
        const param = /^\{(\w+)\}$/.exec(segment);
        if (!param) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(param[1]!);
        return '([^/]+)';
      })
      .join('/');
    return { route, names, regex: new RegExp(`^${source}$`) };
  });
  return {
    match(method, path) {
      const allowed: string[] = [];
      for (const { route, names, regex } of compiled) {
        const m = regex.exec(path);
        if (!m) continue;
        if (route.method !== method) {
          allowed.push(route.method);
          continue;
        }
        const params: Record<string, string> = {};
        names.forEach((name, i) => (params[name] = safeDecode(m[i + 1]!)));
        return { found: { route, params } };
      }
      return allowed.length > 0 ? { allowed } : null;
    },
  };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
