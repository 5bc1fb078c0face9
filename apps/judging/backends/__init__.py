"""Judge backends. Importing this package registers the built-in ones.

``openai`` needs the openai SDK (a runtime dependency); ``local`` imports torch and transformers
(``requirements-gpu.txt``) only when a model is loaded, so it registers everywhere and reports
the missing dependency when used.
"""

import contextlib

from . import local, offline  # noqa: F401

with contextlib.suppress(ImportError):
    from . import openai_backend  # noqa: F401
