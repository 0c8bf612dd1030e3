#!/usr/bin/env bash
# Sets up and runs calsync at http://127.0.0.1:3000 on SQLite in ./data (created on first run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/end2end/node_modules/.bin:$HOME/.cargo/bin:$PATH"
exec cargo leptos serve --release "$@"
