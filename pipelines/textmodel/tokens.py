"""Text to tokens for the text model, for a whole batch at once.

Training and scoring must see exactly the same tokens, so both call
:func:`tokenise`. Two vectorised steps, no Python loop per text or token:

1. polars normalises the texts (lower case, accents folded, links, handles
   and digits replaced: string kernels over the whole Series);
2. numpy cuts the normalised UTF-8 bytes (the Arrow buffers, not Python
   strings) into tokens: each character is a word character (a letter or a
   digit), a token by itself ("!", "?", an emoji) or a separator, and a
   token is a run of word characters or one such character. The tokens'
   bytes are gathered into one Arrow string array, which polars takes over.

A regex ``extract_all`` did the second step before; it took a third of the
scoring time.

Character n-grams (the features of words the model has no row for) are
taken over a word's UTF-8 bytes padded with a space on each side; an n-gram
of at most five bytes is its own 64-bit key (its bytes and its length), so
n-grams need neither strings nor a hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TypeAlias

import numpy as np
import polars as pl
import pyarrow as pa

#: Only the head of a very long text is read: the verdict is in the first
#: lines, and a 64 KiB post must not cost a thousand short ones.
MAX_CHARS = 4096

#: Longer tokens are cut to this many characters (a pasted hash or a
#: 200-letter "aaaa…" says no more than its head).
MAX_TOKEN = 24

#: Byte n-gram sizes of a word padded with a space on each side.
NGRAM_SIZES = (3, 4, 5)

_ACCENTED = list("áàâäéèêëíìîïóòôöúùûüç’‘")
_PLAIN = list("aaaaeeeeiiiioooouuuuc''")

#: What a texts (or language tags) argument may be: a sequence of strings
#: (None where missing), or the Arrow or polars column that holds them.
Texts: TypeAlias = Sequence[str | None] | pa.Array | pa.ChunkedArray | pl.Series


def as_series(values: Texts) -> pl.Series:
    """The texts (or language tags) as one polars String Series: Arrow arrays
    are taken over by ``pl.from_arrow`` (no Python object per string), lists
    are converted once."""
    if isinstance(values, pl.Series):
        series = values
    elif isinstance(values, pa.Array | pa.ChunkedArray):
        converted = pl.from_arrow(values)
        assert isinstance(converted, pl.Series)
        series = converted
    else:
        series = pl.Series(values, dtype=pl.String)
    if series.dtype != pl.String:
        series = series.cast(pl.String)
    return series


def normalised(texts: pl.Expr) -> pl.Expr:
    """The text as the model reads it: its head, lower case, accents folded,
    links, handles and numbers replaced by placeholders."""
    return (
        texts.fill_null("")
        .str.slice(0, MAX_CHARS)
        .str.to_lowercase()
        .str.replace_many(_ACCENTED, _PLAIN)
        .str.replace_all(r"https?://\S+|www\.\S+", " httpurl ")
        .str.replace_all(r"@\w+", " @user ")
        .str.replace_all(r"[0-9]+", "0")
        .str.replace_all("n't", " not", literal=True)
    )


#: Built once: building the expression costs more than running it on a
#: small batch.
_NORMALISED = normalised(pl.col("text"))

_SEPARATOR, _WORD, _SINGLE = 0, 1, 2
#: Code points from here on are separators (none of them is a letter we read).
_KNOWN_CODE_POINTS = 0x30000


@cache
def _char_kinds() -> np.ndarray:
    """Kind of every code point below :data:`_KNOWN_CODE_POINTS`: a word
    character (``str.isalnum``), a token by itself ("!", "?" and the emoji
    blocks U+2600-27BF, U+1F300-1FAFF) or a separator. Built once (0.2 MB,
    about 0.1 s)."""
    kinds = np.zeros(_KNOWN_CODE_POINTS, dtype=np.uint8)
    kinds[[i for i in range(_KNOWN_CODE_POINTS) if chr(i).isalnum()]] = _WORD
    kinds[[ord("!"), ord("?")]] = _SINGLE
    kinds[0x2600:0x27C0] = _SINGLE
    kinds[0x1F300:0x1FB00] = _SINGLE
    return kinds


def _buffers(strings: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (len + 1, from 0) and UTF-8 bytes of a String Series without
    nulls, read from its Arrow buffers."""
    array = strings.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    _, offsets_buffer, data_buffer = array.buffers()
    if offsets_buffer is None:
        return np.zeros(len(array) + 1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)
    offsets = offsets[array.offset : array.offset + len(array) + 1]
    if data_buffer is None:
        data = np.zeros(0, dtype=np.uint8)
    else:
        data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return offsets - offsets[0], data


def _byte_kinds(data: np.ndarray) -> np.ndarray:
    """The kind of the character each byte belongs to (valid UTF-8): ASCII
    bytes from the table's first 128 entries, the bytes of a wider character
    from its code point."""
    kinds = _char_kinds()
    kind = kinds[:128][np.minimum(data, 127)]
    wide = np.flatnonzero(data >= 0xC0)  # first byte of a character above U+007F
    if wide.size:
        first = data[wide].astype(np.int64)
        last = len(data) - 1

        def tail(k: int) -> np.ndarray:
            return data[np.minimum(wide + k, last)].astype(np.int64) & 0x3F

        two = ((first & 0x1F) << 6) | tail(1)
        three = ((first & 0x0F) << 12) | (tail(1) << 6) | tail(2)
        four = ((first & 0x07) << 18) | (tail(1) << 12) | (tail(2) << 6) | tail(3)
        points = np.where(first < 0xE0, two, np.where(first < 0xF0, three, four))
        wide_kind = kinds[np.minimum(points, _KNOWN_CODE_POINTS - 1)]
        width = 2 + (first >= 0xE0) + (first >= 0xF0)
        for k in range(4):
            spans = width > k
            kind[wide[spans] + k] = wide_kind[spans]
    return kind


def tokenise(texts: Texts) -> pl.DataFrame:
    """One row per token, in text order: ``row`` (the text's position,
    UInt32) and ``tok`` (String)."""
    frame = pl.DataFrame({"text": as_series(texts)}).select(_NORMALISED)
    offsets, data = _buffers(frame.to_series())
    return _cut(offsets, data)


def _cut(offsets: np.ndarray, data: np.ndarray) -> pl.DataFrame:
    """The tokens of the texts whose UTF-8 bytes are ``data[offsets[i]:offsets[i+1]]``."""
    if not data.size:
        return pl.DataFrame(
            {"row": pl.Series([], dtype=pl.UInt32), "tok": pl.Series([], dtype=pl.String)}
        )
    kind = _byte_kinds(data)
    size = len(data)
    begins_text = np.zeros(size + 1, dtype=bool)
    begins_text[offsets[:-1]] = True
    word = kind == _WORD
    # "@" belongs to the word it precedes ("@user"; other handles were replaced).
    at_sign = np.flatnonzero(data[:-1] == ord("@"))
    word[at_sign[word[at_sign + 1] & ~begins_text[at_sign + 1]]] = True
    single = kind == _SINGLE
    lead = (data & 0xC0) != 0x80  # the first byte of a character
    before_word = np.concatenate(([False], word[:-1])) & ~begins_text[:size]
    after_word = np.append(word[1:], False) & ~begins_text[1:]
    begin = np.flatnonzero((word & ~before_word) | (single & lead))
    end = np.flatnonzero((word & ~after_word) | (single & np.append(lead[1:], True))) + 1
    long = np.flatnonzero(end - begin > MAX_TOKEN)
    if long.size:  # cut to MAX_TOKEN characters: end at the first byte of the next one
        window = np.minimum(begin[long, None] + np.arange(4 * MAX_TOKEN + 4), size - 1)
        seen = np.cumsum(lead[window], axis=1) > MAX_TOKEN
        cut = begin[long] + np.argmax(seen, axis=1)
        end[long] = np.where(seen.any(axis=1), np.minimum(cut, end[long]), end[long])

    lengths = end - begin
    token_offsets = np.zeros(len(begin) + 1, dtype=np.int64)
    np.cumsum(lengths, out=token_offsets[1:])
    gather = np.repeat(begin - token_offsets[:-1], lengths) + np.arange(token_offsets[-1])
    tokens = pa.LargeStringArray.from_buffers(
        len(begin), pa.py_buffer(token_offsets), pa.py_buffer(data[gather])
    )
    rows = np.searchsorted(offsets, begin, side="right") - 1
    return pl.DataFrame({"row": pl.Series(rows.astype(np.uint32)), "tok": pl.from_arrow(tokens)})


def ngram_key(gram: bytes) -> int:
    """The 64-bit key of one byte n-gram (at most five bytes): its bytes,
    little-endian, and its length above them."""
    return int.from_bytes(gram, "little") | len(gram) << 40


def char_ngrams(token: str) -> list[int]:
    """The n-gram keys of one token (training and tests; scoring computes the
    same for a whole Series, see :func:`ngram_keys`)."""
    padded = b" " + token[:MAX_TOKEN].encode("utf-8") + b" "
    return [ngram_key(padded[i : i + n]) for n in NGRAM_SIZES for i in range(len(padded) - n + 1)]


def ngram_keys(tokens: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """For every n-gram of every token of ``tokens``: the token's position
    and the n-gram's key (:func:`ngram_key`), from the tokens' bytes."""
    offsets, data = _buffers(tokens)
    lengths = np.diff(offsets) + 2
    padded_at = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=padded_at[1:])
    padded = np.full(padded_at[-1] + max(NGRAM_SIZES), 0x20, dtype=np.uint64)
    inner = lengths - 2
    padded[np.repeat(padded_at[:-1] + 1 - offsets[:-1], inner) + np.arange(len(data))] = data
    which, keys = [], []
    for n in NGRAM_SIZES:
        count = np.maximum(lengths - n + 1, 0)
        begun = np.cumsum(count) - count
        at = np.repeat(padded_at[:-1] - begun, count) + np.arange(count.sum())
        key = np.full(len(at), n << 40, dtype=np.uint64)
        for k in range(n):
            key |= padded[at + k] << np.uint64(8 * k)
        which.append(np.repeat(np.arange(len(lengths)), count))
        keys.append(key)
    return np.concatenate(which), np.concatenate(keys)
