#!/bin/bash
# Runs the unit tests (ASan+UBSan build) and the integration tests against the
# sanitized daemon, then prints one closing line: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
: "${CRIC_BUILD_DIR:=$PWD/build-asan}"
export CRIC_BUILD_DIR
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

passed=0
failed=0

echo "== unit tests (ASan+UBSan) =="
meson test -C "$CRIC_BUILD_DIR" --print-errorlogs --no-rebuild > /tmp/cric-unit.log 2>&1
unit_rc=$?
cat /tmp/cric-unit.log | grep -E "^ *[0-9]+/[0-9]+ |^Ok:|^Fail:|^Expected|^Unexpected|^Timeout" || true
ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' /tmp/cric-unit.log | tail -1)
fail=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' /tmp/cric-unit.log | tail -1)
to=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' /tmp/cric-unit.log | tail -1)
passed=$((passed + ${ok:-0}))
failed=$((failed + ${fail:-0} + ${to:-0}))
if [ "$unit_rc" != 0 ] && [ "${fail:-0}" = 0 ] && [ "${to:-0}" = 0 ]; then
    cat /tmp/cric-unit.log
    failed=$((failed + 1))
fi

echo "== integration tests =="
junit=/tmp/cric-integration.xml
rm -f "$junit"
/usr/bin/python3 -m pytest -q -p no:cacheprovider --junitxml="$junit" tests/integration
count_junit() {
    if [ ! -f "$junit" ]; then
        failed=$((failed + 1))
        return
    fi
    read -r t f e s < <(/usr/bin/python3 - "$junit" <<'PY'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
suites = [r] if r.tag == "testsuite" else list(r)
t = sum(int(x.get("tests", 0)) for x in suites)
f = sum(int(x.get("failures", 0)) for x in suites)
e = sum(int(x.get("errors", 0)) for x in suites)
s = sum(int(x.get("skipped", 0)) for x in suites)
print(t, f, e, s)
PY
)
    passed=$((passed + t - f - e - s))
    failed=$((failed + f + e))
}
count_junit

# The quick variant of the reliability harness (sizes in tests/reliability/conftest.py;
# `make test-reliability` runs the full one).
echo "== reliability (quick) =="
junit=/tmp/cric-reliability.xml
rm -f "$junit"
/usr/bin/python3 -m pytest -q -p no:cacheprovider --junitxml="$junit" tests/reliability
count_junit

echo "${passed} passed, ${failed} failed"
[ "$failed" = 0 ]
