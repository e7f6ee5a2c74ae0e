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
_TOKEN = r"@user|[^\W_]+|[!?]|[\x{2600}-\x{27bf}\x{1f300}-\x{1faff}]"


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


def tokenise(texts: Sequence[str | None]) -> pl.DataFrame:
    """One row per token, in text order: ``row`` (the text's position,
    UInt32) and ``tok``."""
    frame = pl.DataFrame({"text": pl.Series(texts, dtype=pl.String)})
    return (
        frame.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"),
            normalised(pl.col("text")).str.extract_all(_TOKEN).alias("tok"),
        )
        .explode("tok")
        .drop_nulls("tok")
        .with_columns(pl.col("tok").str.slice(0, MAX_TOKEN))
    )


def char_ngrams(token: str) -> list[str]:
    """The character n-grams of one token (training and tests; scoring
    computes the same in polars, see :func:`char_ngram_frame`)."""
    padded = f" {token[:MAX_TOKEN]} "
    return [padded[i : i + n] for n in NGRAM_SIZES for i in range(len(padded) - n + 1)]


def char_ngram_frame(words: pl.DataFrame) -> pl.DataFrame:
    """``row`` and ``gram`` for every character n-gram of every ``tok`` of
    ``words`` (a frame of ``row``, ``tok``)."""
    padded = pl.lit(" ") + pl.col("tok") + pl.lit(" ")
    base = (
        words.select("row", padded.alias("p"))
        .with_columns(pl.col("p").str.len_chars().alias("size"))
        .with_columns(pl.int_ranges(0, pl.col("size") - 2).alias("i"))
        .explode("i")
        .drop_nulls("i")
    )
    parts = [
        base.filter(pl.col("i") + n <= pl.col("size")).select(
            "row", pl.col("p").str.slice(pl.col("i"), n).alias("gram")
        )
        for n in NGRAM_SIZES
    ]
    return pl.concat(parts)
