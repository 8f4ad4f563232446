"""The lean process image of the minion daemon: ``python -m pvc.minion DIR LOG_LEVEL SWARM FD``.

``pvc minion`` parses and validates its command line and config file with click and YAML,
then *execs* into this module (same PID, so init systems see no difference), handing over the
parsed options as JSON in the inherited file descriptor FD. The long-running daemon therefore
carries neither click nor YAML (about 5 MiB of what a minion would otherwise use): an idle
minion runs on every node, so that is where memory matters most. Not meant to be run by hand.
"""

from __future__ import annotations

import signal
import sys


def main(argv: list[str]) -> int:
    import json

    from pvc import logsetup
    from pvc.config import minion_from_mapping
    from pvc.errors import PvcError
    from pvc.minion.daemon import run_minion

    config_dir, log_level, swarm, fd = argv[0], argv[1], int(argv[2]), int(argv[3])
    with open(fd, "rb") as handover:
        data = json.load(handover)

    def install_signals(stop):  # type: ignore[no-untyped-def]
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop())

    try:
        cfg = minion_from_mapping(data, config_dir)
        logsetup.setup(log_level or cfg.log_level, cfg.log_file)
        run_minion(cfg, swarm, install_signals)
    except PvcError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
