# Sourced by the scripts that build: checks that a static build for a target can
# work before cargo starts, and names the package or rustup target that is
# missing in one line. Every function returns non-zero after printing that line.

# The C compiler ring's build uses for TARGET (see .cargo/config.toml), and the
# Debian package that brings its C library headers.
cross_cc_for() { # TARGET -> "CC PACKAGES"
  case $1 in
    aarch64-*) echo "aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;;
    x86_64-*) echo "gcc gcc libc6-dev" ;;
    *) echo "" ;;
  esac
}

# Compiles a one-line C file that includes <stdint.h>, as ring's build does:
# a compiler without its libc headers (libc6-dev-arm64-cross is only a
# Recommends of gcc-aarch64-linux-gnu) fails here rather than deep in cargo.
check_cross_cc() { # TARGET
  local spec cc pkgs out
  spec=$(cross_cc_for "$1")
  [[ -n $spec ]] || return 0
  read -r cc pkgs <<<"$spec"
  if ! command -v "$cc" >/dev/null; then
    echo "C compiler $cc for $1 is missing: apt-get install $pkgs" >&2
    return 1
  fi
  if ! out=$(printf '#include <stdint.h>\nuint32_t krazybox_probe;\n' |
    "$cc" -x c -c -o /dev/null - 2>&1); then
    echo "$cc cannot compile a file that includes <stdint.h> ($(head -n 1 <<<"$out")): apt-get install $pkgs" >&2
    return 1
  fi
}

check_rust_target() { # TARGET
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$1"; then
    echo "Rust target $1 is not installed: rustup target add $1" >&2
    return 1
  fi
}

# Everything a static build for TARGET needs.
check_static_toolchain() { # TARGET...
  local t
  for t in "$@"; do
    check_rust_target "$t" && check_cross_cc "$t" || return 1
  done
}
