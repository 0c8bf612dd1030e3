#!/usr/bin/env bash
# The benchmarks (make bench): a throwaway PostgreSQL, the release binary, one run that prints
# every figure with its target and ratio. Figures, not pass/fail: see README "Figures".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/setup.sh --test
export PATH="$HOME/.cargo/bin:$PATH"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d /tmp/calsync-bench.XXXXXX)
chmod 755 "$work"
cleanup() { scripts/pg.sh stop "$work/pg"; rm -rf "$work"; }
trap cleanup EXIT INT TERM

export CALSYNC_TEST_DATABASE_URL=$(scripts/pg.sh start "$work/pg" "$(free_port)")
# The server side only: `ical inspect` needs no browser bundle.
LEPTOS_OUTPUT_NAME=calsync cargo build --release -p app --no-default-features --features ssr --bin calsync
export CALSYNC_BIN=$root/target/release/calsync
# The expansion benchmark's peer, Python's recurring-ical-events, in its own virtual environment
# (Debian refuses system-wide pip).
venv=$root/target/bench-venv
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install -q -r server/benches/peer/requirements.txt
export CALSYNC_PEER_PYTHON=$venv/bin/python
cargo bench -p server --bench sync
cargo bench -p server --bench capacity
cargo bench -p server --bench google
cargo bench -p server --bench outlook
# Two-way sync: 1,000 bookings written into Google and Outlook; 1,000 changed copies merged.
cargo bench -p server --bench twoway
# The booking flow: a team's free slots over 90 days, and a booking assigned to one of its members.
cargo bench -p server --bench slots
# /health and another user's sync while the app reads hostile feeds (the whole app on loopback).
LEPTOS_OUTPUT_NAME=calsync cargo bench -p app --no-default-features --features ssr --bench health
# Export feeds of a 10,000-event calendar and Admin → Sync health over 10,000 calendars.
LEPTOS_OUTPUT_NAME=calsync cargo bench -p app --no-default-features --features ssr --bench operations
# 1,000 small feeds added through the REST API while the scheduler runs: all synced how soon.
LEPTOS_OUTPUT_NAME=calsync cargo bench -p app --no-default-features --features ssr --bench feeds_added
