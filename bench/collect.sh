#!/usr/bin/env bash
# Collect stage benchmark: a gzip CSV of N realistic products (~440 bytes a
# row, 1% duplicate ids, 0.5% rows without a price) -> the collect stage
# (parse, map, clean, de-duplicate, zstd Parquet into a file store).
# Prints rows, input MB (uncompressed CSV), wall and CPU seconds, rows/s and
# MB/s (by wall time), and peak RSS from /usr/bin/time -v, for each size.
# Peak RSS must stay flat from 100k to 1M rows.
#
# Side by side: DuckDB (npm @duckdb/node-api) converting the same file with
# read_csv -> COPY ... (FORMAT parquet, COMPRESSION zstd): a plain format
# conversion with no mapping, cleaning or de-duplication, so a lower bound
# on the work rather than the same work. Skipped with a note when it cannot
# be installed.
#
# Env: COLLECT_BENCH_DIR (default /tmp/feedbatch-collectbench, files kept
#      between runs), COLLECT_BENCH_SIZES (default "100000 1000000"),
#      COLLECT_BENCH_DUCKDB=0 skips DuckDB.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${COLLECT_BENCH_DIR:-/tmp/feedbatch-collectbench}
SIZES=${COLLECT_BENCH_SIZES:-"100000 1000000"}
DUCK_VERSION=1.5.6-r.1
mkdir -p "$DIR"
BIN="$DIR/collectbench"
go build -o "$BIN" ./bench/collectbench

TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "need /usr/bin/time (apt-get install time)"; exit 1; }

duck_ok=0
if [ "${COLLECT_BENCH_DUCKDB:-1}" = 1 ] && command -v node >/dev/null; then
  if [ ! -d "$DIR/duckdb/node_modules/@duckdb/node-api" ] && command -v npm >/dev/null; then
    mkdir -p "$DIR/duckdb"
    (cd "$DIR/duckdb" && [ -f package.json ] || echo '{"name":"collectbench-duckdb","private":true,"type":"module"}' > "$DIR/duckdb/package.json")
    timeout 300 npm install --silent --prefix "$DIR/duckdb" "@duckdb/node-api@$DUCK_VERSION" >"$DIR/duckdb/install.log" 2>&1 || true
  fi
  if [ -d "$DIR/duckdb/node_modules/@duckdb/node-api" ]; then
    duck_ok=1
    cat > "$DIR/duckdb/duck.mjs" <<'JS'
import { DuckDBInstance } from '@duckdb/node-api';
const [src, out] = process.argv.slice(2);
const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const conn = await inst.connect();
await conn.run(`COPY (SELECT * FROM read_csv('${src}', header=true)) TO '${out}' (FORMAT parquet, COMPRESSION zstd)`);
const r = await conn.runAndReadAll(`SELECT count(*) FROM read_parquet('${out}')`);
console.log(JSON.stringify({ rows: Number(r.getRows()[0][0]) }));
JS
  fi
fi

# measure NAME OUTFILE CMD...: runs CMD under /usr/bin/time -v.
measure() {
  local tf; tf=$(mktemp)
  GOMAXPROCS=2 "$TIME" -v "${@:2}" >"$1.out" 2>"$tf" || { cat "$tf"; rm -f "$tf"; return 1; }
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$tf")
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {print u+s}' "$tf")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")
  rm -f "$tf"
}

rows_line() { # tool rows inMB
  awk -v t="$1" -v n="$2" -v mb="$3" -v w="$wall" -v c="$cpu" -v r="$rss" \
    'BEGIN { printf "%-9s %9d %9.1f %8.2f %8.2f %10.0f %8.1f %11.1f\n", t, n, mb, w, c, n / w, mb / w, r / 1024 }'
}

results=()
details=()
for n in $SIZES; do
  src="$DIR/catalog-$n.csv.gz"
  [ -s "$src" ] || { echo "generating $src ..." >&2; "$BIN" -gen "$n" -out "$src"; }
  inmb=$(zcat "$src" | wc -c | awk '{ print $1 / 1048576 }')
  gzmb=$(stat -c %s "$src" | awk '{ print $1 / 1048576 }')
  rm -rf "$DIR/root"; mkdir -p "$DIR/root"
  measure "$DIR/collect-$n" "$BIN" -src "$src" -root "$DIR/root"
  results+=("$(rows_line collect "$n" "$inmb")")
  details+=("collect $n: $(tr -d '\n' < "$DIR/collect-$n.out")")
  if [ $duck_ok = 1 ]; then
    rm -f "$DIR/duck-$n.parquet"
    measure "$DIR/duck-$n" node "$DIR/duckdb/duck.mjs" "$src" "$DIR/duck-$n.parquet"
    results+=("$(rows_line duckdb "$n" "$inmb")")
  fi
  printf "input %s: %.1f MB gzip\n" "$n" "$gzmb" >&2
done

echo
echo "cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg) (wall time on a shared machine; CPU s is user+sys)"
printf "%-9s %9s %9s %8s %8s %10s %8s %10s\n" tool rows "input MB" "wall s" "CPU s" "rows/s" "MB/s" "peak RSS MB"
for r in "${results[@]}"; do echo "$r"; done
for d in "${details[@]}"; do echo "$d"; done
if [ "${COLLECT_BENCH_DUCKDB:-1}" != 1 ]; then
  echo "duckdb: skipped (COLLECT_BENCH_DUCKDB=0)"
elif [ $duck_ok != 1 ]; then
  echo "duckdb: not installable here (npm @duckdb/node-api@$DUCK_VERSION; see $DIR/duckdb/install.log)"
fi
