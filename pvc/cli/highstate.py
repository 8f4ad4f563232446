"""Salt's highstate output: one block per state, then a coloured summary per minion.

Green: in the wanted state; cyan: changed; yellow: would change (test mode); red: failed.
``click.echo`` drops the colours when stdout is not a terminal or ``NO_COLOR`` is set.

Example (what ``pvc call state.apply motd`` prints)::

    ----------
              ID: /etc/motd
        Function: file.managed
          Result: True
         Comment: File /etc/motd updated
         Started: 10:00:00.123456
        Duration: 1.2 ms
         Changes:
                  diff: New file

    Summary for local
    ------------
    Succeeded: 1 (changed=1)
    Failed:    0
    ------------
    Total states run:     1
    Total run time:   1.200 ms
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from pvc.cli.output import nested
from pvc.results import Return

LABEL = 12


def is_state_data(data: Any) -> bool:
    """Whether ``data`` is a Salt-shaped state run (``{tag: {result, comment, ...}}``)."""
    return isinstance(data, Mapping) and bool(data) and all(
        isinstance(k, str) and "_|-" in k and isinstance(v, Mapping) and "result" in v for k, v in data.items())


def _colour(entry: Mapping[str, Any]) -> str:
    if entry.get("result") is False:
        return "red"
    if entry.get("result") is None:
        return "yellow"
    return "cyan" if entry.get("changes") else "green"


def _field(name: str, value: Any, colour: str) -> list[str]:
    lines = str(value).splitlines() or [""]
    head = click.style(f"{name:>{LABEL}}: {lines[0]}", fg=colour)
    return [head] + [click.style(" " * (LABEL + 2) + line, fg=colour) for line in lines[1:]]


def _state(tag: str, entry: Mapping[str, Any]) -> list[str]:
    state, sid, name, fun = (tag.split("_|-") + ["", "", "", ""])[:4]
    colour = _colour(entry)
    lines = [click.style("----------", fg=colour)]
    lines += _field("ID", sid, colour)
    lines += _field("Function", f"{state}.{fun}", colour)
    if name != sid:
        lines += _field("Name", name, colour)
    lines += _field("Result", entry.get("result"), colour)
    lines += _field("Comment", entry.get("comment", ""), colour)
    lines += _field("Started", entry.get("start_time", ""), colour)
    lines += _field("Duration", f"{entry.get('duration', 0)} ms", colour)
    changes = entry.get("changes") or {}
    lines.append(click.style(f"{'Changes':>{LABEL}}:", fg=colour))
    if changes:
        lines += [" " * (LABEL + 2) + click.style(line, fg="green") for line in nested(dict(changes))]
    for warning in entry.get("warnings") or ():
        lines += _field("Warning", warning, "yellow")
    return lines


def highstate_text(mid: str, data: Mapping[str, Any]) -> str:
    """The whole highstate output of one minion: states in run order, then the summary."""
    entries = sorted(data.items(), key=lambda kv: kv[1].get("__run_num__", 0))
    lines = [click.style(f"{mid}:", fg="red" if any(e.get("result") is False for _, e in entries) else "green")]
    for tag, entry in entries:
        lines += _state(tag, entry)
    ok = [e for _, e in entries if e.get("result") is not False]
    changed = sum(1 for e in ok if e.get("changes"))
    failed = len(entries) - len(ok)
    total_ms = sum(float(e.get("duration") or 0) for _, e in entries)
    lines += ["", f"Summary for {mid}", "-" * 12,
              click.style(f"Succeeded: {len(ok)}", fg="green") + (click.style(f" (changed={changed})", fg="cyan")
                                                                  if changed else ""),
              click.style(f"Failed:    {failed}", fg="red" if failed else "cyan"), "-" * 12,
              f"Total states run:     {len(entries)}", f"Total run time: {total_ms:>9.3f} ms"]
    return "\n".join(lines)


def print_state_returns(returns: Mapping[str, Return]) -> bool:
    """Print each minion's run (or its error), sorted by id; True if every state succeeded."""
    from pvc.cli.output import human_return
    from pvc.states.saltshape import failed

    ok = True
    for mid in sorted(returns):
        ret = returns[mid]
        if ret.ok and is_state_data(ret.data):
            click.echo(highstate_text(mid, ret.data))
            ok = ok and not failed(ret.data)
        else:
            click.echo(human_return(mid, ret))
            ok = ok and ret.ok
    return ok
