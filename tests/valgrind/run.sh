#!/usr/bin/env bash
# make valgrind: sql/demo.sql and tests/valgrind/suite.sql through the
# sqlite3 shell under valgrind memcheck, on the mock cluster. Fails on any
# invalid read or write, use of uninitialised memory, or definitely or
# indirectly lost block. "Possibly lost" and "still reachable" blocks are
# the mock cluster's librdkafka threads, which live as long as the process
# by design (client.c), so they need no suppression and are not errors.
# The suite's failing statements must fail, in order, with errors that
# contain the lines of tests/valgrind/expected-errors.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=build/valgrind
mkdir -p "$out"
valgrind_shell() { # name script
  valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=99 --num-callers=30 --log-file="$out/$1.valgrind" \
    sqlite3 :memory: < "$2" > "$out/$1.out" 2> "$out/$1.err"
}
vg_failed() { # name
  echo "valgrind: $1: memory errors or leaks (full report: $out/$1.valgrind)" >&2
  awk '/Invalid|uninitialised|definitely lost in|indirectly lost in/ { p = 1 }
       p { print } /^==[0-9]+== $/ { p = 0 }' "$out/$1.valgrind" | head -100 >&2
  exit 1
}

rc=0; valgrind_shell demo sql/demo.sql || rc=$?
[ "$rc" = 0 ] || { [ "$rc" = 99 ] && vg_failed demo; cat "$out/demo.err" >&2; exit 1; }

rc=0; valgrind_shell suite tests/valgrind/suite.sql || rc=$?
[ "$rc" = 99 ] && vg_failed suite
# Line by line: each error must contain the expected line's text.
sed 's/^Runtime error near line [0-9]*: //' "$out/suite.err" > "$out/suite.errors"
if ! awk 'NR == FNR { want[FNR] = $0; n = FNR; next }
          { got++; if (index($0, want[FNR]) == 0) bad = 1 }
          END { exit bad || got != n }' tests/valgrind/expected-errors.txt "$out/suite.errors"; then
  diff -u tests/valgrind/expected-errors.txt "$out/suite.errors" >&2 || true
  echo "valgrind: suite.sql: errors differ from tests/valgrind/expected-errors.txt (-expected +got)" >&2
  exit 1
fi
grep -h 'ERROR SUMMARY\|definitely lost:\|indirectly lost:' "$out/demo.valgrind" "$out/suite.valgrind"
echo "valgrind: no memory errors, no definite or indirect leaks"
