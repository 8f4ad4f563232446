"""``python -m bench flood``: what a stranger's flood costs the master (issue 7's figures).

Starts a master and three minions on 127.0.0.1 (tests/cluster/pvc.py), measures a quiet
baseline — master RSS, ``test.ping`` latency (median, p95) and the time a new minion takes
to enrol — then the same while ``--sockets`` stranger sockets flood it for ``--seconds``, each
cycling through the attacks of :data:`MODES`. Writes ``<out-dir>/flood-<date>.json`` and
``.png`` and prints a markdown table with PASS/FAIL against the targets: RSS growth < 64 MiB,
ping median < 100 ms during the flood, enrolment < 5 s during the flood.

The enrolment port is raw TCP with length-prefixed frames (:mod:`pvc.wire.stream`), so the
enrolment attacks are plain TCP connections that write whatever they like: frames over the
limit, garbage frames, a frame left unfinished, an endless stream of bytes, a huge declared
length; the master closes each at its first violation and the attacker reconnects. The
channel port (the only ZMTP/CURVE port: publications go down it too) is attacked with libzmq
sockets: plain ZMTP, and CURVE handshakes from keys the master never registered, one fresh key
per connection, each of which the master's ZAP handler must refuse.

The flooder runs in this process (threads; the GIL and the two processes share the CPUs, so
the figures include the attacker's own CPU use on the same host).

Examples::

    python -m bench flood                              # 10 s, 16 sockets
    python -m bench flood --seconds 3 --sockets 4 --out-dir /tmp/f      # the CI smoke run
    python -m bench flood --modes endless              # one attack alone
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import zmq
from zmq.utils.monitor import recv_monitor_message

from bench.results import host_facts, save
from bench.stats import summarize
from pvc.wire.messages import Hello
from pvc.wire.stream import frame
from tests.cluster.pvc import PvcCluster
from tests.cluster.rogue import RogueMinion, curve_socket, master_curve, rss_mib

RESULTS_DIR = Path(__file__).resolve().parent / "results"
RSS_GROWTH_MIB = 64.0
PING_MEDIAN_MS = 100.0
ENROL_S = 5.0
MINIONS = ("m1", "m2", "m3")
# every attack a stranger can make without a key (the enrolment ones over raw TCP)
MODES = ("oversize", "garbage", "authjunk", "curve_keys", "curve_channel", "plain_channel", "partial")
# heavier ones, run when asked for: an endless stream of bytes inside one frame's declared
# length, and an endless stream behind a declared length of 4 GiB
EXTRA_MODES = ("endless", "hugelen")
# what ends a CURVE handshake, as the client's socket monitor reports it
HANDSHAKE_EVENTS = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_AUTH
                    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)


@dataclass
class Flood:
    """``sockets`` threads, each cycling through ``modes`` until ``stop`` is set."""

    ret_port: int
    channel_port: int
    master_pub: bytes
    sockets: int
    modes: tuple[str, ...] = MODES
    sent: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)
    endless_cap: int = 256 * 1024 * 1024  # bytes the endless modes send at most, in all
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:  # slots count from 16+ threads: a bare += may lose updates
            self.sent[key] += n

    def run_for(self, seconds: float, during: Callable[[], Any] | None = None) -> Any:
        threads = [threading.Thread(target=self._slot, args=(n,), daemon=True) for n in range(self.sockets)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + seconds
        out = during() if during is not None else None
        self.stop.wait(max(0.0, deadline - time.monotonic()))
        self.stop.set()
        for t in threads:
            t.join(10)
        return out

    def _slot(self, n: int) -> None:
        step = n
        while not self.stop.is_set():
            mode = self.modes[step % len(self.modes)]
            step += 1
            try:
                getattr(self, f"_{mode}")(time.monotonic() + 1.0)
            except (OSError, zmq.ZMQError, TimeoutError):
                self._count(f"{mode}_errors", 1)

    def _dealer(self, port: int) -> zmq.Socket:
        sock: zmq.Socket = zmq.Context.instance().socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 1000)
        sock.connect(f"tcp://127.0.0.1:{port}")
        return sock

    def _spray(self, sock: zmq.Socket, payloads: list[bytes], until: float, mode: str) -> None:
        try:
            while time.monotonic() < until and not self.stop.is_set():
                for p in payloads:
                    try:
                        sock.send(p, zmq.NOBLOCK)
                        self._count(mode, 1)
                    except zmq.Again:
                        time.sleep(0.001)
        finally:
            sock.close(0)

    def _tcp(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.ret_port), timeout=1.0)

    def _violate(self, data: bytes, until: float, mode: str) -> None:
        """Connect, write ``data``, wait for the master to close the connection; again."""
        while time.monotonic() < until and not self.stop.is_set():
            with self._tcp() as s:
                try:
                    s.sendall(data)
                    self._count(mode, 1)
                    s.settimeout(max(0.01, until - time.monotonic()))
                    while s.recv(65536):
                        pass
                    self._count(f"{mode}_closed", 1)
                except TimeoutError:
                    return
                except OSError:  # reset: closed as well
                    self._count(f"{mode}_closed", 1)

    def _oversize(self, until: float) -> None:  # a frame over max_preauth_size: closed at its header
        self._violate(frame(os.urandom(8192)), until, "oversize")

    def _garbage(self, until: float) -> None:  # frames within the limit that are not messages
        junk = [os.urandom(64), b"\x91" * 2000, b"\x81\xa1k\x90"]
        self._violate(b"".join(frame(j) for j in junk), until, "garbage")

    def _authjunk(self, until: float) -> None:
        """hello, then an auth over the fresh challenge with a signature that does not verify."""
        rogue = RogueMinion(self, f"junk{os.urandom(4).hex()}")
        try:
            while time.monotonic() < until and not self.stop.is_set():
                chal = rogue.hello(timeout=max(0.05, until - time.monotonic()))
                req, _ = rogue.request(chal)
                rogue.send_enrol(type(req)(req.id, req.pub, req.eph, req.curve, req.chal, os.urandom(64)).encode())
                rogue.sent.clear()
                self._count("authjunk", 1)
        finally:
            rogue.close()

    def _curve_channel(self, until: float) -> None:
        """One unknown CURVE key sending frames for the window: the handshake fails (and
        libzmq retries it on its own), so no frame reaches the master."""
        sock = curve_socket(zmq.DEALER, self.master_pub)
        sock.connect(f"tcp://127.0.0.1:{self.channel_port}")
        self._spray(sock, [os.urandom(1024)], until, "curve_channel")

    def _curve_keys(self, until: float) -> None:
        """CURVE handshakes with a fresh unknown key each, one after the other: every one costs
        the master a handshake and a ZAP request. Counts the attempts, and those the master
        refused (``curve_keys_refused``) or let through (``curve_keys_admitted``: must stay 0)."""
        while time.monotonic() < until and not self.stop.is_set():
            sock = curve_socket(zmq.DEALER, self.master_pub)
            monitor = sock.get_monitor_socket(HANDSHAKE_EVENTS)
            try:
                sock.connect(f"tcp://127.0.0.1:{self.channel_port}")
                self._count("curve_keys", 1)
                # waits up to the window's end: only a window's last attempt can go without a verdict
                if monitor.poll(int(max(0.01, until - time.monotonic()) * 1000)):
                    event = recv_monitor_message(monitor)["event"]
                    self._count("curve_keys_refused" if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH
                                else "curve_keys_admitted" if event == zmq.EVENT_HANDSHAKE_SUCCEEDED
                                else "curve_keys_failed", 1)
            finally:
                sock.disable_monitor()
                monitor.close(0)
                sock.close(0)

    def _plain_channel(self, until: float) -> None:
        self._spray(self._dealer(self.channel_port), [os.urandom(1024)], until, "plain_channel")

    def _partial(self, until: float) -> None:
        """A hello, then a frame that declares 4,000 bytes and sends 3,999, held open."""
        with self._tcp() as s:
            s.sendall(frame(Hello().encode()) + struct.pack(">I", 4000) + b"x" * 3999)
            self._count("partial", 1)
            self.stop.wait(max(0.0, until - time.monotonic()))

    def _stream(self, header: bytes, until: float, mode: str) -> None:
        """A hello, ``header``, then bytes without end (until the master closes the connection,
        ``until`` + 9 s, or ``endless_cap`` bytes in all)."""
        chunk = b"x" * 65536
        written = 0
        with self._tcp() as s:
            try:
                s.sendall(frame(Hello().encode()) + header)
                while (time.monotonic() < until + 9 and not self.stop.is_set()
                       and self.sent["endless_bytes"] < self.endless_cap):
                    s.sendall(chunk)
                    written += len(chunk)
                    self._count("endless_bytes", len(chunk))
            except OSError:  # the master closed it: the point
                self._count(f"{mode}_closed", 1)
            finally:  # the most one connection got written before it broke (kernel buffers included)
                self.sent["endless_max_conn_bytes"] = max(self.sent["endless_max_conn_bytes"], written)

    def _endless(self, until: float) -> None:  # one frame's declared length, then endless bytes
        self._stream(struct.pack(">I", 4096), until, "endless")

    def _hugelen(self, until: float) -> None:  # a declared length of 4 GiB, then endless bytes
        self._stream(b"\xff\xff\xff\xff", until, "hugelen")


def slowloris(port: int, count: int, data: bytes = b"\x00\x00\x10") -> list[socket.socket]:
    """``count`` connections to the enrolment port, each writing ``data`` (3 bytes of a frame
    header by default) and then nothing; returned open (the caller closes them)."""
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2.0)
        except OSError:
            continue
        try:
            s.sendall(data)
        except OSError:
            pass
        socks.append(s)
    return socks


def closed_count(socks: list[socket.socket], timeout: float) -> int:
    """How many of ``socks`` the peer has closed (EOF or reset) within ``timeout``."""
    import selectors

    sel = selectors.DefaultSelector()
    open_ = set()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        open_.add(s)
    closed = 0
    deadline = time.monotonic() + timeout
    while open_ and time.monotonic() < deadline:
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            conn = cast(socket.socket, key.fileobj)  # registered above: only sockets
            try:
                data = conn.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                closed += 1
                sel.unregister(conn)
                open_.discard(conn)
    sel.close()
    return closed


def fd_count(pid: int) -> int:
    """Open file descriptors of ``pid`` (each TCP connection is one)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def ping_ms(cluster: PvcCluster, count: int, seconds: float | None = None) -> list[float]:
    """``test.ping`` to the three minions, one after the other: ``count`` times, or for ``seconds``."""
    times: list[float] = []
    end = time.monotonic() + seconds if seconds is not None else None
    while (len(times) < count) if end is None else (time.monotonic() < end):
        t0 = time.perf_counter()
        res = cluster.client().cmd(list(MINIONS), "test.ping", timeout=5)
        ms = (time.perf_counter() - t0) * 1000
        times.append(ms if len(res) == len(MINIONS) else 5000.0)
    return times


def enrol_s(cluster: PvcCluster, mid: str, timeout: float = 30.0) -> float:
    """Seconds from starting a new minion process until the master counts it connected."""
    t0 = time.monotonic()
    cluster.add_minion(mid, log_level="warning")
    try:
        cluster.wait_connected([mid], timeout=timeout)
    except TimeoutError:
        return float("inf")
    return time.monotonic() - t0


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(rss_mib(self.pid))
            except (OSError, ProcessLookupError):
                return
            self._stop.wait(0.2)

    def __enter__(self) -> RssSampler:  # noqa: PYI034
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)


def boot(cluster: PvcCluster) -> None:
    cluster.master_options.setdefault("log_level", "warning")
    cluster.start_master()
    for mid in MINIONS:
        cluster.add_minion(mid, log_level="warning")
    cluster.wait_connected(list(MINIONS))


def flood_for(cluster: PvcCluster, sockets: int, modes: tuple[str, ...] = MODES) -> Flood:
    _, public = master_curve(cluster.master_dir)
    return Flood(cluster.ret_port, cluster.channel_port, public, sockets, modes)


def measure(cluster: PvcCluster, seconds: float, sockets: int, modes: tuple[str, ...], pings: int = 20) -> dict[str, Any]:
    pid = cluster.procs["master"].pid
    ping_ms(cluster, 3)  # warm-up
    quiet_rss = rss_mib(pid)
    quiet_ping = ping_ms(cluster, pings)
    quiet_enrol = enrol_s(cluster, "new-quiet")
    flood = flood_for(cluster, sockets, modes)

    def during() -> tuple[list[float], float]:
        time.sleep(min(1.0, seconds / 4))  # let the flood build up first
        enrol = enrol_s(cluster, "new-flood", timeout=max(ENROL_S * 2, seconds))
        return ping_ms(cluster, 1, seconds=max(0.5, seconds - (time.monotonic() - t0) - 0.2)), enrol

    with RssSampler(pid) as rss:
        t0 = time.monotonic()
        flood_ping, flood_enrol = flood.run_for(seconds, during)
    alive = cluster.procs["master"].poll() is None
    time.sleep(3.0)
    after_rss = rss_mib(pid) if alive else None
    peak = max(rss.samples or [quiet_rss])
    return {
        "options": {"seconds": seconds, "sockets": sockets, "modes": list(modes)},
        "master_alive": alive,
        "quiet": {"rss_mib": round(quiet_rss, 1), "ping_ms": summarize(quiet_ping), "enrol_s": round(quiet_enrol, 3)},
        "flood": {"rss_peak_mib": round(peak, 1), "rss_growth_mib": round(peak - quiet_rss, 1),
                  "ping_ms": summarize(flood_ping), "enrol_s": round(flood_enrol, 3),
                  "rss_samples": [round(s, 1) for s in rss.samples]},
        "after": {"rss_mib": None if after_rss is None else round(after_rss, 1)},
        "sent": dict(flood.sent),
    }


def verdicts(m: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(target, quiet, flood, pass) rows."""
    q, f = m["quiet"], m["flood"]
    med = f["ping_ms"].get("median", float("inf"))
    return [
        (f"master RSS growth < {RSS_GROWTH_MIB:g} MiB", f"{q['rss_mib']} MiB", (f"+{f['rss_growth_mib']} MiB "
         f"(peak {f['rss_peak_mib']}, after {m['after']['rss_mib']})"), m["master_alive"] and f["rss_growth_mib"] < RSS_GROWTH_MIB),
        (f"test.ping median < {PING_MEDIAN_MS:g} ms", f"{q['ping_ms'].get('median', 0):.1f} ms (p95 {q['ping_ms'].get('p95', 0):.1f})",
         f"{med:.1f} ms (p95 {f['ping_ms'].get('p95', 0):.1f}, n={f['ping_ms'].get('runs', 0)})", med < PING_MEDIAN_MS),
        (f"new minion enrols < {ENROL_S:g} s", f"{q['enrol_s']:.2f} s", f"{f['enrol_s']:.2f} s", f["enrol_s"] < ENROL_S),
    ]


def markdown(m: dict[str, Any]) -> str:
    o = m["options"]
    lines = [f"Stranger flood: {o['sockets']} sockets, {o['seconds']:g} s, attacks {', '.join(o['modes'])}", "",
             "| target | quiet | during flood | result |", "|---|---|---|---|"]
    for name, quiet, flood, ok in verdicts(m):
        lines.append(f"| {name} | {quiet} | {flood} | {'PASS' if ok else 'FAIL'} |")
    sent = ", ".join(f"{k} {v}" for k, v in sorted(m["sent"].items()))
    lines += ["", f"sent: {sent}"]
    return "\n".join(lines)


def plot(m: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (mem, lat) = plt.subplots(1, 2, figsize=(12, 4.5))
    samples = m["flood"]["rss_samples"]
    mem.plot([i * 0.2 for i in range(len(samples))], samples, color="tab:red", label="during flood")
    mem.axhline(m["quiet"]["rss_mib"], color="tab:blue", linestyle="--", label="quiet baseline")
    mem.axhline(m["quiet"]["rss_mib"] + RSS_GROWTH_MIB, color="grey", linestyle=":", label="limit")
    mem.set_xlabel("s")
    mem.set_ylabel("master RSS (MiB)")
    mem.set_title("Master memory")
    mem.legend(fontsize=8)
    names = ["quiet", "flood"]
    med = [m[n]["ping_ms"].get("median", 0) for n in names]
    p95 = [m[n]["ping_ms"].get("p95", 0) for n in names]
    lat.bar([0, 1], med, color=["tab:blue", "tab:red"], yerr=[[0, 0], [max(0, p - x) for p, x in zip(p95, med)]], capsize=4)
    lat.axhline(PING_MEDIAN_MS, color="grey", linestyle=":")
    lat.set_xticks([0, 1], [f"quiet (enrol {m['quiet']['enrol_s']:.1f}s)", f"flood (enrol {m['flood']['enrol_s']:.1f}s)"])
    lat.set_ylabel("test.ping ms (median, bar to p95)")
    lat.set_title("Connected minions' latency")
    o = m["options"]
    fig.suptitle(f"pvc master under a stranger flood: {o['sockets']} sockets, {o['seconds']:g} s")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _modes(text: str) -> tuple[str, ...]:
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    known = (*MODES, *EXTRA_MODES)
    if not names or any(n not in known for n in names):
        raise argparse.ArgumentTypeError(f"--modes: choose from {', '.join(known)}")
    return names


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench flood", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="length of the flood (default 10)")
    p.add_argument("--sockets", type=int, default=16, help="concurrent stranger sockets (default 16)")
    p.add_argument("--modes", type=_modes, default=MODES, help=f"attacks (default {','.join(MODES)})")
    p.add_argument("--pings", type=int, default=20, help="pings of the quiet baseline (default 20)")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    if not 0.5 <= args.seconds <= 600 or not 1 <= args.sockets <= 256 or not 1 <= args.pings <= 1000:
        p.error("--seconds must be 0.5..600, --sockets 1..256, --pings 1..1000")
    date = datetime.now().strftime("%Y-%m-%dT%H%M%S")
    work = Path(tempfile.mkdtemp(prefix="pvc-flood-"))
    host = host_facts()
    try:
        with PvcCluster(work) as cluster:
            boot(cluster)
            result = measure(cluster, args.seconds, args.sockets, args.modes, args.pings)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    host["loadavg_end"] = list(os.getloadavg())
    result = {"date": date, "host": host, **result,
              "targets": [{"target": n, "quiet": q, "flood": f, "pass": ok} for n, q, f, ok in verdicts(result)]}
    save(args.out_dir, "flood", date, result, plot, markdown(result))
    return 0 if all(t["pass"] for t in result["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
