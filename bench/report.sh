#!/bin/sh
# Run report at 10,000 shops: generation time and page size (BenchmarkWrite10k,
# in-memory store), then the page written to files and loaded in headless
# Chromium (TestBrowserLargeRun: write time, load time, search time, screenshot).
# Screenshots go to $FEEDBATCH_ARTIFACTS (default ./bench-artifacts).
set -eu
cd "$(dirname "$0")/.."
export FEEDBATCH_SCALE=1  # TestBrowserLargeRun is a scale test (opt-in)
export FEEDBATCH_ARTIFACTS="${FEEDBATCH_ARTIFACTS:-$PWD/bench-artifacts}"
go test -run '^$' -bench 'Write10k' -benchtime 5x ./report
go test -count 1 -v -run 'TestBrowserLargeRun' ./report | grep -E 'report of|loaded in|screenshot|^(ok|FAIL|---)'
