"""``pvc manpage``: the pvc(1) man page, generated from the click help of every command.

One page holds every command (``pvc``, ``pvc key accept``, ...), each with its usage line, help
text and options, so ``man pvc`` then ``/key accept`` finds anything; the help text is the single
source and the page cannot drift from ``--help``. A small roff writer over click's command tree:
no dependency. The Debian package ships the output as ``/usr/share/man/man1/pvc.1.gz``
(``scripts/build-deb.sh``).

Example::

    pvc manpage --out /tmp/man && man -l /tmp/man/pvc.1
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator

import click

from pvc import __version__

# Sections after the commands: what --help cannot show.
TRAILER = r"""
.SH ENVIRONMENT
.TP
.B PVC_CONFIG_DIR
Directory of the \fImaster\fR and \fIminion\fR config files, as \fB\-c\fR (default \fI/etc/pvc\fR).
.TP
.B NO_COLOR
When set, output has no colours.
.TP
.B _PVC_COMPLETE
Shell completion: \fB_PVC_COMPLETE=bash_source pvc\fR prints the bash completion script
(\fBzsh_source\fR, \fBfish_source\fR for the other shells).
.SH FILES
.TP
.I /etc/pvc/master, /etc/pvc/minion
The daemons' YAML config files (see configuration.md).
.TP
.I /var/lib/pvc
Default \fBroot_dir\fR: keys (pki), run directory, job cache, logs.
.TP
.I /opt/pvc/share/doc/pvc
Architecture, protocol, configuration, modules and operations documentation.
.SH EXIT STATUS
0 on success; 1 when a job ran but a minion failed or did not answer; 2 for usage, configuration
and connection errors (printed as \fBError:\fR \fImessage\fR).
.SH SEE ALSO
.BR systemctl (1),
.BR virsh (1)
"""


def escape(text: str) -> str:
    """Text safe for roff: backslashes doubled, hyphens literal, no line taken for a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in text.splitlines())


def help_paragraphs(text: str) -> Iterator[str]:
    """Roff for a click help text: paragraphs are filled, a ``\\b`` paragraph is kept as written."""
    for para in text.strip().split("\n\n"):
        lines = para.splitlines()
        if lines and lines[0].strip() == "\b":
            yield ".PP\n.nf\n" + escape("\n".join(lines[1:])) + "\n.fi"
        else:
            yield ".PP\n" + escape(" ".join(line.strip() for line in lines))


def walk(command: click.Command, ctx: click.Context) -> Iterator[tuple[click.Command, click.Context]]:
    """The command and every subcommand below it, depth first, in the order ``--help`` lists them."""
    yield command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, click.Context(sub, info_name=name, parent=ctx))


def command_section(command: click.Command, ctx: click.Context) -> str:
    """``.SS pvc key accept [OPTIONS] GLOB``, its help, then one ``.TP`` per option."""
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    out = [f'.SS "{escape(usage)}"']
    out.extend(help_paragraphs(command.help or command.short_help or ""))
    records = [r for r in (p.get_help_record(ctx) for p in command.get_params(ctx)) if r is not None]
    if records:
        out.append(".PP\nOptions:")
    for opts, text in records:
        out.append(f".TP\n\\fB{escape(opts)}\\fR\n{escape(text) if text else ''}".rstrip())
    return "\n".join(out)


def render(root: click.Command, name: str = "pvc", date: datetime.date | None = None) -> str:
    """The whole page for ``root`` and its subcommands."""
    when = date or _build_date()
    ctx = click.Context(root, info_name=name)
    sections = [command_section(cmd, sub_ctx) for cmd, sub_ctx in walk(root, ctx)]
    summary = " ".join((root.help or "").strip().split("\n\n")[0].split()).removeprefix(f"{name}: ")
    header = [
        f'.TH {name.upper()} 1 "{when.isoformat()}" "{name} {__version__}" "pvc manual"',
        ".SH NAME", f"{name} \\- {escape(summary)}",
        ".SH SYNOPSIS", f".B {name}", "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH COMMANDS", "Every command, with its options, as \\fBpvc\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR shows it.",
    ]
    return "\n".join(header + sections) + "\n" + TRAILER.lstrip("\n")


def _build_date() -> datetime.date:
    """``SOURCE_DATE_EPOCH`` when set (reproducible package builds), else today."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC).date()
    return datetime.date.today()


@click.command()
@click.option("--out", "out_dir", default=".", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False, writable=True), help="Directory to write pvc.1 into.")
def manpage(out_dir: str) -> None:
    """Write the pvc(1) man page (every command and option, from this help) to DIR/pvc.1.

    \b
    Example:
      pvc manpage --out /tmp/man && man -l /tmp/man/pvc.1
    """
    from pvc.cli.main import cli

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "pvc.1")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(render(cli))
    click.echo(path)
