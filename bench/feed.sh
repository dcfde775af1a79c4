#!/bin/sh
# Feed stage benchmark: a generated catalog of N products (default 1,000,000,
# about 1.7 GB of Google XML) rendered to each platform's feed.
#
# For each platform it measures, each in its own process (so peak RSS is the
# platform's own):
#   format   validation + rendering, written uncompressed (no gzip)
#   render   what the stage does: validation + rendering + gzip
#   gzip     klauspost gzip alone, same level, on the same uncompressed bytes
#   python   bench/feed_py.py: a straightforward Python standard-library
#            conversion (csv + xml.sax.saxutils + gzip) of the same catalog,
#            exported to CSV first (pyarrow is not in the standard library)
# plus the catalog read alone, all three platforms in one render (the stage's
# real run), and the peak RSS of a render of N/10 products (flat memory).
#
# Wall time on a shared machine says little, so CPU time (user+sys) is shown
# too; items/s is computed from both.
#
#   sh bench/feed.sh                       # 1M products
#   FEED_BENCH_N=100000 sh bench/feed.sh   # quicker
#   FEED_BENCH_PYTHON=0 sh bench/feed.sh    # reuse the last Python figures
set -eu

N=${FEED_BENCH_N:-1000000}
DIR=${FEED_BENCH_DIR:-${TMPDIR:-/tmp}/feedbatch-feed-bench}
LEVEL=${FEED_BENCH_LEVEL:-6}
cd "$(dirname "$0")/.."
mkdir -p "$DIR"
go build -o "$DIR/feedbench" ./bench/feedbench
B="$DIR/feedbench"
OUT="$DIR/results-$N.jsonl"
: >"$OUT"

SMALL=$((N / 10))
for n in "$N" "$SMALL"; do
	if [ ! -s "$DIR/catalog-$n.parquet" ]; then
		echo "generating $n products..." >&2
		csv=""
		[ "$n" = "$N" ] && csv="$DIR/catalog-$n.csv"
		"$B" gen -n "$n" -out "$DIR/catalog-$n.parquet" ${csv:+-csv "$csv"}
	fi
done
if [ ! -s "$DIR/catalog-$N.csv" ]; then
	"$B" gen -n "$N" -out "$DIR/catalog-$N.parquet" -csv "$DIR/catalog-$N.csv"
fi
CAT="$DIR/catalog-$N.parquet"

run() { echo "$*" >&2; "$@" | tee -a "$OUT" >&2; }

run "$B" read -catalog "$CAT"
for p in google meta naver; do
	case $p in google) ext=xml ;; meta) ext=csv ;; naver) ext=tsv ;; esac
	run "$B" render -catalog "$CAT" -platform $p -raw -out "$DIR/$p.$ext"
	run "$B" render -catalog "$CAT" -platform $p -level "$LEVEL" -out "$DIR/$p.$ext.gz"
	run "$B" gzip -in "$DIR/$p.$ext" -level "$LEVEL"
	if [ "${FEED_BENCH_PYTHON:-1}" = 1 ]; then
		run python3 bench/feed_py.py $p "$DIR/catalog-$N.csv" "$DIR/py-$p.$ext.gz"
	else # reuse the last Python figures (they do not change with the Go code)
		grep "\"python\", \"platform\": \"$p\"" "$DIR/python-$N.jsonl" >>"$OUT"
	fi
	rm -f "$DIR/$p.$ext"
done
grep '"mode": "python"' "$OUT" >"$DIR/python-$N.jsonl.new" && mv "$DIR/python-$N.jsonl.new" "$DIR/python-$N.jsonl"
run "$B" render -catalog "$CAT" -platform google,meta,naver -level "$LEVEL"
# What the two non-formatting knobs are worth on their own (Google): Go's
# default GC target instead of the stage's feed.DefaultGCPercent, and gzip
# level 1 instead of $LEVEL.
relabel() { sed "s/\"mode\":\"render\"/\"mode\":\"$1\"/"; }
echo "$B render -platform google -gcpercent 100" >&2
"$B" render -catalog "$CAT" -platform google -level "$LEVEL" -gcpercent 100 | relabel render-gogc100 | tee -a "$OUT" >&2
echo "$B render -platform google -level 1" >&2
"$B" render -catalog "$CAT" -platform google -level 1 | relabel render-level1 | tee -a "$OUT" >&2
echo "{\"mode\":\"small\",\"n\":$SMALL}" >>"$OUT"
run "$B" render -catalog "$DIR/catalog-$SMALL.parquet" -platform google -level "$LEVEL"
if command -v xmllint >/dev/null 2>&1; then
	gzip -dc "$DIR/google.xml.gz" | xmllint --noout --stream - && echo "xmllint: google feed well-formed" >&2
fi

python3 - "$OUT" "$N" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
small = False
print(f"feed benchmark, {n:,} products (items/s by wall and by CPU time; RSS = peak)")
print(f"{'what':<26}{'wall s':>8}{'cpu s':>8}{'items/s wall':>14}{'items/s cpu':>13}{'MB/s cpu':>10}{'out MB':>9}{'RSS MB':>8}")
by = {}
for r in rows:
    if r["mode"] == "small":
        small = r["n"]
        continue
    what = r["mode"] + (" " + r["platform"] if r.get("platform") else "")
    if small:
        what += f" ({small:,})"
    items = r["items"] or n
    raw = r.get("raw_bytes", 0) / 1e6
    print(f"{what:<26}{r['seconds']:>8.1f}{r['cpu_seconds']:>8.1f}{items / r['seconds']:>14,.0f}"
          f"{items / r['cpu_seconds']:>13,.0f}{raw / r['cpu_seconds']:>10.0f}{r['bytes'] / 1e6:>9.1f}{r['maxrss_kb'] / 1024:>8.0f}")
    if not small:
        by.setdefault(r["mode"], {})[r.get("platform", "")] = r
print()
rd = by["read"][""]["cpu_seconds"]
print(f"catalog read alone: {rd:.1f} s cpu")
print("formatting = render - gzip alone - catalog read (cpu); the 'format' rows also pay for writing the raw feed to disk")
for p, z in zip(("google", "meta", "naver"), [r for r in rows if r["mode"] == "gzip"]):
    g, py = by["render"][p], by["python"][p]
    fmt = g["cpu_seconds"] - z["cpu_seconds"] - rd
    print(f"{p:<7} formatting {fmt:5.1f} s cpu = {100 * fmt / z['cpu_seconds']:4.0f}% of gzip alone ({z['cpu_seconds']:.1f} s); "
          f"stage {g['cpu_seconds']:.1f} s cpu / {g['seconds']:.1f} s wall; "
          f"python {py['cpu_seconds']:.1f} s cpu / {py['seconds']:.1f} s wall: "
          f"x{py['cpu_seconds'] / g['cpu_seconds']:.1f} cpu, x{py['seconds'] / g['seconds']:.1f} wall")
a = by["render"]["google,meta,naver"]
pys = sum(by["python"][p]["cpu_seconds"] for p in ("google", "meta", "naver"))
pyw = sum(by["python"][p]["seconds"] for p in ("google", "meta", "naver"))
print(f"all three in one stage run: {a['cpu_seconds']:.1f} s cpu / {a['seconds']:.1f} s wall; "
      f"python, three runs: {pys:.1f} s cpu / {pyw:.1f} s wall: x{pys / a['cpu_seconds']:.1f} cpu, x{pyw / a['seconds']:.1f} wall")
EOF
