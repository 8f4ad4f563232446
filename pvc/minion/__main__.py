"""The lean process image of the minion daemon: ``python -m pvc.minion DIR LOG_LEVEL SWARM``.

``pvc minion`` parses and validates its command line with click, then *execs* into this
module (same PID, so init systems see no difference). The long-running daemon therefore does
not carry click and the modules it pulls in (about 4 MiB of the ~30 MiB a minion uses) — an
idle minion on every node is where memory matters most. Not meant to be run by hand.
"""

from __future__ import annotations

import signal
import sys


def main(argv: list[str]) -> int:
    from pvc import logsetup
    from pvc.config import load_minion
    from pvc.errors import PvcError
    from pvc.minion.daemon import run_minion

    config_dir, log_level, swarm = argv[0], argv[1], int(argv[2])

    def install_signals(stop):  # type: ignore[no-untyped-def]
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop())

    try:
        cfg = load_minion(config_dir)
        logsetup.setup(log_level or cfg.log_level, cfg.log_file)
        run_minion(cfg, swarm, install_signals)
    except PvcError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
