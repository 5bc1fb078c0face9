"""Judge backends. Importing this package registers the built-in ones."""

import contextlib

from . import offline  # noqa: F401

# The OpenAI-compatible and local backends import optional or heavier libraries lazily.
with contextlib.suppress(ImportError):
    from . import openai_backend  # noqa: F401
with contextlib.suppress(ImportError):
    from . import local  # noqa: F401
