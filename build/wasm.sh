#!/usr/bin/env bash
# Builds the named WebAssembly packages (wasm32-wasip1, profile `wasm`) and copies the .wasm files
# to ./target/wasm32-wasip1/wasm/, where spin.toml expects them.
#
# With a rustup toolchain that has the wasm32-wasip1 target this is plain `cargo build` (what
# `spin build` runs). Without it (these machines), Debian's rustc-web toolchain builds std from
# source for the target; see README "Building".
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -gt 0 ] || { echo "usage: build/wasm.sh PACKAGE..." >&2; exit 2; }
packages=()
for p in "$@"; do packages+=(-p "$p"); done

target_dir=${CARGO_TARGET_DIR:-target}
if command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
  cargo build --locked --target wasm32-wasip1 --profile wasm "${packages[@]}"
elif [ -x /usr/bin/wasm-ld-16 ] && [ -d /usr/lib/rustlib/src/rust/library ] && [ -f /usr/lib/wasm32-wasi/crt1-reactor.o ]; then
  RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc /usr/bin/cargo build --locked --target wasm32-wasip1 --profile wasm \
    --config build/wasm-debian.toml "${packages[@]}"
else
  cat >&2 <<'MSG'
No WebAssembly toolchain: either `rustup target add wasm32-wasip1`, or on Debian 12
`apt-get install rustc-web cargo-web rust-web-src wasi-libc lld-16` (what .ci/run does).
MSG
  exit 1
fi

mkdir -p target/wasm32-wasip1/wasm
for p in "$@"; do
  file="${p//-/_}.wasm"
  src="$target_dir/wasm32-wasip1/wasm/$file"
  dst="target/wasm32-wasip1/wasm/$file"
  if [ "$(realpath -m "$src")" != "$(realpath -m "$dst")" ]; then
    cp "$src" "$dst"
  fi
done
