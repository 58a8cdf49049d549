#!/usr/bin/env bash
# Re-vendors the JavaScript and CSS that /api/v1/docs (Swagger UI) and /api/v1/redoc (ReDoc) run,
# into functions/docs/vendor/<package>@<version>/, from the npm registry with `npm pack`.
#
# Not part of the build: the files are committed, so `spin build` / `make build` need no npm and
# no network (air-gapped build machines, CI), and the bytes served are the bytes reviewed. Run
# this only to move to another version: change the pins below (version and npm's sha512
# integrity, `npm view <package>@<version> dist.integrity`), the constants SWAGGER_UI_DIST and
# REDOC in shared/src/openapi.rs, run it, and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

# package version integrity files-to-keep (paths inside the tarball's package/)
pins=(
  "swagger-ui-dist 5.35.0 sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ== swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE"
  "redoc 2.5.4 sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ== bundles/redoc.standalone.js bundles/redoc.standalone.js.LICENSE.txt LICENSE"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
vendor=functions/docs/vendor
for pin in "${pins[@]}"; do
  # shellcheck disable=SC2086
  set -- $pin
  package=$1 version=$2 integrity=$3
  shift 3
  tarball=$(cd "$work" && npm pack --silent "$package@$version" 2>/dev/null | tail -n1)
  actual="sha512-$(openssl dgst -sha512 -binary "$work/$tarball" | base64 -w0)"
  if [ "$actual" != "$integrity" ]; then
    echo "$package@$version: integrity $actual, expected $integrity" >&2
    exit 1
  fi
  mkdir -p "$work/$package"
  tar xzf "$work/$tarball" -C "$work/$package"
  rm -rf "${vendor:?}/$package@"*
  mkdir -p "$vendor/$package@$version"
  for file in "$@"; do
    cp "$work/$package/package/$file" "$vendor/$package@$version/$(basename "$file")"
  done
  echo "$package@$version: $* -> $vendor/$package@$version/"
done
