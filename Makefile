# The two commands of the README.
.PHONY: run test
run:   ## set up and run calsync at http://127.0.0.1:3000 (SQLite in ./data)
	scripts/run.sh
test:  ## set up and run every test (Rust on SQLite and PostgreSQL, Playwright in Chromium)
	scripts/test.sh
