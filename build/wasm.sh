#!/usr/bin/env bash
# Builds the named WebAssembly packages as wasm32-wasip2 components (profile `wasm`) and copies the
# .wasm files to ./target/wasm32-wasip2/wasm/, where spin.toml expects them.
#
# With a rustup toolchain that has the wasm32-wasip2 target this is plain `cargo build` (what
# `spin build` runs). Without it (these machines), Debian's rustc-web toolchain builds std from
# source for the target and rustup's wasm-component-ld links; see README "Building".
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -gt 0 ] || { echo "usage: build/wasm.sh PACKAGE..." >&2; exit 2; }
packages=()
for p in "$@"; do packages+=(-p "$p"); done

target=wasm32-wasip2
target_dir=${CARGO_TARGET_DIR:-target}
if command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx $target; then
  cargo build --locked --target $target --profile wasm "${packages[@]}"
elif [ -x /usr/bin/wasm-ld-16 ] && [ -d /usr/lib/rustlib/src/rust/library ] && [ -d /usr/lib/wasm32-wasi ]; then
  CARGO_TARGET_WASM32_WASIP2_LINKER="$PWD/build/wasm-component-ld.sh" \
  RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc /usr/bin/cargo build --locked --target $target --profile wasm \
    --config build/wasm-debian.toml "${packages[@]}"
else
  cat >&2 <<'MSG'
No WebAssembly toolchain: either `rustup target add wasm32-wasip2`, or on Debian 12
`apt-get install rustc-web cargo-web rust-web-src wasi-libc lld-16` (what .ci/run does).
MSG
  exit 1
fi

mkdir -p target/$target/wasm
for p in "$@"; do
  file="${p//-/_}.wasm"
  src="$target_dir/$target/wasm/$file"
  dst="target/$target/wasm/$file"
  if [ "$(realpath -m "$src")" != "$(realpath -m "$dst")" ]; then
    cp "$src" "$dst"
  fi
done
