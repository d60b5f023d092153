#!/usr/bin/env bash
# Builds durable's Debian packages (README.md, "Packages") and proves them
# on this machine:
#
#   1. builds what is installed (target durable_package) and runs
#      `cpack -G DEB`: durable_<version>-1_<arch>.deb (the programs, the
#      systemd unit, the sysusers file, /etc/durable/node.conf) and
#      libdurable-dev_<version>-1_<arch>.deb (headers, static libraries,
#      CMake package, durable.pc);
#   2. runs lintian on each: any error (E:) fails, warnings are shown;
#   3. installs both with apt-get, runs durable-node --version,
#      durablectl --version and durable-bench --help from /usr/bin,
#      checks that each has its manual page,
#      checks the user durable, the conffile and its permissions, and the
#      installed unit with systemd-analyze verify; builds and runs
#      examples/retries_sqlite against the installed libdurable-dev (no
#      prefix: find_package looks in /usr);
#   4. purges both and checks that the programs, the unit and the conffile
#      are gone.
#
#   scripts/deb-check.sh [BUILD_DIR]
#
# BUILD_DIR (default ./build, as scripts/build.sh and .ci/run's test stage
# leave it) is packaged from; without a configured BUILD_DIR, durable is
# configured and built without tests in $WORK/durable. The packages go to
# WORK (default ./build-deb), emptied first. JOBS (default: the number of
# cores) is the build's parallelism. Installing needs root (or sudo), and
# a machine where neither package is installed yet: it refuses to replace
# an installed durable.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
work=${WORK:-build-deb}
jobs=${JOBS:-$(nproc)}

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

sudo=()
[ "$(id -u)" = 0 ] || sudo=(sudo)
apt_get=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get
  -o DPkg::Lock::Timeout=300 -y -qq)

step_start=$SECONDS
step() {
  echo "== deb-check: $* ($((SECONDS - step_start)) s so far)"
}
fail() {
  echo "deb-check: $*" >&2
  exit 1
}

for tool in cpack dpkg-shlibdeps lintian; do
  command -v "$tool" >/dev/null ||
    fail "$tool not found: run scripts/setup.sh deb"
done
for package in durable libdurable-dev; do
  if dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
      grep -q "install ok installed"; then
    fail "$package is installed already: remove it first" \
      "(apt-get purge $package)"
  fi
done

if [ ! -f "$build/CMakeCache.txt" ]; then
  build=$work/durable
  step "configuring durable without tests in $build"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDURABLE_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
else
  # A build directory configured by an older checkout may lack CPack's
  # configuration.
  cmake "$build" >/dev/null
fi
step "building what is installed in $build"
cmake --build "$build" -j"$jobs" --target durable_package >/dev/null

step "cpack -G DEB into $work"
rm -rf "$work/packages"
mkdir -p "$work/packages"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/packages" \
  >"$work/cpack.log" || { cat "$work/cpack.log" >&2; exit 1; }
debs=("$work"/packages/*.deb)
[ ${#debs[@]} = 2 ] || fail "expected 2 packages, cpack made: ${debs[*]}"
for deb in "${debs[@]}"; do
  echo "   $(basename "$deb"): $(du -k "$deb" | cut -f1) KiB"
  dpkg-deb -f "$deb" Depends | sed 's/^/     Depends: /'
done

step "lintian"
# --fail-on error: warnings are reported but pass.
lintian --fail-on error --tag-display-limit 0 "${debs[@]}" ||
  fail "lintian reports errors"

step "installing with apt-get"
# Whatever fails from here on, the machine is left without the packages.
purge() {
  "${apt_get[@]}" purge durable libdurable-dev >/dev/null 2>&1 || true
}
trap purge EXIT
"${apt_get[@]}" install "${debs[@]/#/./}" >/dev/null
for program in durable-node durablectl; do
  [ "$(command -v "$program")" = "/usr/bin/$program" ] ||
    fail "$program is not /usr/bin/$program"
  "/usr/bin/$program" --version
done
/usr/bin/durable-bench --help >/dev/null
for program in durable-node durablectl durable-bench; do
  page=/usr/share/man/man1/$program.1.gz
  [ -f "$page" ] || fail "$page is missing"
  # The page names the program's options as its --help does.
  zcat "$page" | grep -q -- 'help' || fail "$page describes no option"
done
getent passwd durable >/dev/null || fail "the user durable was not created"
[ "$(stat -c %a:%G /etc/durable/node.conf)" = 640:durable ] ||
  fail "/etc/durable/node.conf is $(stat -c %a:%G /etc/durable/node.conf)," \
    "not 640:durable"
dpkg-query --showformat='${Conffiles}' --show durable |
  grep -q ' /etc/durable/node.conf ' ||
  fail "/etc/durable/node.conf is not a conffile"
/usr/bin/durable-node --config /etc/durable/node.conf --check-config \
  >/dev/null || fail "the installed sample configuration is refused"
step "building examples/retries_sqlite against libdurable-dev"
example=$work/retries_sqlite
rm -rf "$example"
cmake -S examples/retries_sqlite -B "$example" "${launcher[@]}" >/dev/null
cmake --build "$example" -j"$jobs" >/dev/null
(cd "$example" && ./retries_sqlite >/dev/null) ||
  fail "retries_sqlite, built against the installed package, failed"
if command -v systemd-analyze >/dev/null; then
  out=$(systemd-analyze verify --man=no \
    /usr/lib/systemd/system/durable-node.service 2>&1) ||
    fail "systemd-analyze verify: $out"
  if grep -q durable-node <<<"$out"; then
    fail "systemd-analyze verify: $out"
  fi
fi

step "purging"
trap - EXIT
"${apt_get[@]}" purge durable libdurable-dev >/dev/null
for gone in /usr/bin/durable-node /usr/bin/durablectl /usr/bin/durable-bench \
    /usr/share/man/man1/durable-node.1.gz \
    /usr/lib/systemd/system/durable-node.service /etc/durable/node.conf \
    /usr/include/durable; do
  [ ! -e "$gone" ] || fail "$gone is left after the purge"
done

step "done"
