#!/bin/bash
# bench-blkid.sh [IMAGE_DIR]: util-linux blkid against krazybox blkid (static
# release build), per image: the median whole-process time of `blkid -p IMAGE`
# (hyperfine) and the bytes read per probe (strace, summing the results of read
# and pread64), each with the ratio ours/theirs. Goals: time <= 0.5, bytes <= 0.25.
#
# "all" counts every byte the process reads (the dynamic loader included, which
# only util-linux has); "image" counts reads from the image alone.
# Without IMAGE_DIR the images are made by make-blkid-images.sh in a temp dir.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
theirs=/usr/sbin/blkid

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ $# -ge 1 ]; then
	dir=$(cd "$1" && pwd)
else
	dir=$tmp/images
	"$here/make-blkid-images.sh" "$dir" >/dev/null
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

# median_ms CSV: hyperfine's median run time of the one command in CSV, in ms
# (the median, because other work on the machine makes the mean jumpy).
median_ms() { awk -F, 'NR == 2 { printf "%.3f", $4 * 1000 }' "$1"; }

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
	hyperfine -N -i --warmup 3 --min-runs 20 --style none --export-csv "$tmp/t.csv" "$theirs -p $path" >/dev/null 2>&1 || true
	t_theirs=$(median_ms "$tmp/t.csv")
	hyperfine -N -i --warmup 3 --min-runs 20 --style none --export-csv "$tmp/o.csv" "$ours blkid -p $path" >/dev/null 2>&1 || true
	t_ours=$(median_ms "$tmp/o.csv")
	read -r all_theirs img_theirs < <(bytes "$path" "$theirs" -p "$path")
	read -r all_ours img_ours < <(bytes "$path" "$ours" blkid -p "$path")
	printf '%-26s %9s %9s %6s  %9s %9s %6s  %8s %8s %6s\n' "$img" \
		"$t_theirs" "$t_ours" "$(ratio "$t_ours" "$t_theirs")" \
		"$all_theirs" "$all_ours" "$(ratio "$all_ours" "$all_theirs")" \
		"$img_theirs" "$img_ours" "$(ratio "$img_ours" "$img_theirs")"
done
