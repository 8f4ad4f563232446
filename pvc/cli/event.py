"""``pvc event``: watch the master's event bus or put an event on it."""

from __future__ import annotations

import fnmatch
import json
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from pvc.cli.options import config_dir

if TYPE_CHECKING:
    from pvc.config import MasterConfig


# How often an idle ``listen`` checks that the master is still there.
ALIVE_CHECK = 5.0


@click.group(short_help="Listen to or fire events on the master's event bus.")
def event() -> None:
    """The event bus: auth, job publish and return, minion start/stop, VM and cluster events.

    \b
    Examples:
      pvc event listen 'pvc/job/*/ret/*'
      pvc event fire my/tag '{"a": 1}'
    """


@event.command(short_help="Print events whose tag matches a glob.")
@config_dir
@click.argument("tag_glob", default="*")
@click.option("--out", type=click.Choice(["human", "json"]), default="human", show_default=True,
              help="json: one JSON object per line {tag, data, ts}.")
@click.option("-n", "--count", type=click.IntRange(1), default=None, help="Exit after N events.")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=None, help="Exit after S seconds.")
@click.option("--wait", is_flag=True, help="If the master stops, wait for it to come back instead of exiting.")
def listen(config_dir: str, tag_glob: str, out: str, count: int | None, timeout: float | None, wait: bool) -> None:
    """Print events whose tag matches TAG_GLOB (e.g. 'pvc/job/*/ret/*') until interrupted.

    When the master stops, listen exits with an error (exit code 2), or with --wait says
    so once and goes on when the master is back.
    """
    from pvc.cli.connect import check_access
    from pvc.client import listen as subscribe
    from pvc.config import load_master
    from pvc.wire.codec import unpack

    cfg = load_master(config_dir)
    check_access(cfg.sock_dir, os.R_OK | os.X_OK)
    prefix = tag_glob.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
    sock = subscribe(cfg, prefix)
    deadline = None if timeout is None else time.monotonic() + timeout
    alive = _Liveness(_ping(cfg), wait)
    seen = 0
    try:
        while count is None or seen < count:
            poll = 1000 if deadline is None else int(max(0, deadline - time.monotonic()) * 1000)
            if deadline is not None and poll == 0:
                break
            if not sock.poll(min(poll, 1000)):
                alive.check()
                continue
            alive.seen()
            _tag, payload = sock.recv_multipart()
            msg = unpack(payload)
            if not fnmatch.fnmatchcase(msg["tag"], tag_glob):
                continue
            seen += 1
            if out == "json":
                click.echo(json.dumps(msg, default=str, sort_keys=True), nl=True)
            else:
                click.echo(f"{msg['tag']}\t{json.dumps(_human_data(msg['data']), default=str, sort_keys=True)}")
    except KeyboardInterrupt:
        pass
    finally:
        sock.close(0)


def _human_data(data: Any) -> Any:
    """Event data with durations rounded for people (``"duration": "0.04 ms"``)."""
    from pvc.cli.output import format_duration

    if isinstance(data, dict) and isinstance(data.get("duration"), (int, float)):
        return {**data, "duration": format_duration(float(data["duration"]))}
    return data


class _Liveness:
    """Notices, while no event arrives, that the master stopped answering; ``probe`` raises
    :class:`~pvc.errors.MasterUnreachable` when it does not answer."""

    def __init__(self, probe: Callable[[], None], wait: bool, every: float = ALIVE_CHECK) -> None:
        self.probe = probe
        self.wait = wait
        self.every = every
        self.next_check = time.monotonic() + every
        self.lost = False

    def seen(self) -> None:
        self.next_check = time.monotonic() + self.every

    def check(self) -> None:
        from pvc.errors import MasterUnreachable

        if time.monotonic() < self.next_check:
            return
        try:
            self.probe()
        except MasterUnreachable as exc:
            if not self.wait:
                raise MasterUnreachable(f"the master stopped answering ({exc}); "
                                        "use --wait to wait for it") from None
            if not self.lost:
                click.echo(f"Waiting for the master: {exc}", err=True)
            self.lost = True
        else:
            if self.lost:
                click.echo("The master is back.", err=True)
            self.lost = False
        self.seen()


def _ping(cfg: MasterConfig) -> Callable[[], None]:
    def probe() -> None:
        from pvc.client import Client

        with Client(config=cfg, connect_timeout=2.0) as client:
            client.expected("*")  # any cheap request: does the master answer?

    return probe


@event.command(short_help="Put an event with TAG and JSON DATA on the bus.")
@config_dir
@click.argument("tag")
@click.argument("data", default="{}")
def fire(config_dir: str, tag: str, data: str) -> None:
    """Fire an event with TAG and DATA (a JSON object), e.g. pvc event fire my/tag '{"a": 1}'."""
    from pvc.cli.connect import open_client
    from pvc.errors import InvalidArgument

    try:
        body = json.loads(data)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"DATA is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidArgument("DATA must be a JSON object, e.g. '{\"key\": \"value\"}'")
    with open_client(config_dir) as client:
        client.fire_event(tag, body)
