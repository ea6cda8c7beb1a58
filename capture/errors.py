"""Errors raised by capture/ for media the user handed us or devices we could not open."""


class MediaError(ValueError):
    """The input media or capture device cannot be used.

    The message is the user-facing text: it names the file or device and, where there
    is one, the fix (for example ``use --source synthetic``). It derives from
    ``ValueError`` so that callers which only know "bad input" can still catch it.
    """
