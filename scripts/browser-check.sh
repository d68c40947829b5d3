#!/usr/bin/env bash
# The HTML timeline in a real browser: for every built-in scenario, `raftsim run NAME --html`
# and open the page in headless Chromium; fail on any console error or uncaught exception, or
# when the page's script did not draw member lanes, client operations and message arrows.
# Screenshots go next to the pages in $OUT (default target/browser-check).
# Installs Debian's chromium when it is missing (needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Debian's chromium"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi

cargo build --release --quiet
out="${OUT:-target/browser-check}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=5000)
failed=0
for name in $(./target/release/raftsim list | awk '/^  [a-z0-9]/ {print $1} /^[a-z0-9]/ {print $1}' | grep -E '^[a-z0-9-]+$'); do
  page="$out/$name.html"
  ./target/release/raftsim run "$name" --html "$page" >/dev/null || true
  chromium "${flags[@]}" --enable-logging=stderr --v=0 --dump-dom "file://$page" \
    >"$out/$name.dom" 2>"$out/$name.log" || true
  errors=$(grep -E 'CONSOLE|Uncaught' "$out/$name.log" | grep -iE 'error|uncaught' || true)
  body=$(grep -o '<body[^>]*>' "$out/$name.dom" || true)
  attr() { echo "$body" | sed -n "s/.*data-$1=\"\([0-9]*\)\".*/\1/p"; }
  lanes=$(attr lanes); ops=$(attr ops); arrows=$(attr arrows); ready=$(attr ready)
  if [ -n "$errors" ] || [ "$ready" != 1 ] || [ "${lanes:-0}" -lt 3 ] || [ "${ops:-0}" -lt 1 ] || [ "${arrows:-0}" -lt 1 ]; then
    echo "FAIL $name: ready=${ready:-none} lanes=${lanes:-0} ops=${ops:-0} arrows=${arrows:-0} ${errors}"
    failed=1
  else
    echo "ok   $name: $lanes member lanes, $ops client operations, $arrows message arrows"
  fi
  chromium "${flags[@]}" --window-size=1400,720 --screenshot="$out/$name.png" "file://$page" \
    >/dev/null 2>&1 || true
done
exit $failed
