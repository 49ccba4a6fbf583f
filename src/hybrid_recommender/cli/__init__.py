"""The ``hybrid-recommender`` command (also ``python -m hybrid_recommender``): a group of subcommands.

``run`` is Kedro's own run, with bad input printed as one ``Error:`` line instead of a traceback and an
interrupted run reported as such. Kedro merges this group over its built-in commands (built-in < plugins <
project cli.py), so ``kedro run`` is the same command.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import signal
import sys
from pathlib import Path

import click


class _WithoutLoggingFileNotice(logging.Filter):
    """Importing Kedro logs which logging file it uses (INFO): noise above `--help`, not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "as logging configuration." not in str(record.msg)


logging.getLogger("kedro.framework.project").addFilter(_WithoutLoggingFileNotice())

from kedro.framework.cli.project import run as kedro_run  # noqa: E402
from kedro.framework.startup import bootstrap_project  # noqa: E402
from kedro.utils import find_kedro_project  # noqa: E402

from hybrid_recommender.cli.recommend import recommend  # noqa: E402 - light: loads models only when run
from hybrid_recommender.cli.serve import serve  # noqa: E402 - light: loads the web stack only when run
from hybrid_recommender.errors import InputDataError  # noqa: E402
from hybrid_recommender.hooks import RunInterrupted, end_active_runs, find_error  # noqa: E402
from hybrid_recommender.paths import PROJECT_ROOT  # noqa: E402

UNWRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC)
DISTRIBUTION = "hybrid-movie-recommender"        # pyproject's [project] name: `--version` reads its metadata


def find_input_error(exc: BaseException | None) -> InputDataError | None:
    """The InputDataError behind ``exc``, if any; an output a pipeline cannot write (a read-only folder, a full
    disk) becomes one too, naming the path, whichever pipeline's dataset hit it."""
    found = find_error(exc, InputDataError)
    if found is not None:
        return found
    os_error = find_error(exc, OSError)
    if os_error is not None and os_error.errno in UNWRITABLE:
        where = os_error.filename or "an output folder"
        return InputDataError(f"{where}: cannot write there ({os_error.strerror}); make the folder writable "
                              f"(or free disk space) and run again")
    return None


def _enter_project() -> None:
    """Run in the Kedro project around the working directory, else in the one this package belongs to.

    Catalog paths (``data/...``) are relative to the working directory, so the run always starts at the
    project root.
    """
    project = find_kedro_project(Path.cwd()) or PROJECT_ROOT
    if not (project / "pyproject.toml").is_file():
        raise click.ClickException(f"{project}: expected the project folder (with pyproject.toml and conf/); "
                                   f"run the command from the project folder")
    if Path.cwd().resolve() != Path(project).resolve():
        os.chdir(project)
    bootstrap_project(project)


def _clean_errors(callback):
    """Bad input -> one ``Error:`` line (exit 1); an interrupt -> one line, exit 128 + signal number."""

    @functools.wraps(callback)
    def wrapper(*args, **kwargs):
        if kwargs.get("conf_source"):
            kwargs["conf_source"] = str(Path(kwargs["conf_source"]).resolve())
        _enter_project()
        try:
            return callback(*args, **kwargs)
        except (Exception, KeyboardInterrupt) as exc:
            interrupt = find_error(exc, RunInterrupted)
            if interrupt is None and isinstance(exc, KeyboardInterrupt):
                interrupt = RunInterrupted(signal.SIGINT)
            if interrupt is not None:
                ended = end_active_runs("KILLED")       # a run the hooks did not reach (e.g. a second Ctrl-C)
                click.echo(f"Error: {interrupt}{' (MLflow run ' + ended[0] + ' KILLED)' if ended else ''}",
                           err=True)
                sys.exit(128 + interrupt.signum)
            input_error = find_input_error(exc)
            if input_error is None:
                raise
            raise click.ClickException(str(input_error)) from None

    return wrapper


@click.group(name="hybrid-recommender", invoke_without_command=True)
@click.version_option(package_name=DISTRIBUTION, prog_name="hybrid-recommender")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """The hybrid movie recommender: run the Kedro pipelines, recommend films for the viewers in an image,
    a video or a camera, and serve the web page."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


run = click.Command(
    name="run",
    params=kedro_run.params,
    callback=_clean_errors(kedro_run.callback),
    help=kedro_run.help,
    short_help=kedro_run.short_help,
)

# --- subcommands: each is a click.Command added to the group here (Kedro then offers it as `kedro NAME` too).
cli.add_command(run)
cli.add_command(recommend)
cli.add_command(serve)


def main(args: list[str] | None = None) -> None:
    """Console-script entry point (``hybrid-recommender``)."""
    cli.main(args=args)
