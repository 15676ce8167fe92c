"""Reading the dashboard's pages as a reader sees them: the text of an element
by id, a table's rows as cell texts, the links inside an element (stdlib only)."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"input", "br", "img", "meta", "link", "hr", "line", "rect"}


class _Element(HTMLParser):
    """Collects the text, table cells and links inside the element with id `target`."""

    def __init__(self, target: str):
        super().__init__(convert_charrefs=True)
        self.target, self.depth = target, 0
        self.text: list[str] = []
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.depth == 0 and attrs.get("id") == self.target:
            self.depth = 1 if tag not in VOID else 0
            if tag == "a" and "href" in attrs:
                self.links.append(attrs["href"])
            return
        if self.depth:
            self.depth += tag not in VOID
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self._cell = []
            elif tag == "a" and "href" in attrs:
                self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if not self.depth or tag in VOID:
            return
        self.depth -= 1
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)
            if self._cell is not None:
                self._cell.append(data)


def _parse(html: str, element_id: str) -> _Element:
    parser = _Element(element_id)
    parser.feed(html)
    assert parser.text or parser.rows or parser.links, f"no element #{element_id}"
    return parser


def text(html: str, element_id: str) -> str:
    return " ".join("".join(_parse(html, element_id).text).split())


def rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows (the header row left out) as cell texts."""
    return [row for row in _parse(html, table_id).rows[1:] if row]


def links(html: str, element_id: str) -> list[str]:
    return _parse(html, element_id).links
