#!/usr/bin/env bash
# `make demo`: start the local world and walk through what Millwright does, printing each step.
# Each flow adds its steps here as it lands. Runs inside scripts/with-local-world.sh, which starts
# moto and the sandbox, creates the template's resources, seeds the demo connection, and stops it
# all afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [[ ${1:-} != --inside ]]; then
  exec "$root/scripts/with-local-world.sh" --stack millwright-demo -- "$0" --inside
fi

millwright="$root/target/debug/millwright"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "The local world"
echo "AWS (moto):          $AWS_ENDPOINT_URL"
echo "BigCommerce double:  $SANDBOX_BIGCOMMERCE_URL"
echo "Plex double:         $SANDBOX_PLEX_URL"
echo "monday double:       $SANDBOX_MONDAY_URL"
echo "audit table:         $AUDIT_TABLE_NAME"
echo "state table:         $STATE_TABLE_NAME"
echo "order queue:         $ORDER_QUEUE_URL"
echo "alert topic:         $ALERT_TOPIC_ARN"

step "millwright check: reach AWS and every system of the demo connection"
"$millwright" check

step "The same check when Plex refuses the key (a fault injected into the Plex double)"
curl -fsS -X POST "$SANDBOX_PLEX_URL/__control/faults" -H 'Content-Type: application/json' \
  -d '{"path_prefix":"/mdm/","times":1,"fault":"unauthorized"}' >/dev/null
if "$millwright" check --connection demo; then
  echo "expected the check to fail while Plex refuses the key" >&2
  exit 1
fi
echo "(exit status non-zero, as scripts expect)"

step "What the Plex double saw (credentials redacted in its request log)"
curl -fsS "$SANDBOX_PLEX_URL/__control/requests" | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    headers = {k.lower(): v for k, v in r.get("headers", {}).items()}
    key = headers.get("x-plex-connect-api-key", "-")
    fault = r.get("fault") or "-"
    print("%3d %s %s -> %s  api key: %s  fault: %s" % (r["seq"], r["method"], r["path"], r["status"], key, fault))
'

step "Done: the three systems were reached through Millwright's own clients"
