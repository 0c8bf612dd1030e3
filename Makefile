# The two commands of the README, and the benchmarks.
.PHONY: run test bench demo
run:   ## set up and run calsync at http://127.0.0.1:3000 (SQLite in ./data)
	scripts/run.sh
demo:  ## the same with the provider sandbox inside: connect Google Calendar without an account (data in ./data/demo)
	CALSYNC_SANDBOX=1 CALSYNC_DATA_DIR=./data/demo scripts/run.sh --bin-features sandbox
test:  ## set up and run every test (Rust on SQLite and PostgreSQL, Playwright in Chromium)
	scripts/test.sh
bench: ## run the benchmarks (release build, SQLite and a throwaway PostgreSQL); prints the figures
	scripts/bench.sh
