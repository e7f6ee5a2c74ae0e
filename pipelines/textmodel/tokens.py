"""Text to tokens for the text model, for a whole batch at once.

Training and scoring must see exactly the same tokens, so both call
:func:`tokenise`: the texts go into one polars Series and every step
(lower-casing, folding accents, replacing links, handles and digits, cutting
into words) is a vectorised string kernel, with no Python loop per text.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

#: Only the head of a very long text is read: the verdict is in the first
#: lines, and a 64 KiB post must not cost a thousand short ones.
MAX_CHARS = 4096

#: Longer tokens are cut to this many characters (a pasted hash or a
#: 200-letter "aaaa…" says no more than its head).
MAX_TOKEN = 24

#: Character n-gram sizes of a word padded with a space on each side.
NGRAM_SIZES = (3, 4, 5)

_ACCENTED = list("áàâäéèêëíìîïóòôöúùûüç’‘")
_PLAIN = list("aaaaeeeeiiiioooouuuuc''")

#: A word, a "!" or "?", or one emoji; links and handles were replaced by
#: the words ``httpurl`` and ``@user`` before.
_TOKEN = r"@?[^\W_]+|[!?]|[\x{2600}-\x{27bf}\x{1f300}-\x{1faff}]"


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
        .str.replace_all(r"\d+", "0")
        .str.replace_all("n't", " not", literal=True)
    )


#: The expressions of :func:`token_query` and :func:`char_ngram_query`, built
#: once: building them costs more than running them on a small batch.
_ROW = pl.int_range(pl.len(), dtype=pl.UInt32).alias("row")
_TOKENS = normalised(pl.col("text")).str.extract_all(_TOKEN).alias("tok")
_CUT = pl.col("tok").str.slice(0, MAX_TOKEN)
_PADDED = (pl.lit(" ") + pl.col("tok") + pl.lit(" ")).alias("p")
_SIZE = pl.col("p").str.len_chars().alias("size")
_OFFSETS = pl.int_ranges(0, pl.col("size") - 2).alias("i")
_GRAMS = [
    (pl.col("i") + n <= pl.col("size"), pl.col("p").str.slice(pl.col("i"), n).alias("gram"))
    for n in NGRAM_SIZES
]


def token_query(texts: Sequence[str | None]) -> pl.LazyFrame:
    """One row per token, in text order: ``row`` (the text's position,
    UInt32) and ``tok``."""
    frame = pl.DataFrame({"text": pl.Series(texts, dtype=pl.String)})
    return frame.lazy().select(_ROW, _TOKENS).explode("tok").drop_nulls("tok").with_columns(_CUT)


def tokenise(texts: Sequence[str | None]) -> pl.DataFrame:
    """:func:`token_query`, collected."""
    return token_query(texts).collect()


def char_ngrams(token: str) -> list[str]:
    """The character n-grams of one token (training and tests; scoring
    computes the same in polars, see :func:`char_ngram_frame`)."""
    padded = f" {token[:MAX_TOKEN]} "
    return [padded[i : i + n] for n in NGRAM_SIZES for i in range(len(padded) - n + 1)]


def char_ngram_query(words: pl.LazyFrame) -> pl.LazyFrame:
    """``row`` and ``gram`` for every character n-gram of every ``tok`` of
    ``words`` (``row``, ``tok``)."""
    base = (
        words.select("row", _PADDED)
        .with_columns(_SIZE)
        .with_columns(_OFFSETS)
        .explode("i")
        .drop_nulls("i")
    )
    return pl.concat([base.filter(keep).select("row", gram) for keep, gram in _GRAMS])
