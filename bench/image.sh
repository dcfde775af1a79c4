#!/usr/bin/env bash
# Image pipeline benchmark: N synthetic 2000x2000 JPEGs -> 800x800 padded
# JPEG q85, on 2 cores. Prints images/s and peak RSS for:
#   - imgproc.Process with 2 workers (decode + resize + pad + encode),
#   - the whole image stage (file store, images read through image.mirror),
#     then its unchanged re-run (incremental: no decode),
#   - the stage over HTTP with a slow loopback server, by image.concurrency,
#   - vipsthumbnail on the same files in one process (resize only, no
#     padding), when installed.
# Env: IMAGE_BENCH_DIR (default /tmp/feedbatch-imagebench), IMAGE_BENCH_N (50),
#      IMAGE_BENCH_INSTALL=1 lets the script apt-get install libvips-tools if missing (root only).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${IMAGE_BENCH_DIR:-/tmp/feedbatch-imagebench}
N=${IMAGE_BENCH_N:-50}
CPUS=${IMAGE_BENCH_CPUS:-0,1}
BIN=$(mktemp -d)/imagebench
trap 'rm -rf "$(dirname "$BIN")"' EXIT

go build -o "$BIN" ./bench/imagebench
echo "generating $N images in $DIR/bench.example (kept between runs)..."
"$BIN" -dir "$DIR" -gen "$N"
FILES=$(ls "$DIR"/bench.example/*.jpg | head -n "$N")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (wall-clock rates are only meaningful on an idle machine; cpu ms/image much less so)"
echo "input: $(echo "$FILES" | wc -l) files, $(du -ch $FILES | tail -1 | cut -f1) total; cores: taskset -c $CPUS"

pin() { if command -v taskset >/dev/null; then taskset -c "$CPUS" "$@"; else "$@"; fi; }

GOMAXPROCS=2 pin "$BIN" -dir "$DIR" -mode proc -c 2
GOMAXPROCS=2 pin "$BIN" -dir "$DIR" -mode stage -c 4
# Network-bound case: 1000x1000 JPEGs from a loopback server that waits
# before each answer, at image.concurrency 1..16.
GOMAXPROCS=2 pin "$BIN" -mode latency -n "${IMAGE_BENCH_LATENCY_N:-100}" -latency "${IMAGE_BENCH_LATENCY:-200ms}" -per-host 16

if ! command -v vipsthumbnail >/dev/null; then
	if [ "${IMAGE_BENCH_INSTALL:-0}" = 1 ] && [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libvips-tools >/dev/null
	fi
fi
if command -v vipsthumbnail >/dev/null; then
	OUT=$(mktemp -d)
	START=$(date +%s.%N)
	VIPS_CONCURRENCY=2 pin /usr/bin/time -f '%M %U %S' -o "$OUT/rss" \
		vipsthumbnail -s 800x800 -o "$OUT/%s.jpg[Q=85,strip]" $FILES
	END=$(date +%s.%N)
	COUNT=$(ls "$OUT"/*.jpg | wc -l)
	read -r RSS USR SYS < "$OUT/rss"
	awk -v n="$COUNT" -v s="$START" -v e="$END" -v rss="$RSS" -v usr="$USR" -v sys="$SYS" 'BEGIN {
		d = e - s; cpu = usr + sys; printf "%-36s %3d images  %6.2f s  %6.1f images/s  cpu %6.1f ms/image  peak RSS %4d MB  (%s, one process, no padding)\n",
		"vipsthumbnail", n, d, n / d, 1000 * cpu / n, rss / 1024, "VIPS_CONCURRENCY=2" }'
	rm -rf "$OUT"
else
	echo "vipsthumbnail: not installed (apt-get install libvips-tools, or IMAGE_BENCH_INSTALL=1)"
fi
