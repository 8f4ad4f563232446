#!/usr/bin/env bash
# libzmq with small pipe chunks, and pyzmq built against it, in a venv (root, idempotent).
#   scripts/libzmq.sh VENV      libzmq in VENV/libzmq, pyzmq in VENV found through a relative
#                               RUNPATH (the venv may be moved, as build-deb.sh does)
# Why: libzmq queues each connection's messages in chunks of `message_pipe_granularity` (a
# compile-time constant, 256 x 64 B = 16 KiB) and keeps a spare chunk per queue. A master holds
# four such queues per minion, so once a few hundred messages have passed, every connected minion
# costs it ~130 KiB (measured: 55 KiB after 5 jobs, 131 KiB after 300, at 1,000 minions). A
# master's queues are nearly always close to empty (a minion's traffic is request and answer), so
# chunks of 4 messages (256 B) cost it nothing in speed; measured per connection: 14-15 KiB at any
# age, against 39 (young) and 90 (aged) with the stock constant and 16-19 with 16-message chunks.
# The source is Debian's own (this release's zeromq3 source package, Debian's patches applied)
# with two changes: that constant, and CURVE's handshake buffers. libzmq takes each of those
# (a handful per handshake and side: ephemeral keys, cookies) from sodium_malloc: guard pages and
# mlock, so an mmap, mprotects, mlock, munlock and a munmap per buffer, each munmap a TLB
# shoot-down on every core running the process. A fleet coming back to its master is one
# handshake per minion on both sides: on a 2-core VM those calls were ~6% of a 10,000-minion
# start-up's CPU, and the libzmq threads spent 19-26% less CPU without them (docs/scale.md).
# Here they come from the heap and are wiped when freed (what guards them from other processes
# is unchanged; the long-term CURVE secret was always in libzmq's plain option memory).
# The draft API is built too, for ZMQ_IN_BATCH_SIZE and ZMQ_OUT_BATCH_SIZE (the master's
# per-connection buffers).
# Rebuilt when this script changes; `pvc master` logs which libzmq it runs (docs/scale.md).
set -euo pipefail
VENV=${1:?usage: scripts/libzmq.sh VENV}
PREFIX=$VENV/libzmq
GRANULARITY=4
PYZMQ=${PYZMQ_VERSION:-27.3.0}
APT=${APT:-apt-get -o DPkg::Lock::Timeout=900 -q}
stamp=$PREFIX/.pvc-build
want="$(sha256sum "$0" | cut -c1-16) pyzmq $PYZMQ"
ours() {  # does the venv's pyzmq load the libzmq in PREFIX? (pvc is installed in VENV by now)
  "$VENV/bin/python" -c "import sys, zmq; from pvc.master import zmqbuild
sys.exit(not (zmq.__version__ == '$PYZMQ' and zmqbuild.is_pvc_build(zmqbuild.loaded_library())))" 2>/dev/null
}
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && ours; then
  exit 0
fi
if declare -F apt_install >/dev/null; then apt_install libsodium-dev cmake g++ dpkg-dev pkg-config; fi

work=$(mktemp -d /tmp/pvc-libzmq.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "libzmq: Debian's zeromq3 source, message_pipe_granularity $GRANULARITY -> $PREFIX"
# The system's own apt sources, as deb-src, in a private list directory (the system's apt state
# is left as it was).
mkdir -p "$work/apt/parts" "$work/apt/lists/partial" "$work/apt/cache/archives/partial"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources > "$work/apt/parts/src.sources"
else
  sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list > "$work/apt/parts/src.list"
fi
aptsrc=($APT -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$work/apt/parts"
        -o Dir::State::Lists="$work/apt/lists" -o Dir::Cache="$work/apt/cache" -o APT::Sandbox::User=root)
"${aptsrc[@]}" update >/dev/null
(cd "$work" && "${aptsrc[@]}" source zeromq3 >/dev/null 2>&1) || {
  echo "libzmq.sh: could not fetch Debian's zeromq3 source package" >&2; exit 1; }
src=$(find "$work" -maxdepth 1 -type d -name 'zeromq3-*' | head -1)
config=$src/src/config.hpp
sed -i "s/message_pipe_granularity = [0-9]*,/message_pipe_granularity = $GRANULARITY,/" "$config"
grep -q "message_pipe_granularity = $GRANULARITY," "$config" || {
  echo "libzmq.sh: message_pipe_granularity not found in $config" >&2; exit 1; }
# CURVE handshake buffers on the heap, wiped when freed (see the header of this script)
alloc=$src/src/secure_allocator.hpp
sed -i -e 's|#include <memory>|#include <cstdlib>\n#include <memory>|' \
  -e 's|static_cast<T \*> (sodium_allocarray (sizeof (T), n))|static_cast<T *> (std::calloc (n ? n : 1, sizeof (T)))|' \
  -e 's|void deallocate (T \*p, std::size_t) ZMQ_NOEXCEPT|void deallocate (T *p, std::size_t n) ZMQ_NOEXCEPT|' \
  -e 's|sodium_free (p);|{ sodium_memzero (p, n * sizeof (T)); std::free (p); }|' "$alloc"
[ "$(grep -c 'std::calloc\|std::size_t n) ZMQ_NOEXCEPT\|sodium_memzero (p, n' "$alloc")" = 3 ] || {
  echo "libzmq.sh: the secure allocator in $alloc is not the one this script patches" >&2; exit 1; }

rm -rf "$PREFIX"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" \
  -DCMAKE_INSTALL_LIBDIR=lib -DENABLE_DRAFTS=ON -DENABLE_CURVE=ON -DWITH_LIBSODIUM=ON \
  -DBUILD_TESTS=OFF -DBUILD_STATIC=OFF -DWITH_DOCS=OFF -DWITH_PERF_TOOL=OFF >"$work/cmake.log" 2>&1 \
  || { tail -20 "$work/cmake.log" >&2; exit 1; }
make -C "$work/build" -j"$(nproc)" install >"$work/make.log" 2>&1 || { tail -20 "$work/make.log" >&2; exit 1; }

# _zmq.so lives in VENV/lib/pythonX.Y/site-packages/zmq/backend/cython: six levels below VENV.
echo "libzmq: pyzmq $PYZMQ built against it"
ZMQ_PREFIX=$PREFIX ZMQ_DRAFT_API=1 PYZMQ_LIBZMQ_RPATH=OFF \
  SKBUILD_CMAKE_ARGS='-DCMAKE_INSTALL_RPATH=$ORIGIN/../../../../../../libzmq/lib' \
  "$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps \
  --no-binary pyzmq "pyzmq==$PYZMQ" 2>&1 | { grep -v "is ignored: it is neither" || true; }
ours || {
  echo "libzmq.sh: pyzmq did not load the libzmq in $PREFIX" >&2; exit 1; }
echo "$want" > "$stamp"
