#!/bin/bash
# scripts/bench/blkid.sh [IMAGE_DIR]: util-linux blkid against krazybox blkid
# (static release build), per image: the median whole-process time of
# `blkid -p IMAGE` and the bytes read per probe (strace, summing the results of
# read and pread64), each with the ratio ours/theirs. Goals: time <= 0.5,
# bytes <= 0.25.
#
# Time: the two commands run alternately, ROUNDS times each after a warm-up,
# each spawned with posix_spawn and timed until it has been reaped, so drift on
# a busy machine hits both alike; the median of each is reported.
#
# "all" counts every byte the process reads (the dynamic loader included, which
# only util-linux has); "image" counts reads from the image alone.
# Without IMAGE_DIR the images are made by scripts/make-blkid-images.sh in a
# temp dir.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
theirs=/usr/sbin/blkid

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ $# -ge 1 ]; then
	dir=$(cd "$1" && pwd)
else
	dir=$tmp/images
	"$root/scripts/make-blkid-images.sh" "$dir" >/dev/null
fi
# The deployed shape: a static musl build when that target is installed.
target=x86_64-unknown-linux-musl
if rustup target list --installed 2>/dev/null | grep -qx "$target"; then
	(cd "$root" && cargo build --release --quiet --target "$target")
	ours=$root/target/$target/release/krazybox
else
	(cd "$root" && cargo build --release --quiet)
	ours=$root/target/release/krazybox
fi

rounds=${ROUNDS:-200}
# medians_ms ROUNDS CMD1 -- CMD2: the median wall time of each command, in ms.
medians_ms() {
	python3 - "$@" <<'PY'
import os, statistics, sys, time
rounds = int(sys.argv[1])
split = sys.argv.index("--")
cmds = [sys.argv[2:split], sys.argv[split + 1:]]
null = os.open(os.devnull, os.O_WRONLY)
actions = [(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)]
times = [[], []]
for r in range(rounds + 10):
    for i, cmd in enumerate(cmds):
        start = time.perf_counter_ns()
        pid = os.posix_spawn(cmd[0], cmd, os.environ, file_actions=actions)
        os.waitpid(pid, 0)
        if r >= 10:
            times[i].append(time.perf_counter_ns() - start)
print(" ".join("%.3f" % (statistics.median(t) / 1e6) for t in times))
PY
}

# bytes IMAGE CMD...: bytes read in total and from IMAGE, as "ALL IMG".
bytes() {
	local img=$1
	shift
	strace -f -y -qq -e trace=read,pread64 -o "$tmp/trace" "$@" >/dev/null 2>&1 || true
	awk -v img="$img" '
		/= [0-9]+$/ {
			n = $NF; all += n
			if (index($0, "<" img ">") > 0) mine += n
		}
		END { printf "%d %d\n", all, mine }' "$tmp/trace"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

printf '%-26s %9s %9s %6s  %9s %9s %6s  %8s %8s %6s\n' image "ul ms" "kb ms" ratio "ul all" "kb all" ratio "ul img" "kb img" ratio
cd "$dir"
for img in *.img; do
	path=$dir/$img
	read -r t_theirs t_ours < <(medians_ms "$rounds" "$theirs" -p "$path" -- "$ours" blkid -p "$path")
	read -r all_theirs img_theirs < <(bytes "$path" "$theirs" -p "$path")
	read -r all_ours img_ours < <(bytes "$path" "$ours" blkid -p "$path")
	printf '%-26s %9s %9s %6s  %9s %9s %6s  %8s %8s %6s\n' "$img" \
		"$t_theirs" "$t_ours" "$(ratio "$t_ours" "$t_theirs")" \
		"$all_theirs" "$all_ours" "$(ratio "$all_ours" "$all_theirs")" \
		"$img_theirs" "$img_ours" "$(ratio "$img_ours" "$img_theirs")"
done
