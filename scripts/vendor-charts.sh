#!/usr/bin/env bash
# Refresh the vendored Chart.js that draws the console's report charts.
# chart.js publishes a UMD build we serve as it is (it defines the global
# `Chart`); the console's own code is web/static/js/console_charts.js. It
# sets styles through the CSSOM only, which the strict CSP allows.
# Usage: scripts/vendor-charts.sh [chart.js version]
set -euo pipefail
version="${1:-4}"
dest="$(cd "$(dirname "$0")/.." && pwd)/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "chart.js@${version}" >/dev/null
tar xzf chart.js-*.tgz
mkdir -p "$dest"
cp package/dist/chart.umd.min.js "$dest/"
cp package/LICENSE.md "$dest/LICENSE.chart.js"
node -e 'const j = require(process.argv[1]); console.log(`${j.name} ${j.version}`)' \
  "$PWD/package/package.json" > "$dest/VERSIONS.chart.js"
cat "$dest/VERSIONS.chart.js"
