#!/usr/bin/env bash
# Image benchmark, side by side with sharp and vipsthumbnail on the same
# files, every tool pinned to the same 2 cores:
#   (a) 20 synthetic photo JPEGs of 2000x2000 (q90, 4:2:0, noisy),
#   (b) 200 mixed product shots, 600x400 to 3000x3000: 5% greyscale, 10% PNG
#       (half transparent), one JPEG in 7 progressive (made with libvips),
#       the rest baseline JPEG q80-95;
# each -> 800x800 letterboxed on white, JPEG q85.
#   go     imgproc.Process (the image stage's decode+render+encode), 2 workers
#   sharp  npm sharp (fit contain + flatten, quality 85), 2 images in flight,
#          its default libvips settings
#   vips   vipsthumbnail -s 800x800 in one process, VIPS_CONCURRENCY=2; it
#          does not pad (less work), and its output is the SSIM reference
# Each run is measured by /usr/bin/time: wall time (images/s), user+sys CPU
# per image (the steadier figure on a shared machine) and peak RSS; then the
# ratios go/sharp and go/vips, and the SSIM of go's and sharp's outputs
# (cropped to the content) against libvips's.
# Then the whole image stage on each set at its default concurrency (first
# run and unchanged re-run; peak RSS of the child) and, with IMAGE_BENCH_LATENCY=1,
# the stage against a slow loopback server by image.concurrency.
#
# Installs what is missing: libvips-tools (apt-get, as root) and sharp
# (npm, into $IMAGE_BENCH_DIR/sharp, not the repository).
# Env: IMAGE_BENCH_DIR (default /tmp/feedbatch-imagebench; inputs kept
#      between runs), IMAGE_BENCH_CPUS (taskset list, default 0,1),
#      IMAGE_BENCH_SETS (default "a b").
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${IMAGE_BENCH_DIR:-/tmp/feedbatch-imagebench}
CPUS=${IMAGE_BENCH_CPUS:-0,1}
SETS=${IMAGE_BENCH_SETS:-"a b"}
SHARP_VERSION=0.35.5
TIME=/usr/bin/time
mkdir -p "$DIR"
BIN="$DIR/imagebench"
go build -o "$BIN" ./bench/imagebench

if [ ! -x "$TIME" ] || ! command -v vipsthumbnail >/dev/null; then
	if [ "$(id -u)" = 0 ]; then
		echo "installing libvips-tools and time (apt-get) ..." >&2
		(apt-get install -y -qq --no-install-recommends libvips-tools time >/dev/null 2>&1 ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libvips-tools time >/dev/null; })
	fi
fi
[ -x "$TIME" ] || { echo "need /usr/bin/time (apt-get install time)"; exit 1; }
command -v vipsthumbnail >/dev/null || { echo "need vipsthumbnail (apt-get install libvips-tools)"; exit 1; }
sharp_ok=0
if command -v node >/dev/null; then
	if [ ! -d "$DIR/sharp/node_modules/sharp" ] && command -v npm >/dev/null; then
		echo "installing sharp@$SHARP_VERSION (npm, into $DIR/sharp) ..." >&2
		mkdir -p "$DIR/sharp"
		[ -f "$DIR/sharp/package.json" ] || echo '{"name":"imagebench-sharp","private":true,"type":"module"}' >"$DIR/sharp/package.json"
		timeout 300 npm install --silent --prefix "$DIR/sharp" "sharp@$SHARP_VERSION" >"$DIR/sharp/install.log" 2>&1 || true
	fi
	if [ -d "$DIR/sharp/node_modules/sharp" ]; then
		cp bench/image_sharp.mjs "$DIR/sharp/image_sharp.mjs"
		sharp_ok=1
	fi
fi

# Inputs.
"$BIN" -dir "$DIR" -gen 20
"$BIN" -gen-mixed 200 -in "$DIR/mixed"
if [ ! -f "$DIR/mixed/.progressive" ]; then # one JPEG in 7 re-encoded progressive by libvips
	for f in $(ls "$DIR"/mixed/*.jpg | awk 'NR % 7 == 1'); do
		vips jpegsave "$f" "$f.tmp.jpg" --Q 90 --interlace && mv "$f.tmp.jpg" "$f"
	done
	touch "$DIR/mixed/.progressive"
fi

pin() { if command -v taskset >/dev/null; then taskset -c "$CPUS" "$@"; else "$@"; fi; }

# measure OUTFILE CMD...: runs CMD under /usr/bin/time; sets wall cpu rss.
measure() {
	local tf
	tf=$(mktemp)
	GOMAXPROCS=2 pin "$TIME" -f '%e %U %S %M' -o "$tf" "${@:2}" >"$1" 2>&1 || { cat "$1" "$tf"; rm -f "$tf"; return 1; }
	read -r wall usr sys rss <"$tf"
	cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { print u + s }')
	rm -f "$tf"
}

declare -A W C
keep() { W[$1.$2]=$wall C[$1.$2]=$cpu; } # set tool: for the ratios
row() { # set tool n
	awk -v set="$1" -v t="$2" -v n="$3" -v w="$wall" -v c="$cpu" -v r="$rss" \
		'BEGIN { printf "%-4s %-6s %6d %8.2f %9.1f %13.1f %12.0f\n", set, t, n, w, n / w, 1000 * c / n, r / 1024 }'
}

lines=()
ssims=()
for set in $SETS; do
	case $set in
	a) in="$DIR/bench.example" ;;
	b) in="$DIR/mixed" ;;
	*) echo "unknown set $set" >&2; exit 2 ;;
	esac
	files=$(find "$in" -maxdepth 1 \( -name '*.jpg' -o -name '*.png' \) | sort)
	n=$(echo "$files" | wc -l)
	out="$DIR/out-$set"
	rm -rf "$out"
	mkdir -p "$out/go" "$out/sharp" "$out/vips"
	echo "set $set: $n files, $(du -ch $files | tail -1 | cut -f1), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

	measure "$out/go.log" "$BIN" -mode proc -c 2 -in "$in" -out "$out/go"
	keep "$set" go
	lines+=("$(row "$set" go "$n")")
	if [ $sharp_ok = 1 ]; then
		# shellcheck disable=SC2086
		measure "$out/sharp.log" node "$DIR/sharp/image_sharp.mjs" "$out/sharp" 2 $files
		keep "$set" sharp
		lines+=("$(row "$set" sharp "$n")")
		sharp_versions=$(tail -1 "$out/sharp.log")
	fi
	# shellcheck disable=SC2086
	VIPS_CONCURRENCY=2 measure "$out/vips.log" vipsthumbnail -s 800x800 -o "$out/vips/%s.jpg[Q=85,strip,background=255]" $files
	keep "$set" vips
	lines+=("$(row "$set" vips "$n")")

	cmp="go=$out/go"
	[ $sharp_ok = 1 ] && cmp="$cmp,sharp=$out/sharp"
	ssims+=("set $set: $("$BIN" -mode ssim -ref "$out/vips" -cmp "$cmp" | tr '\n' ';' | sed 's/;$//; s/;/; /g')")
done

echo
echo "cores: taskset -c $CPUS of $(nproc); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(wall-clock figures depend on the machine's load; CPU ms/image = user+sys, much less so)"
echo "vipsthumbnail: $(vipsthumbnail --vips-version 2>/dev/null || true); sharp: ${sharp_versions:-not installed}"
printf "%-4s %-6s %6s %8s %9s %13s %12s\n" set tool images "wall s" images/s "CPU ms/image" "peak RSS MB"
for l in "${lines[@]}"; do echo "$l"; done
for set in $SETS; do
	for other in sharp vips; do
		[ -n "${W[$set.$other]:-}" ] || continue
		awk -v set="$set" -v o="$other" -v gw="${W[$set.go]}" -v gc="${C[$set.go]}" -v ow="${W[$set.$other]}" -v oc="${C[$set.$other]}" \
			'BEGIN { printf "set %s: go vs %-5s images/s %.2fx (higher is better), CPU per image %.2fx (lower is better)\n", set, o, ow / gw, gc / oc }'
	done
done
for s in "${ssims[@]}"; do echo "$s"; done

echo
echo "the whole image stage (file store, images through image.mirror), default concurrency 16, GOMAXPROCS=2:"
mkdir -p "$DIR/mixed-root"
ln -sfn "$DIR/mixed" "$DIR/mixed-root/bench.example"
for set in $SETS; do
	root=$DIR
	[ "$set" = b ] && root=$DIR/mixed-root
	echo "set $set:"
	GOMAXPROCS=2 pin "$TIME" -f "set $set stage process: peak RSS %M KB" "$BIN" -dir "$root" -mode stage -c 16
done
if [ "${IMAGE_BENCH_LATENCY:-0}" = 1 ]; then
	# Network-bound case: 1000x1000 JPEGs from a loopback server that waits
	# before each answer, at image.concurrency 1..16.
	GOMAXPROCS=2 pin "$BIN" -mode latency -n "${IMAGE_BENCH_LATENCY_N:-100}" -latency "${IMAGE_BENCH_LATENCY_DELAY:-200ms}" -per-host 16
fi
