"""Errors raised for bad input: each names the file and what was expected."""


class InputDataError(Exception):
    """A data set or file is missing or not in the expected layout.

    The message names the path, what was expected there and, for a missing data set, where to obtain it.
    The project's CLI prints it without a traceback.
    """
