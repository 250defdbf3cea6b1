"""The commands people type.  Each area's commands live in a ``cli_<area>.py``
module next to the logic they call; this module only gathers them and turns
pcmspice's own errors into one line on stderr and a non-zero exit status."""
from __future__ import annotations

import importlib
import sys

import click

from pcmspice import __version__
from pcmspice.cli.interrupt import INTERRUPTED as _INTERRUPTED
from pcmspice.cli.interrupt import ON_INTERRUPT as _ON_INTERRUPT
from pcmspice.core import faults, signals
from pcmspice.core.errors import Interrupted, PcmSpiceError

# (module, attribute) of every command; a module is imported only when needed
_COMMANDS = {
    "simulate": ("pcmspice.cli.spice", "simulate"),
    "pdk": ("pcmspice.cli.pdk", "pdk"),
    "characterize": ("pcmspice.cli.characterize", "characterize"),
    "corners": ("pcmspice.cli.characterize", "corners"),
    "train": ("pcmspice.cli.train", "train"),
    "ablate": ("pcmspice.cli.train", "ablate"),
    "power": ("pcmspice.cli.report", "power"),
    "report": ("pcmspice.cli.report", "report"),
    "compare": ("pcmspice.cli.report", "compare"),
    "run": ("pcmspice.cli.report", "run"),
    "explore": ("pcmspice.cli.explore", "explore"),
    "cosim": ("pcmspice.cli.cosim", "cosim"),
    "lut": ("pcmspice.cli.lut", "lut"),
    "cache": ("pcmspice.cli.cache", "cache"),
    "features": ("pcmspice.cli.features", "features"),
    "export": ("pcmspice.cli.export", "export"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(name for name, (mod, _) in _COMMANDS.items() if importlib.util.find_spec(mod))

    def invoke(self, ctx):
        # catch the interrupt before click turns it into Abort (which prints a blank line, and the
        # command's own message would be lost); SIGTERM arrives as a KeyboardInterrupt too (exit 143)
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise Interrupted(ctx.meta.get(_ON_INTERRUPT, _INTERRUPTED), signals.exit_status(exc)) from None

    def get_command(self, ctx, name):
        try:
            return self._get_command(ctx, name)
        except KeyboardInterrupt:
            raise Interrupted(_INTERRUPTED) from None

    def _get_command(self, ctx, name):
        if name not in _COMMANDS:
            return None
        mod, attr = _COMMANDS[name]
        try:
            return getattr(importlib.import_module(mod), attr)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                return None
            raise


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pcmspice")
def cli():
    """SPICE co-simulation of the 2PCM + 3T1C analog training synapse.

    Typical flow: `pcmspice simulate` a testbench, `pcmspice characterize` a
    Monte Carlo population into lookup tables, `pcmspice train` a network on
    them, `pcmspice power` and `pcmspice report`; `pcmspice run` does it all
    on the embedded default.
    """


def _flush_stdout() -> None:
    """Write what is buffered for stdout now, where a full disk or a closed pipe can still be reported."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        _drop_stdout()
        raise


def _drop_stdout() -> None:
    """Send further output to /dev/null (the interpreter's own flush at exit would fail again)."""
    import os
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _from_stdout(exc: OSError) -> bool:
    """Whether ``exc`` came from writing to standard output: raised in :func:`_flush_stdout` or in a
    ``click.echo`` to stdout (the innermost Python frame of its traceback), naming no file."""
    if exc.filename is not None:
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    code, loc = tb.tb_frame.f_code, tb.tb_frame.f_locals
    if code is _flush_stdout.__code__:
        return True
    if code.co_name != "echo" or "click" not in code.co_filename or loc.get("err"):
        return False
    f = loc.get("file")
    try:
        return f is None or f is sys.stdout or f.fileno() == sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False


def main(argv: list[str] | None = None) -> None:
    import os

    from pcmspice.core import locks
    handlers = signals.install()          # SIGTERM stops a command as Ctrl-C does; SIGXFSZ becomes EFBIG
    os.environ["MPLBACKEND"] = "Agg"      # pcmspice only writes figures to files: any other backend is moot
    try:
        try:
            with locks.scope():   # every folder lock the command took is released when it ends
                cli.main(args=argv, prog_name="pcmspice", standalone_mode=False)
        finally:
            signals.restore(handlers)
        _flush_stdout()
    except Interrupted as exc:
        signals.handled()
        click.echo(str(exc), err=True)
        sys.exit(exc.status)
    except BrokenPipeError:               # `pcmspice ... | head`: the reader has all it wanted
        _drop_stdout()
        sys.exit(141)
    except (OSError, MemoryError, UnicodeError) as exc:   # the machine's limits: one line, exit 2
        if isinstance(exc, OSError) and _from_stdout(exc):
            _drop_stdout()
            click.echo(f"error: {faults.describe_stdout(exc)}", err=True)
            sys.exit(2)
        line = faults.describe(exc)
        if line is None:
            raise
        click.echo(f"error: {line}", err=True)
        sys.exit(2)
    except PcmSpiceError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        signals.handled()
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:   # a bad option or argument: one line, like every other user error
        cmd = exc.ctx.command_path if exc.ctx is not None else "pcmspice"
        message = " ".join(exc.format_message().split())
        click.echo(f"error: {message} (see `{cmd} --help`)", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {' '.join(exc.format_message().split())}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        signals.handled()
        click.echo(_INTERRUPTED, err=True)
        sys.exit(signals.exit_status(exc))


if __name__ == "__main__":
    main()
