"""The one exception type for user mistakes (config, flags, data files).

Tools catch it and print its message as a single line instead of a traceback,
so its message must name the file / config key / flag and say how to fix it.
"""


class UserError(Exception):
    """A mistake in what the user supplied; the message says what and how to fix it."""
