"""Project CLI: Kedro's own ``run``, with bad-input errors printed as one clear message, not a traceback.

Kedro merges this group over its built-in commands (built-in < plugins < project cli.py).
"""

from __future__ import annotations

import functools

import click
from kedro.framework.cli.project import run as kedro_run

from hybrid_recommender.errors import InputDataError


def find_input_error(exc: BaseException | None) -> InputDataError | None:
    """The InputDataError behind ``exc`` (Kedro wraps dataset load errors), if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, InputDataError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _without_traceback_for_bad_input(callback):
    @functools.wraps(callback)
    def wrapper(*args, **kwargs):
        try:
            return callback(*args, **kwargs)
        except Exception as exc:
            input_error = find_input_error(exc)
            if input_error is None:
                raise
            raise click.ClickException(str(input_error)) from None

    return wrapper


@click.group(name="hybrid-movie-recommender")
def cli() -> None:
    """Commands of the hybrid-movie-recommender project."""


cli.add_command(
    click.Command(
        name="run",
        params=kedro_run.params,
        callback=_without_traceback_for_bad_input(kedro_run.callback),
        help=kedro_run.help,
        short_help=kedro_run.short_help,
    )
)


# --- issue 10 (inference): the `recommend` command; kept apart so the CLI rewrite can register it its own way.
from hybrid_recommender.inference.cli import recommend  # noqa: E402

cli.add_command(recommend)
