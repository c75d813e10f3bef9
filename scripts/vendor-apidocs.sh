#!/usr/bin/env bash
# Refresh the vendored Swagger UI that renders /api/openapi.json at /api/docs.
# swagger-ui-dist publishes the built files we serve as they are; the page's
# own set-up is web/static/js/apidocs.js (no inline script: strict CSP).
# Usage: scripts/vendor-apidocs.sh [swagger-ui-dist version]
set -euo pipefail
version="${1:-5}"
dest="$(cd "$(dirname "$0")/.." && pwd)/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "swagger-ui-dist@${version}" >/dev/null
tar xzf swagger-ui-dist-*.tgz
mkdir -p "$dest"
cp package/swagger-ui-bundle.js package/swagger-ui.css "$dest/"
cp package/LICENSE "$dest/LICENSE.swagger-ui"
cp package/swagger-ui-bundle.js.LICENSE.txt "$dest/LICENSE.swagger-ui-bundle-dependencies"
node -e 'const j = require(process.argv[1]); console.log(`${j.name} ${j.version}`)' \
  "$PWD/package/package.json" > "$dest/VERSIONS.swagger-ui"
cat "$dest/VERSIONS.swagger-ui"
