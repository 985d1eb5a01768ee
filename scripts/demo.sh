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

step "A BigCommerce order webhook, delivered three times: authenticated, repeated, forged"
echo "receiver: $WEBHOOK_RECEIVER_URL/webhooks/bigcommerce/demo"
# The committed sample event: store/order/created for order 100 of the demo store, with the demo
# connection's webhook secret (the sandbox's, not a real one) in its X-Millwright-Auth header.
sample="$root/events/webhook-receiver/order-created.json"
hook_body=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["body"], end="")' "$sample")
demo_secret=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["headers"]["x-millwright-auth"])' "$sample")
post_hook() { # $1 = label, $2 = X-Millwright-Auth value
  local answer
  answer=$(curl -sS -X POST "$WEBHOOK_RECEIVER_URL/webhooks/bigcommerce/demo" \
    -H 'Content-Type: application/json' -H "X-Millwright-Auth: $2" --data-binary "$hook_body" \
    -w ' %{http_code}')
  printf '  %-34s -> %s\n' "$1" "${answer##* } ${answer% *}"
}
post_hook "with the demo's webhook secret" "$demo_secret"
post_hook "the same delivery again" "$demo_secret"
post_hook "with a guessed secret" "guessed"
"$root/.venv/bin/python" - <<'PY'
import json
import os

import boto3
from boto3.dynamodb.conditions import Key

aws = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
depth = boto3.client("sqs", **aws).get_queue_attributes(
    QueueUrl=os.environ["ORDER_QUEUE_URL"], AttributeNames=["ApproximateNumberOfMessages"]
)["Attributes"]["ApproximateNumberOfMessages"]
print(f"  messages on the order queue: {depth}")
table = boto3.resource("dynamodb", **aws).Table(os.environ["AUDIT_TABLE_NAME"])
events = table.query(KeyConditionExpression=Key("pk").eq("demo#bc-order#100"))["Items"]
events += table.query(IndexName="by-outcome", KeyConditionExpression=Key("outcome_pk").eq("demo#rejected"))["Items"]
print("  audit trail:")
for item in sorted(events, key=lambda item: item["sk"]):
    event = json.loads(item["event"])
    message = event.get("message") or "queued as SQS message %s" % event.get("detail", {}).get("message_id", "?")
    print(f"    {item['pk'][:44]:<44} {item['stage']:<9} {item['outcome']:<10} {message}")
PY

step "Done: the three systems were reached through Millwright's own clients"
