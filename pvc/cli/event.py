"""``pvc event``: watch the master's event bus or put an event on it."""

from __future__ import annotations

import fnmatch
import json
import time

import click

from pvc.cli.options import config_dir


@click.group()
def event() -> None:
    """The event bus: auth, job publish and return, minion start/stop, VM and cluster events."""


@event.command()
@config_dir
@click.argument("tag_glob", default="*")
@click.option("--out", type=click.Choice(["human", "json"]), default="human", show_default=True,
              help="json: one JSON object per line {tag, data, ts}.")
@click.option("-n", "--count", type=click.IntRange(1), default=None, help="Exit after N events.")
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=None, help="Exit after S seconds.")
def listen(config_dir: str, tag_glob: str, out: str, count: int | None, timeout: float | None) -> None:
    """Print events whose tag matches TAG_GLOB (e.g. 'pvc/job/*/ret/*') until interrupted."""
    from pvc.client import listen as subscribe
    from pvc.config import load_master
    from pvc.wire.codec import unpack

    prefix = tag_glob.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
    sock = subscribe(load_master(config_dir), prefix)
    deadline = None if timeout is None else time.monotonic() + timeout
    seen = 0
    try:
        while count is None or seen < count:
            wait = 1000 if deadline is None else int(max(0, deadline - time.monotonic()) * 1000)
            if deadline is not None and wait == 0:
                break
            if not sock.poll(wait):
                continue
            tag_b, payload = sock.recv_multipart()
            msg = unpack(payload)
            if not fnmatch.fnmatchcase(msg["tag"], tag_glob):
                continue
            seen += 1
            if out == "json":
                click.echo(json.dumps(msg, default=str, sort_keys=True), nl=True)
            else:
                click.echo(f"{msg['tag']}\t{json.dumps(msg['data'], default=str, sort_keys=True)}")
    except KeyboardInterrupt:
        pass
    finally:
        sock.close(0)


@event.command()
@config_dir
@click.argument("tag")
@click.argument("data", default="{}")
def fire(config_dir: str, tag: str, data: str) -> None:
    """Fire an event with TAG and DATA (a JSON object), e.g. pvc event fire my/tag '{"a": 1}'."""
    from pvc.client import Client
    from pvc.errors import InvalidArgument

    try:
        body = json.loads(data)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"DATA is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidArgument("DATA must be a JSON object, e.g. '{\"key\": \"value\"}'")
    with Client(config_dir) as client:
        client.fire_event(tag, body)
