#!/usr/bin/env bash
# The linker for wasm32-wasip2 on the Debian toolchain path (build/wasm.sh): rustup's
# wasm-component-ld (it turns the core module into a component, adapting WASI preview 1 imports),
# told to link with Debian's wasm-ld-16. rustc passes `-flavor wasm` first, and it must stay first.
set -euo pipefail
ld=${WASM_COMPONENT_LD:-}
if [ -z "$ld" ]; then
  sysroot=$(rustup run stable rustc --print sysroot 2>/dev/null || true)
  ld=$sysroot/lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld
fi
[ -x "$ld" ] || { echo "wasm-component-ld not found (set WASM_COMPONENT_LD)" >&2; exit 1; }
exec "$ld" "$1" "$2" --wasm-ld-path /usr/bin/wasm-ld-16 "${@:3}"
