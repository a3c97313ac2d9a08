#!/bin/sh
# Runs the SHIPPED envoy/envoy.yaml (mounted read-only at $ENVOY_SRC) with only the two cluster
# addresses replaced by compose service names, so this deployment never drifts from envoy/:
#   cluster tollgate  127.0.0.1:8081 (GRPC_PORT)  →  $SIDECAR_ADDR
#   cluster app       127.0.0.1:3000              →  $APP_ADDR
# and the clusters' `type: STATIC` (IP literals only) → `type: STRICT_DNS` (names, re-resolved).
# Each pattern must occur as often as expected, or this refuses to start (the shipped layout changed).
# `start.sh render` only writes the file to $ENVOY_OUT (used by test/unit/deploy-manifests.test.ts).
# In Kubernetes the shipped file is used as is: Envoy, the sidecar and the app share the pod's 127.0.0.1.
set -eu

src=${ENVOY_SRC:-/etc/tollgate/envoy/envoy.yaml}
out=${ENVOY_OUT:-/tmp/envoy.yaml}
: "${SIDECAR_ADDR:?set SIDECAR_ADDR to host:port of the Tollgate gRPC listener}"
: "${APP_ADDR:?set APP_ADDR to host:port of the app}"

cp "$src" "$out"

# replace FROM TO COUNT: literal (not regex) replacement of a string that must occur COUNT times.
replace() {
  count=$(grep -cF -- "$1" "$out" || true)
  if [ "$count" != "$3" ]; then
    echo "deploy/envoy/start.sh: expected \"$1\" $3 time(s) in $src, found $count" >&2
    exit 1
  fi
  awk -v from="$1" -v to="$2" '{ i = index($0, from); if (i) $0 = substr($0, 1, i - 1) to substr($0, i + length(from)); print }' \
    "$out" > "$out.tmp"
  mv "$out.tmp" "$out"
}

replace '{ address: 127.0.0.1, port_value: 8081 }' "{ address: ${SIDECAR_ADDR%:*}, port_value: ${SIDECAR_ADDR##*:} }" 1
replace '{ address: 127.0.0.1, port_value: 3000 }' "{ address: ${APP_ADDR%:*}, port_value: ${APP_ADDR##*:} }" 1
replace 'type: STATIC' 'type: STRICT_DNS' 2

[ "${1:-}" = render ] && exit 0
exec envoy -c "$out" "$@"
