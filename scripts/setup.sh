#!/usr/bin/env bash
# Installs what building and testing Schoon needs on Debian, and nothing when it is all there.
# Called by scripts/demo.sh and scripts/test.sh; safe to run again. With --test it also makes
# the tests' Python environment (below).
#
#   cmake, nasm   build the vendored libjpeg-turbo 3.x (the `turbojpeg` crate) that decodes JPEGs
#                 exactly as Pillow and Meta's tooling do (Debian's libturbojpeg is 2.1, too old)
#   pkg-config    used by -sys crates' build scripts
#   python3-venv  the virtual environment of the peer benchmarks (bench/run.sh)
#   postgresql    the server binaries (initdb, pg_ctl under /usr/lib/postgresql/*/bin) that the
#                 tests start throwaway PostgreSQL servers from; no cluster is created or started
#   chromium, chromium-driver   (--test only) headless Chromium (/usr/bin/chromium) and its
#                 WebDriver server (/usr/bin/chromedriver) that the browser tests of the web pages
#                 drive with fantoccini (crates/cli/tests/common/browser.rs)
set -euo pipefail

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v nasm >/dev/null 2>&1 || need+=(nasm)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if [ "${1:-}" = "--test" ]; then
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
fi

if ((${#need[@]})); then
  echo "setup: installing ${need[*]} with apt" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (https://rustup.rs) and run this again" >&2
  exit 1
fi

# --test: the real servers the tests start on loopback, in their own virtual environment
# outside the clone (kept between runs, rebuilt when something is missing): moto, an
# S3-compatible server for the bucket scans, and aiosmtpd, an SMTP server for the mail tests.
if [ "${1:-}" = "--test" ]; then
  venv="${SCHOON_TEST_VENV:-$HOME/.cache/schoon/test-venv}"
  if ! { [ -x "$venv/bin/moto_server" ] && "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; }; then
    echo "setup: installing moto (S3 test server) and aiosmtpd (SMTP test server) into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'moto[server]==5.2.5' 'aiosmtpd==1.4.6'
  fi
fi
