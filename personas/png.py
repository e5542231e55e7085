"""PNG text chunks, read and written with the chunk format itself (no image library).

A PNG is an 8-byte signature and chunks: 4-byte big-endian length, 4-byte type, data, and a
CRC-32 of type+data. Character cards live in `tEXt` chunks (`keyword\\0text`); we also read
`zTXt` and `iTXt` because some image tools rewrite long text that way. New chunks go right
before `IEND`, as card writers do.

A card file is someone else's: compressed text is unpacked only for the keywords asked for, a
piece at a time, and refused past `MAX_TEXT_BYTES` (a 1 MB zlib bomb would otherwise become GBs).
"""

from __future__ import annotations

import struct
import zlib

from hearth.errors import UserError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A card with a big lorebook is a few MB of text; a portrait has a handful of chunks (or a few
# thousand small IDATs). Past these a file is not a card.
MAX_TEXT_BYTES = 16 * 1024 * 1024
MAX_CHUNKS = 20_000


class TextTooLarge(ValueError):
    """A compressed text chunk unpacks to more than MAX_TEXT_BYTES."""


def _split_keyword(data: bytes) -> tuple[str, bytes]:
    keyword, _, rest = data.partition(b"\0")
    return keyword.decode("latin-1"), rest


def _text(data: bytes) -> tuple[str, str]:
    keyword, text = _split_keyword(data)
    return keyword, text.decode("latin-1")


def inflate(data: bytes, limit: int = MAX_TEXT_BYTES) -> bytes:
    """zlib data unpacked to at most `limit` bytes (TextTooLarge past it), never more in memory."""
    unpacker = zlib.decompressobj()
    out = unpacker.decompress(data, limit + 1)
    if len(out) > limit or unpacker.unconsumed_tail:
        raise TextTooLarge(limit)
    if not unpacker.eof:
        raise zlib.error("incomplete compressed text")
    return out


def _ztext(data: bytes) -> tuple[str, str]:
    keyword, rest = _split_keyword(data)
    return keyword, inflate(rest[1:]).decode("latin-1")  # rest[0] is the method, always 0


def _itext(data: bytes) -> tuple[str, str]:
    keyword, rest = _split_keyword(data)
    compressed, _method, rest = rest[0], rest[1], rest[2:]
    _language, _, rest = rest.partition(b"\0")
    _translated, _, text = rest.partition(b"\0")
    return keyword, (inflate(text) if compressed else text).decode("utf-8")


# chunk type -> decoder of (keyword, text)
TEXT_CHUNKS = {b"tEXt": _text, b"zTXt": _ztext, b"iTXt": _itext}


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def text_chunk(keyword: str, text: str) -> bytes:
    return chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))


def iter_chunks(blob: bytes, *, source: str) -> list[tuple[bytes, bytes]]:
    """All chunks up to and including IEND, checked for length and CRC."""
    if not blob.startswith(PNG_SIGNATURE):
        raise UserError("is not a PNG file (its first bytes are not the PNG signature)", where=source)
    chunks = []
    offset = len(PNG_SIGNATURE)
    while True:
        if len(chunks) >= MAX_CHUNKS:
            raise UserError(f"has more than {MAX_CHUNKS} PNG chunks, which no card portrait needs; refused", where=source)
        if offset + 12 > len(blob):
            raise UserError("is a truncated PNG (it ends before its IEND chunk); get the file again", where=source)
        (length,) = struct.unpack_from(">I", blob, offset)
        kind = blob[offset + 4 : offset + 8]
        end = offset + 8 + length
        if end + 4 > len(blob):
            raise UserError(f"is a truncated PNG (its {kind!r} chunk runs past the end); get the file again", where=source)
        data = blob[offset + 8 : end]
        (crc,) = struct.unpack_from(">I", blob, end)
        if crc != zlib.crc32(kind + data):
            raise UserError(f"is a damaged PNG (the CRC of its {kind.decode('latin-1')} chunk is wrong); get the file again", where=source)
        chunks.append((kind, data))
        offset = end + 4
        if kind == b"IEND":
            return chunks


def read_text(blob: bytes, *, source: str, keywords: set[str] | None = None) -> dict[str, str]:
    """Keyword -> text of the text chunks named in `keywords` (default: all), the first chunk
    winning when a keyword repeats. Other chunks are never unpacked."""
    texts: dict[str, str] = {}
    for kind, data in iter_chunks(blob, source=source):
        decode = TEXT_CHUNKS.get(kind)
        if decode is None:
            continue
        keyword = _split_keyword(data)[0]
        if keyword in texts or (keywords is not None and keyword not in keywords):
            continue
        try:
            texts[keyword] = decode(data)[1]
        except TextTooLarge:
            raise UserError(
                f"has a compressed '{keyword}' text chunk that unpacks to more than {MAX_TEXT_BYTES // 2**20} MB, "
                "far more than any character card; refused",
                where=source,
            ) from None
        except (zlib.error, UnicodeDecodeError, IndexError):
            raise UserError(f"has a damaged {kind.decode('latin-1')} text chunk; get the file again", where=source) from None
    return texts


def rewrite_text(blob: bytes, *, remove: set[str], add: dict[str, str], source: str) -> bytes:
    """The same PNG without text chunks named in `remove`, with `add` as tEXt before IEND."""
    out = [PNG_SIGNATURE]
    for kind, data in iter_chunks(blob, source=source):
        if kind in TEXT_CHUNKS and _split_keyword(data)[0] in remove:
            continue
        if kind == b"IEND":
            out.extend(text_chunk(keyword, text) for keyword, text in add.items())
        out.append(chunk(kind, data))
    return b"".join(out)
