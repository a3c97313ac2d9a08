# syntax=docker/dockerfile:1
# Tollgate sidecar image.
#   docker build --build-arg TOLLGATE_COMMIT=$(git rev-parse --short HEAD) -t tollgate:0.1.0 .
#   docker run --rm -p 127.0.0.1:8080-8082:8080-8082 tollgate:0.1.0   # embedded PGlite + in-process counters under /data
#   docker run --rm -e DATABASE_URL=… tollgate:0.1.0 migrate          # any CLI command: serve (default), migrate, apply, keys …
# Listeners (src/config.ts defaults): 8080 HTTP (/check, /ext_authz, /healthz, /readyz, /metrics),
# 8081 gRPC (ext_authz, RLS, grpc.health.v1), 8082 admin API.

# Node 26 'Lithium' is the Active LTS line (since 2026-10-28; Node 24 is in maintenance since 2026-10-20),
# exact patch release pinned. package.json engines still allow >=20.19: the code runs on both.
ARG NODE_IMAGE=node:26.13.1-trixie-slim

# --- build: full dependencies, TypeScript → dist/ -------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run the build before the sources are copied.
RUN npm ci --ignore-scripts --no-audit --no-fund
# patches/: fixes to dependencies not yet released upstream (postgres.js crashes on a lost connection).
COPY patches ./patches
RUN npx patch-package
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# --- runtime: production dependencies, compiled code, non-root, tini as PID 1 ----------------------
FROM ${NODE_IMAGE} AS runtime
# tini forwards SIGTERM to node (graceful drain: health NOT_SERVING, in-flight calls finish, usage
# flushed) and reaps zombies; node as PID 1 would not get default signal handling.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
# Nothing reads NODE_ENV; every setting is an env var of src/config.ts.
ENV DATA_DIR=/data
# Listen on all interfaces: in a container the peers (Envoy, nginx, the kubelet) are not on loopback.
ENV HOST=0.0.0.0
# The commit the image was built from: the `commit` label of tollgate_build_info ("unknown" if not given).
ARG TOLLGATE_COMMIT=unknown
ENV TOLLGATE_COMMIT=${TOLLGATE_COMMIT}
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /src/dist ./dist
# The patched postgres.js from the build stage (patch-package is a dev dependency; same lockfile).
COPY --from=build /src/node_modules/postgres ./node_modules/postgres
COPY bin ./bin
# `tollgate …` on the PATH, e.g. `docker compose exec tollgate tollgate keys create --account …`.
RUN printf '#!/bin/sh\nexec node /app/bin/tollgate.js "$@"\n' > /usr/local/bin/tollgate \
 && chmod 0755 /usr/local/bin/tollgate \
 && mkdir -p /data \
 && chown 1000:1000 /data
# uid 1000 is the image's `node` user; numeric so that Kubernetes runAsNonRoot can verify it.
USER 1000:1000
# Embedded mode keeps its PGlite database and admin token here; unused with DATABASE_URL.
VOLUME ["/data"]
EXPOSE 8080 8081 8082
HEALTHCHECK --interval=10s --timeout=2s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# bin/tollgate-node: node with the GC that fits the CPUs the container may use (TOLLGATE_GC).
ENTRYPOINT ["/usr/bin/tini", "--", "/app/bin/tollgate-node", "/app/bin/tollgate.js"]
CMD ["serve"]
