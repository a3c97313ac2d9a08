#!/bin/sh
# Runs the SHIPPED nginx/ config (mounted read-only at $NGINX_SRC) with only the two upstream
# addresses replaced by compose service names, so this deployment never drifts from nginx/:
#   server 127.0.0.1:8080;  (the sidecar's HTTP_PORT)  →  server $SIDECAR_ADDR;
#   server 127.0.0.1:3000;  (the app)                   →  server $APP_ADDR;
# Each address must occur exactly once, or this refuses to start (the shipped layout changed).
# `start.sh render` only writes the files to $NGINX_OUT (used by test/unit/deploy-manifests.test.ts).
set -eu

src=${NGINX_SRC:-/etc/tollgate/nginx}
out=${NGINX_OUT:-/etc/nginx/tollgate}
: "${SIDECAR_ADDR:?set SIDECAR_ADDR to host:port of the Tollgate HTTP listener}"
: "${APP_ADDR:?set APP_ADDR to host:port of the app}"

mkdir -p "$out"
cp "$src"/*.conf "$out"/

# replace FILE FROM TO: literal (not regex) replacement of a string that must occur exactly once.
replace() {
  count=$(grep -cF -- "$2" "$out/$1" || true)
  if [ "$count" != 1 ]; then
    echo "deploy/nginx/start.sh: expected \"$2\" exactly once in $src/$1, found $count" >&2
    exit 1
  fi
  awk -v from="$2" -v to="$3" '{ i = index($0, from); if (i) $0 = substr($0, 1, i - 1) to substr($0, i + length(from)); print }' \
    "$out/$1" > "$out/$1.tmp"
  mv "$out/$1.tmp" "$out/$1"
}

replace tollgate.conf 'server 127.0.0.1:8080;' "server $SIDECAR_ADDR;"
replace tollgate.conf 'server 127.0.0.1:3000;' "server $APP_ADDR;"

[ "${1:-}" = render ] && exit 0
exec nginx -c "$out/nginx.conf" -g 'daemon off;'
