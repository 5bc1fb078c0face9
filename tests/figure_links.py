"""Reading the figures of a page that link to the rows behind them (``data-figure-link``)."""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_LINK = re.compile(
    r'<a [^>]*?href="(?P<href>[^"]+)"[^>]*?data-figure-link="(?P<kind>[^"]+)"[^>]*>'
    r"(?P<text>.*?)</a>",
    re.S,
)
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class FigureLink:
    """A figure on a page: what it counts (``kind``), its value and where it leads."""

    kind: str
    value: int
    href: str

    @property
    def path(self) -> str:
        """The address to follow with the test client: the fragment dropped."""
        parts = urlsplit(self.href)
        return f"{parts.path}?{parts.query}" if parts.query else parts.path


def figure_links(html: str) -> list[FigureLink]:
    """Every linked figure of ``html``, in page order; the value is the last number shown."""
    links = []
    for match in _LINK.finditer(html):
        numbers = _NUMBER.findall(re.sub(r"<[^>]+>", " ", match["text"]))
        links.append(
            FigureLink(
                kind=match["kind"], value=int(numbers[-1]), href=htmllib.unescape(match["href"])
            )
        )
    return links
