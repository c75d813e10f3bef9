#!/usr/bin/env bash
# Refresh the vendored Socket.IO browser client from the npm registry.
# socket.io-client publishes two official builds we serve as they are:
#   socket.io.min.js          the client with the default (JSON) parser
#   socket.io.msgpack.min.js  the client built with socket.io-msgpack-parser
# Usage: scripts/vendor-js.sh [socket.io-client version]
set -euo pipefail
version="${1:-4}"
dest="$(cd "$(dirname "$0")/.." && pwd)/web/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "socket.io-client@${version}" "socket.io-msgpack-parser@3" >/dev/null
for archive in *.tgz; do
  mkdir -p "${archive%.tgz}" && tar xzf "$archive" -C "${archive%.tgz}"
done
client=$(ls -d socket.io-client-*/package)
parser=$(ls -d socket.io-msgpack-parser-*/package)
mkdir -p "$dest"
cp "$client/dist/socket.io.min.js" "$client/dist/socket.io.msgpack.min.js" "$dest/"
cp "$client/LICENSE" "$dest/LICENSE.socket.io-client"
cp "$parser/LICENSE" "$dest/LICENSE.socket.io-msgpack-parser"
node -e 'for (const p of process.argv.slice(1)) { const j = require(p); console.log(`${j.name} ${j.version}`) }' \
  "$PWD/$client/package.json" "$PWD/$parser/package.json" > "$dest/VERSIONS"
cat "$dest/VERSIONS"
