"""Reading users' text files: UTF-8 (with or without a byte-order mark), any line ending.

Every reader of a line-based or JSON format goes through :func:`read_text`, so a file in another
encoding is one error naming the file and the line of the first byte that is not UTF-8, and a
BOM or CRLF line endings (a file saved on Windows) read like any other file.
"""

from __future__ import annotations

from pathlib import Path

from socio_re.errors import DataError


def decode_utf8(raw: bytes, where: str) -> str:
    """``raw`` as text (a leading BOM dropped); a DataError ``where:LINE: ...`` when it is not
    UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(
            f"{where}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {column}); "
            "save the file as UTF-8"
        ) from None


def read_text(path: str | Path, what: str = "file") -> str:
    """The text of ``path`` (UTF-8, BOM dropped); unreadable or not UTF-8: one DataError that
    names the file (``what`` says which kind, e.g. "PubTator file")."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"cannot read {what} {path}: {e.strerror or e}") from e
    return decode_utf8(raw, str(path))


def text_lines(text: str) -> list[str]:
    r"""``text`` cut at line ends (``\n``, ``\r\n`` or ``\r``) and nowhere else.

    ``str.splitlines`` would also cut at U+2028, U+0085, form feeds and other characters that
    are legal inside a title, an abstract or a JSON string."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
