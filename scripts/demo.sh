#!/usr/bin/env bash
# `make demo`: start the local world and walk through what Millwright does, printing each step.
# Each flow adds its steps here as it lands. Runs inside scripts/with-local-world.sh, which starts
# moto and the sandbox, creates the template's resources, seeds the demo connection, and stops it
# all afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [[ ${1:-} != --inside ]]; then
  # No timed stock sync: the demo runs it itself (millwright stock sync), so each step shows one run.
  exec "$root/scripts/with-local-world.sh" --stack millwright-demo --inventory-sync-every 0 -- "$0" --inside
fi

millwright="$root/target/debug/millwright"
py="$root/.venv/bin/python"
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
echo "webhook receiver:    $WEBHOOK_RECEIVER_URL/webhooks/bigcommerce/demo"

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
# The receiver's side of those three posts: one queued (the local runtime's order worker takes it
# from there), one duplicate, one rejection that keeps nothing of the request.
"$py" - <<'PY'
import json
import os

import boto3
from boto3.dynamodb.conditions import Key

aws = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
table = boto3.resource("dynamodb", **aws).Table(os.environ["AUDIT_TABLE_NAME"])
events = table.query(KeyConditionExpression=Key("pk").eq("demo#bc-order#100"))["Items"]
events = [item for item in events if item["stage"] == "received"]
events += table.query(IndexName="by-outcome", KeyConditionExpression=Key("outcome_pk").eq("demo#rejected"))["Items"]
print("  what the receiver audited:")
for item in sorted(events, key=lambda item: item["sk"]):
    event = json.loads(item["event"])
    message = event.get("message") or "queued as SQS message %s" % event.get("detail", {}).get("message_id", "?")
    print(f"    {item['pk'][:44]:<44} {item['stage']:<9} {item['outcome']:<10} {message}")
PY

step "Orders placed in the BigCommerce double, which sends its signed webhooks to the receiver"
# The demo store's hooks (store/order/created and store/order/updated) were registered by
# `millwright local up` through Millwright's BigCommerce client, pointing at the local receiver.
place() { # $1 = order document (the double's seed format plus delivery options); prints the order id
  curl -fsS -X POST "$SANDBOX_BIGCOMMERCE_URL/__control/orders" -H 'Content-Type: application/json' -d "$1" |
    "$py" -c 'import json, sys; print(json.load(sys.stdin)["order_id"])'
}
registered='"customer_id":7,"billing_address":{"first_name":"Robin","last_name":"Fitter","company":"Fitter Fabrication LLC","email":"robin@fitter.example","country_iso2":"US"}'
guest='"customer_id":0,"billing_address":{"first_name":"Sam","last_name":"Guest","email":"sam.guest@example.com","country_iso2":"US"}'
normal=$(place '{"status_id":11,'"$registered"',"products":[
  {"sku":"MW-BOLT-M8","name":"Hex Bolt M8 x 40","quantity":100,"price_ex_tax":"0.4500"},
  {"sku":"MW-BRKT-100-ZN","name":"Mounting Bracket 100 mm (Zinc)","quantity":4,"price_ex_tax":"6.9000"}]}')
twice=$(place '{"status_id":11,'"$guest"',"products":[
  {"sku":"MW-NUT-M8","name":"Hex Nut M8","quantity":250,"price_ex_tax":"0.1200"}],"deliveries":2}')
unmapped=$(place '{"status_id":11,'"$registered"',"products":[
  {"sku":"MW-BOLT-M8","name":"Hex Bolt M8 x 40","quantity":10,"price_ex_tax":"0.4500"},
  {"sku":"MW-SPROCKET-9","name":"Sprocket 9T (new in the store, not yet in Plex)","quantity":2,"price_ex_tax":"3.1000"}]}')
aliased=$(place '{"status_id":11,'"$guest"',"products":[
  {"sku":"WEB-HEX-NUT","name":"Hex Nut M8 (the store SKU for Plex part MW-NUT-M8)","quantity":40,"price_ex_tax":"0.1200"}]}')
forged=$(place '{"status_id":11,'"$guest"',"products":[
  {"sku":"MW-NUT-M8","name":"Hex Nut M8","quantity":1,"price_ex_tax":"0.1200"}],"forge":"wrong_headers","retries":false}')
printf '  order %-4s a registered customer: 100 bolts, 4 brackets\n' "$normal"
printf '  order %-4s a guest: 250 nuts, its webhook delivered twice\n' "$twice"
printf '  order %-4s a SKU the store sells but Plex does not know (MW-SPROCKET-9)\n' "$unmapped"
printf "  order %-4s a guest: 40 nuts under the store's own SKU (WEB-HEX-NUT), which no Plex part number matches\n" "$aliased"
printf '  order %-4s a webhook with a forged secret header\n' "$forged"

step "Waiting for the order worker (the local runtime polls the FIFO queue and calls it with SQS batches)"
export DEMO_ORDERS="$normal:written $twice:written $unmapped:needs-mapping $aliased:needs-mapping $forged:rejected 100:written"
"$py" - <<'PY'
import json
import os
import sys
import time
import urllib.request

import boto3
from boto3.dynamodb.conditions import Key

aws = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
table = boto3.resource("dynamodb", **aws).Table(os.environ["AUDIT_TABLE_NAME"])
wanted = [entry.split(":") for entry in os.environ["DEMO_ORDERS"].split()]

def deliveries():
    with urllib.request.urlopen(os.environ["SANDBOX_BIGCOMMERCE_URL"] + "/__control/deliveries") as answer:
        return json.load(answer)

def done(order_id, outcome):
    if outcome == "rejected":
        return any(d["order_id"] == int(order_id) and d["status"] == 401 for d in deliveries())
    stage, outcome = ("written", "ok") if outcome == "written" else ("mapped", outcome)
    items = table.query(KeyConditionExpression=Key("pk").eq(f"demo#bc-order#{order_id}"))["Items"]
    return any(item["stage"] == stage and item["outcome"] == outcome for item in items)

deadline = time.monotonic() + 30
pending = list(wanted)
while pending and time.monotonic() < deadline:
    pending = [(order_id, outcome) for order_id, outcome in pending if not done(order_id, outcome)]
    if pending:
        time.sleep(0.2)
if pending:
    sys.exit(f"the worker did not finish within 30 s: {pending}")
print("  every order reached its outcome")
PY

step "Each order in Plex (the double's sales orders, found by PO number BC-{order id})"
"$py" - "$normal" "$twice" "$unmapped" "$aliased" "$forged" 100 <<'PY'
import json
import os
import sys
import urllib.request

plex = os.environ["SANDBOX_PLEX_URL"]
for order_id in sys.argv[1:]:
    with urllib.request.urlopen(f"{plex}/__control/sales-orders?po_number=BC-{order_id}") as answer:
        orders = json.load(answer)
    if not orders:
        print(f"  BC-{order_id:<5} no Plex sales order")
        continue
    for order in orders:
        lines = []
        for line in sorted(order["lines"], key=lambda line: int(line["lineNumber"])):
            release = line["releases"][0] if line["releases"] else {}
            price = line["prices"][0]["price"] if line["prices"] else "?"
            quantity = release.get("quantity")
            quantity = f"{quantity:g}" if isinstance(quantity, (int, float)) else "?"
            lines.append(f'{quantity} x {release.get("partNumber", "?")} at {price}')
        print(f"  BC-{order_id:<5} Plex order {order['orderNumber']} ({order['status']}): " + "; ".join(lines))
print("  (one Plex order per BigCommerce order, although one webhook came twice)")
PY

step "The orders Plex did not get: rejected at the door, or held until their SKU is mapped"
"$py" - "$forged" "$unmapped" "$aliased" <<'PY'
import json
import os
import sys
import urllib.request

import boto3
from boto3.dynamodb.conditions import Key

forged, *held = sys.argv[1:]
with urllib.request.urlopen(os.environ["SANDBOX_BIGCOMMERCE_URL"] + "/__control/deliveries") as answer:
    forged_deliveries = [d for d in json.load(answer) if d["order_id"] == int(forged)]
for delivery in forged_deliveries:
    print(f"  order {forged}: the receiver answered {delivery['status']} to the {delivery['forge']} webhook; nothing was queued")
aws = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
table = boto3.resource("dynamodb", **aws).Table(os.environ["AUDIT_TABLE_NAME"])
for order_id in held:
    items = table.query(KeyConditionExpression=Key("pk").eq(f"demo#bc-order#{order_id}"))["Items"]
    for item in items:
        if item["outcome"] == "needs-mapping":
            print(f"  order {order_id}: {json.loads(item['event'])['message']} (held)")
PY

step "The audit trail of order $twice (the one whose webhook came twice)"
"$millwright" trace demo "$twice"

step "The alert e-mail SNS would have sent (as moto recorded it)"
curl -fsS "$AWS_ENDPOINT_URL/moto-api/data.json" | "$py" -c '
import json, os, sys
topic = next(t for t in json.load(sys.stdin)["sns"]["Topic"] if t["arn"] == os.environ["ALERT_TOPIC_ARN"])
sent = topic.get("sent_notifications", [])
if not sent:
    sys.exit("no alert was sent")
for message_id, body, subject, *_ in sent:
    print("  Subject: %s\n" % subject)
    print("\n".join("    " + line for line in body.splitlines()))
'

step "What needs an operator (millwright failures)"
"$millwright" failures --connection demo --since 1h

step "The part is created in Plex; the order sweep (every 10 s here, every 5 minutes deployed) releases order $unmapped"
curl -fsS -X POST "$SANDBOX_PLEX_URL/__control/seed" -H 'Content-Type: application/json' \
  -d '{"tenant":"MW-DEMO","parts":[{"number":"MW-SPROCKET-9","name":"Sprocket 9T","status":"Active"}]}' >/dev/null
wait_written() { # $1 = order id, $2 = what released it: waits until the order is written to Plex
  DEMO_ORDER="$1" DEMO_RELEASE="$2" "$py" - <<'PY'
import os
import sys
import time

import boto3
from boto3.dynamodb.conditions import Key

aws = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
table = boto3.resource("dynamodb", **aws).Table(os.environ["AUDIT_TABLE_NAME"])
order_id = os.environ["DEMO_ORDER"]
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    items = table.query(KeyConditionExpression=Key("pk").eq(f"demo#bc-order#{order_id}"))["Items"]
    if any(item["stage"] == "written" and item["outcome"] == "ok" for item in items):
        break
    time.sleep(0.2)
else:
    sys.exit(f"order {order_id} was not written within 30 s of {os.environ['DEMO_RELEASE']}")
PY
}
wait_written "$unmapped" "the part's creation"
"$millwright" trace demo "$unmapped" | tail -n 5

step "An operator maps the store's SKU WEB-HEX-NUT to Plex part MW-NUT-M8 (millwright map); order $aliased goes at once"
"$millwright" map --connection demo sku WEB-HEX-NUT --part MW-NUT-M8
wait_written "$aliased" "its mapping"
"$millwright" trace demo "$aliased" | tail -n 4

step "An order whose webhook never came (placed 3 minutes ago while the hooks were down); millwright sweep finds it"
missed_at=$("$py" -c 'import email.utils, time; print(email.utils.formatdate(time.time() - 180, usegmt=True))')
curl -fsS -X POST "$SANDBOX_BIGCOMMERCE_URL/__control/seed" -H 'Content-Type: application/json' -d '{"stores":[{
  "store_hash":"demo-store","orders":[{"id":190,"status_id":11,'"$guest"',"date_created":"'"$missed_at"'",
  "date_modified":"'"$missed_at"'","products":[{"sku":"MW-BOLT-M8","name":"Hex Bolt M8 x 40","quantity":30,"price_ex_tax":"0.4500"}]}]}]}' >/dev/null
"$millwright" sweep --connection demo
wait_written 190 "the sweep"
"$millwright" trace demo 190 | tail -n 5
echo "  and the alert it sent:"
curl -fsS "$AWS_ENDPOINT_URL/moto-api/data.json" | "$py" -c '
import json, os, sys
topic = next(t for t in json.load(sys.stdin)["sns"]["Topic"] if t["arn"] == os.environ["ALERT_TOPIC_ARN"])
missed = [n for n in topic.get("sent_notifications", []) if "without a webhook" in (n[2] or "")]
if not missed:
    sys.exit("no missed-webhooks alert was sent")
message_id, body, subject, *_ = missed[-1]
print("  Subject: %s\n" % subject)
print("\n".join("    " + line for line in body.splitlines()))
'

step "BigCommerce deactivates the store/order/created hook (its deliveries kept failing); millwright webhooks --repair"
bc_api="$SANDBOX_BIGCOMMERCE_URL/stores/demo-store/v3/hooks"
hook_id=$(curl -fsS "$bc_api" -H 'X-Auth-Token: bc-demo-token' |
  "$py" -c 'import json, sys; print(next(h["id"] for h in json.load(sys.stdin)["data"] if h["scope"] == "store/order/created"))')
curl -fsS -X PUT "$bc_api/$hook_id" -H 'X-Auth-Token: bc-demo-token' -H 'Content-Type: application/json' \
  -d '{"is_active": false}' >/dev/null
"$millwright" webhooks --connection demo || true
"$millwright" webhooks --connection demo --repair
"$millwright" trace --record "demo#bc-hook#store/order/created" | tail -n 1

step "Stock: Plex's containers (seeded into the Plex double); the store still shows its own numbers"
curl -fsS -X POST "$SANDBOX_PLEX_URL/__control/seed" -H 'Content-Type: application/json' -d '{"tenant":"MW-DEMO",
  "locations":[{"locationCode":"FG-01"},{"locationCode":"QC-HOLD"}],
  "containers":[
    {"serialNo":"DEMO-BOLT-1","partNo":"MW-BOLT-M8","location":"FG-01","quantity":900},
    {"serialNo":"DEMO-BOLT-2","partNo":"MW-BOLT-M8","location":"FG-01","quantity":250},
    {"serialNo":"DEMO-BOLT-3","partNo":"MW-BOLT-M8","location":"QC-HOLD","quantity":60,"containerStatus":"Hold"},
    {"serialNo":"DEMO-NUT-1","partNo":"MW-NUT-M8","location":"FG-01","quantity":3000},
    {"serialNo":"DEMO-BRKT-ZN","partNo":"MW-BRKT-100-ZN","location":"FG-01","quantity":72},
    {"serialNo":"DEMO-BRKT-SS","partNo":"MW-BRKT-100-SS","location":"FG-01","quantity":9}]}' >/dev/null
echo "  MW-BOLT-M8 900 + 250 OK (and 60 on Hold, not sellable), MW-NUT-M8 3000, MW-BRKT-100-ZN 72, MW-BRKT-100-SS 9"
store_levels() { # the store's on-hand level per SKU at the default location, as BigCommerce reports it
  curl -fsS "$SANDBOX_BIGCOMMERCE_URL/stores/demo-store/v3/inventory/items?location_id:in=1" -H 'X-Auth-Token: bc-demo-token' |
    "$py" -c '
import json, sys
for item in json.load(sys.stdin)["data"]:
    if item["identity"].get("sku"):
        print("  store: %-16s %6d" % (item["identity"]["sku"], item["locations"][0]["total_inventory_onhand"]))'
}

step "millwright stock diff: what the next stock sync would push (nothing is written)"
"$millwright" stock diff --connection demo

step "millwright stock sync: the changed levels go out in one request of absolute levels"
"$millwright" stock sync --connection demo
store_levels
"$millwright" trace demo --sku MW-BOLT-M8 | tail -n 1

step "200 nuts are received in Plex; the diff shows the one pending change, and the next sync pushes only it"
curl -fsS -X PUT "$SANDBOX_PLEX_URL/__control/inventory/containers/DEMO-NUT-1" -H 'Content-Type: application/json' \
  -d '{"quantity":3200}' >/dev/null
"$millwright" stock diff --connection demo
"$millwright" stock sync --connection demo

step "The oversell guard: an order for 150 bolts while Plex is slow to take it; until Plex holds it, the store offers 150 fewer"
curl -fsS -X POST "$SANDBOX_PLEX_URL/__control/faults" -H 'Content-Type: application/json' \
  -d '{"method":"POST","path_prefix":"/sales/v1/orders","times":1,"fault":{"kind":"delay","ms":12000}}' >/dev/null
slow=$(place '{"status_id":11,'"$registered"',"products":[
  {"sku":"MW-BOLT-M8","name":"Hex Bolt M8 x 40","quantity":150,"price_ex_tax":"0.4500"}]}')
DEMO_ORDER="$slow" "$py" - <<'PY'
import os, sys, time
import boto3
from boto3.dynamodb.conditions import Key
aws = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
table = boto3.resource("dynamodb", **aws).Table(os.environ["STATE_TABLE_NAME"])
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    items = table.query(KeyConditionExpression=Key("pk").eq("open#demo"))["Items"]
    if any(item["sk"] == os.environ["DEMO_ORDER"] for item in items):
        print(f"  order {os.environ['DEMO_ORDER']} is read by the worker and open: BigCommerce sold it, Plex does not hold it yet")
        break
    time.sleep(0.2)
else:
    sys.exit("the worker did not open the order within 20 s")
PY
"$millwright" stock diff --connection demo
"$millwright" stock sync --connection demo
store_levels | grep MW-BOLT-M8
wait_written "$slow" "Plex's slow answer"
echo "  Plex holds order $slow now, so Millwright stops holding its units back (Plex's own figures count it from here):"
"$millwright" stock sync --connection demo
store_levels | grep MW-BOLT-M8

step "Done: webhooks in, exactly one Plex sales order per web order out, everything else audited and alerted"
