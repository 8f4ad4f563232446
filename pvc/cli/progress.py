"""Progress of a running job on stderr: an observer of the returns, not part of the engine.

On a terminal one line, rewritten in place: ``[12/40 done, 1 failed]``, cleared when the job
ends so the returns printed on stdout are not mixed with it; elsewhere (``--progress`` to a log)
one such line per return.

Example::

    progress = Progress(total=40, enabled=sys.stderr.isatty())
    for mid, ret in stream:
        progress.update(mid, ret)
    progress.close()
"""

from __future__ import annotations

import click

from pvc.results import Return


class Progress:
    def __init__(self, total: int, enabled: bool, inplace: bool | None = None) -> None:
        import sys

        self.total = total
        self.enabled = enabled
        self.inplace = sys.stderr.isatty() if inplace is None else inplace
        self.done = 0
        self.failed = 0
        self._width = 0

    def line(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        return f"[{self.done}/{self.total} done{failed}]"

    def update(self, mid: str, ret: Return) -> None:
        self.done += 1
        self.failed += 0 if ret.ok else 1
        if self.enabled and not self.inplace:
            click.echo(self.line(), err=True)
        elif self.enabled:
            text = self.line()
            click.echo("\r" + text.ljust(self._width), nl=False, err=True)
            self._width = len(text)

    def close(self) -> None:
        if self.enabled and self._width:
            click.echo("\r" + " " * self._width + "\r", nl=False, err=True)
            self._width = 0
