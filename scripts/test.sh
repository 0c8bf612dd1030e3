#!/usr/bin/env bash
# Every test calsync has: installs what is missing, starts a throwaway PostgreSQL (unless
# CALSYNC_TEST_DATABASE_URL names one), runs the Rust tests on SQLite and PostgreSQL, then the
# Playwright tests in headless Chromium against the built app on SQLite, plus a smoke run on
# PostgreSQL. Stops everything it started, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

scripts/setup.sh --test
export PATH="$root/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"

# One clean build: incremental caches (5 GB here) would only fill the disk.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

work=$(mktemp -d /tmp/calsync-test.XXXXXX)
chmod 755 "$work"
app_pid=""
pg_dir=""
cleanup() {
  if [ -n "$app_pid" ]; then kill "$app_pid" 2>/dev/null || true; wait "$app_pid" 2>/dev/null || true; fi
  if [ -n "$pg_dir" ]; then scripts/pg.sh stop "$pg_dir"; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

if [ -z "${CALSYNC_TEST_DATABASE_URL:-}" ]; then
  pg_dir="$work/pg"
  pg_port=$(free_port)
  say "starting a throwaway PostgreSQL on port $pg_port"
  CALSYNC_TEST_DATABASE_URL=$(scripts/pg.sh start "$pg_dir" "$pg_port")
fi
export CALSYNC_TEST_DATABASE_URL
# The independent readers (iCalendar, OpenAPI) the Rust tests compare against.
export CALSYNC_PYTHON="$root/target/pyenv/bin/python"
# No provider request leaves loopback: the CLI and browser tests' servers find Google on a
# closed local port (tests that sync a provider start the sandbox and point there).
for v in AUTH TOKEN REVOKE API; do export CALSYNC_GOOGLE_${v}_URL=http://127.0.0.1:9/google; done
export CALSYNC_MICROSOFT_LOGIN_URL=http://127.0.0.1:9/microsoft CALSYNC_MICROSOFT_GRAPH_URL=http://127.0.0.1:9/graph/v1.0

# One build: cargo-leptos builds the browser (wasm) and server sides; the Rust tests reuse the
# server artifacts (same features, same flags, and the output name cargo-leptos bakes in).
say "formatting (cargo fmt --check)"
cargo fmt --all -- --check

say "building (cargo leptos build, with the provider sandbox inside for the browser tests)"
cargo leptos build --bin-features sandbox
export LEPTOS_OUTPUT_NAME=calsync

say "lints (cargo clippy -D warnings, the server build and the browser's wasm build)"
cargo clippy -p providers -p sandbox -p testkit -p vocab -p server -p app --no-default-features --features app/ssr,app/sandbox --lib --tests --benches -- -D warnings
cargo clippy -p app --lib --target wasm32-unknown-unknown --target-dir target/front --no-default-features --features hydrate -- -D warnings

say "Rust tests (every database test on SQLite and on PostgreSQL)"
cargo test -p providers -p sandbox -p server -p app --no-default-features --features app/ssr,app/sandbox --lib --tests 2>&1 | tee "$work/cargo-test.log"

E2E_EMAIL=admin@example.com
E2E_PASSWORD="admin password 1"
# Starts the built app on a fresh database ($1: database URL, $2: data dir); sets app_url.
start_app() {
  local url=$1 dir=$2 port
  mkdir -p "$dir"
  port=$(free_port)
  sandbox_port=$(free_port)
  # The browser tests serve their own iCal feed on localhost; they press "Sync now" themselves.
  # Google is the provider sandbox inside the app (its admin API for the tests on its own port).
  export DATABASE_URL=$url CALSYNC_DATA_DIR=$dir LEPTOS_SITE_ROOT=target/site CALSYNC_PUBLIC_URL=http://127.0.0.1:$port \
    CALSYNC_ICAL_ALLOW_PRIVATE=1 CALSYNC_SCHEDULER=0 CALSYNC_SANDBOX_ADDR=127.0.0.1:$sandbox_port
  sandbox_url="http://127.0.0.1:$sandbox_port"
  printf '%s\n' "$E2E_PASSWORD" | ./target/debug/calsync user add "$E2E_EMAIL" --name "Ada Admin" --admin --password-stdin
  ./target/debug/calsync serve --addr "127.0.0.1:$port" --sandbox >"$dir/serve.log" 2>&1 &
  app_pid=$!
  app_url="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    curl -fsS "$app_url/health" >/dev/null 2>&1 && return 0
    kill -0 "$app_pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "the app did not start:" >&2; cat "$dir/serve.log" >&2; return 1
}
stop_app() {
  kill -TERM "$app_pid"; wait "$app_pid" || { echo "the app did not stop cleanly" >&2; return 1; }
  app_pid=""
}
run_playwright() {
  (cd end2end && set -o pipefail && CALSYNC_E2E_LOG=$DATA_LOG CALSYNC_E2E_URL=$app_url CALSYNC_E2E_SANDBOX=$sandbox_url CALSYNC_E2E_ADMIN=$E2E_EMAIL CALSYNC_E2E_PASSWORD=$E2E_PASSWORD npx playwright test "$@" 2>&1 | tee -a "$work/playwright.log") \
    || { echo "--- server log ---" >&2; tail -n 50 "$DATA_LOG" >&2; return 1; }
}

say "Playwright in headless Chromium, on SQLite"
start_app "sqlite://$work/e2e-sqlite/calsync.db" "$work/e2e-sqlite"
DATA_LOG="$work/e2e-sqlite/serve.log" run_playwright
stop_app

say "Playwright smoke run on PostgreSQL"
pg_e2e=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/calsync_e2e")))' "$CALSYNC_TEST_DATABASE_URL")
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
"$pg_bin/psql" "$CALSYNC_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS calsync_e2e" -c "CREATE DATABASE calsync_e2e" >/dev/null
start_app "$pg_e2e" "$work/e2e-pg"
DATA_LOG="$work/e2e-pg/serve.log" run_playwright --grep @smoke
stop_app

# One closing line over both runners.
rust_passed=$(grep -o '[0-9]* passed' "$work/cargo-test.log" | awk '{s+=$1} END {print s+0}')
e2e_passed=$(grep -E '^ +[0-9]+ passed' "$work/playwright.log" | awk '{s+=$1} END {print s+0}')
say "all tests passed: $rust_passed Rust tests, $e2e_passed browser tests"
echo "calsync: $((rust_passed + e2e_passed)) passed, 0 failed"
