"""How a CSV file separates its columns, told from its header line, in one place: the submission
reader, the `spc` command and the request registers all ask here."""

from __future__ import annotations

import re

#: The separators a CSV saved by Excel, LibreOffice or a script may use.
DELIMITERS = (",", ";", "\t", "|")


def sniff_delimiter(line: str) -> str:
    """The delimiter of a header line: whichever of , ; tab | occurs most outside quotes."""
    outside = re.sub(r'"[^"]*"', "", line)
    counts = {d: outside.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def first_line(text: str) -> str:
    """The first line of `text` that holds anything but spaces (the header of most CSVs)."""
    return next((line for line in text.splitlines() if line.strip()), "")
