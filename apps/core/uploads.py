"""An upload handler that stops reading a body once it passes the upload limit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Streams uploads to a temporary file, and stops once they exceed the limit.

    Covers bodies that declare no length; ``UploadSizeLimitMiddleware`` refuses the declared
    ones before a byte is read.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > settings.RUBRICSTUDIO_MAX_UPLOAD_BYTES:
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)
