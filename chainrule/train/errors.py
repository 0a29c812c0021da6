"""The error type for mistakes in what the user asked the command line for."""


class UserError(Exception):
    """A problem with the user's request: printed as one line, exit status 2."""
