#!/usr/bin/env bash
# Starts the local world (moto_server + the sandbox doubles, the template's resources created, the
# demo connection seeded), runs a command with the world's environment, and stops everything it
# started whatever the command's outcome. The command's exit status is this script's exit status.
#
#   scripts/with-local-world.sh [--stack NAME] [LOCAL-UP-OPTION VALUE]... -- COMMAND [ARGS...]
#
# Other options before `--` go to `millwright local up` (e.g. `--schedule-connection demo`).
set -euo pipefail

stack=millwright-local
up_args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --stack) stack=$2; shift 2 ;;
    --) shift; break ;;
    --*) up_args+=("$1" "$2"); shift 2 ;;
    *) break ;;
  esac
done
[[ $# -gt 0 ]] || { echo "usage: $0 [--stack NAME] [LOCAL-UP-OPTION VALUE]... -- COMMAND [ARGS...]" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/.local"
env_file="$root/.local/$stack.env"
log_file="$root/.local/$stack.log"
rm -f "$env_file"

"$root/target/debug/millwright" local up --stack "$stack" --env-file "$env_file" "${up_args[@]}" >"$log_file" 2>&1 &
world_pid=$!

stop_world() {
  # `local up` stops moto and the sandbox itself on SIGTERM; MOTO_PID covers a crash of `local up`.
  kill "$world_pid" 2>/dev/null || true
  wait "$world_pid" 2>/dev/null || true
  if [[ -n ${MOTO_PID:-} ]]; then kill "$MOTO_PID" 2>/dev/null || true; fi
}
trap stop_world EXIT

for _ in $(seq 1 600); do
  [[ -s $env_file ]] && break
  if ! kill -0 "$world_pid" 2>/dev/null; then
    echo "the local world failed to start; its log:" >&2
    cat "$log_file" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ ! -s $env_file ]]; then
  echo "the local world did not start within 60 s; its log:" >&2
  cat "$log_file" >&2
  exit 1
fi

set -a
# shellcheck disable=SC1090
source "$env_file"
set +a
"$@"
