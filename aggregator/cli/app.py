"""The ``aggregator`` command group: settings flags, logging, one-line errors and exit codes.

Exit codes: 0 success, 1 error (a clear one-line message on stderr), 2 usage error,
130 interrupted.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from aggregator import __version__
from aggregator.cli import harvest, library, reports, trials
from aggregator.cli.context import AppContext, settings_options
from aggregator.cli.output import safe_message
from aggregator.errors import AggregatorError

EPILOG = """\b
Exit codes: 0 ok, 1 error, 2 usage error, 130 interrupted.
Settings come from flags, then environment (NCBI_EUTILS_URL, NCBI_API_KEY, NCBI_EMAIL,
NCBI_TOOL, CTGOV_API_URL, AGGREGATOR_DB, AGGREGATOR_QUERIES, AGGREGATOR_OUT), then defaults.
"""


# click >= 8.2 raises this for a group called without a command (its help, as a usage error).
NO_ARGS_IS_HELP: type[click.UsageError] = getattr(
    click.exceptions, "NoArgsIsHelpError", type("_NeverRaised", (click.UsageError,), {})
)


class AggregatorGroup(click.Group):
    """Turns AggregatorError into one line on stderr and exit code 1 (never a traceback), and
    usage errors into one line and exit code 2 (click would print a usage block)."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except NO_ARGS_IS_HELP as exc:  # bare `aggregator`: its help, not an error
            click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
            sys.exit(0)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            click.echo(safe_message(f"error: {exc.format_message()}{hint}"), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(safe_message(f"error: {exc.format_message()}"), err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("interrupted", err=True)
            sys.exit(130)
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AggregatorError as exc:
            click.echo(safe_message(f"error: {exc}"), err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


@click.group(
    cls=AggregatorGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="aggregator")
@settings_options
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, verbose: int, **overrides: Any) -> None:
    """Track the PubMed evidence on magnesium and migraine, by magnesium form and study type,
    and the trials registered on ClinicalTrials.gov.

    \b
    Quick start:
      aggregator run --demo        # the whole job on a synthetic corpus, no network
      aggregator run               # harvest PubMed, tag, store, write this week's digest
      aggregator search "magnesium glycinate migraine"
    """
    app = ctx.ensure_object(AppContext)
    app.update(overrides)
    app.verbosity = verbose
    app.configure_logging()
    ctx.call_on_close(app.close)


for _module in (harvest, library, reports, trials):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="aggregator", windows_expand_args=False)


if __name__ == "__main__":  # pragma: no cover
    main()
