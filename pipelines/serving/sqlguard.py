"""Read-only SQL for users: what may run against the warehouse, and why not.

People type ad-hoc SQL in three places (`dorpspomp sql`, the dashboard's SQL
page, the worker's `/query` endpoint). Two layers keep that SQL read-only:

1. `check_read_only` reads the statement with a small tokenizer that follows
   ClickHouse's own lexer (strings with both escape styles, quoted names,
   nested comments, heredocs) and refuses, with a sentence a user can act on,
   anything that could change data or settings or reach past the warehouse:
   files, URLs, programs, other servers, access configuration, other people's
   queries. This layer is not optional: with `readonly=1` the embedded engine
   (chDB, ClickHouse 26.9) still runs the scalar `file()` function, writes
   `SELECT ... INTO OUTFILE`, and reads file paths used as table names in the
   `default` database.
2. `READ_ONLY_SETTINGS` / `read_only_settings()`: the engine's own belt,
   `readonly=1` with limits on time, result size and memory, for whatever the
   first layer does not know about.

`read_only_statement` joins both: the checked statement with the limits as a
trailing SETTINGS clause, so they hold for that statement alone. (Passing them
as per-call settings to a chDB client applies them with SET; `readonly=1` then
forbids setting them back, and they stay on the session.)
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from schemas.tables import QUERYABLE_TABLES

__all__ = [
    "ALLOWED_SYSTEM_TABLES",
    "ALLOWED_TABLE_FUNCTIONS",
    "READ_ONLY_SETTINGS",
    "REFUSED_FUNCTIONS",
    "REFUSED_STATEMENTS",
    "ForbiddenQuery",
    "Token",
    "check_read_only",
    "read_only_settings",
    "read_only_statement",
    "settings_clause",
    "tokenize",
]

ALLOWED = (
    "ad-hoc SQL only reads the warehouse tables ("
    + ", ".join(QUERYABLE_TABLES)
    + ") with SELECT, WITH … SELECT, SHOW, DESCRIBE, EXPLAIN SELECT or EXISTS"
)


class ForbiddenQuery(ValueError):
    """A statement that ad-hoc SQL may not run; the message says what and why.

    `reason` names what was refused and why ("the table function file() reads
    files on the server"); the message adds what is allowed. A message that
    already starts with "refused:" (one relayed from the worker) is kept as is.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        message = reason if reason.startswith("refused:") else f"refused: {reason}; {ALLOWED}"
        super().__init__(message)


# -- the engine's belt ---------------------------------------------------------

DEFAULT_TIME_LIMIT_S = 30.0
DEFAULT_MAX_ROWS = 1_000_000
MAX_RESULT_BYTES = 1 << 30  # 1 GiB of result blocks in memory
MAX_MEMORY_USAGE = 2 << 30  # 2 GiB per query: the worker that ingests shares the engine


def read_only_settings(
    time_limit_s: float = DEFAULT_TIME_LIMIT_S, max_rows: int = DEFAULT_MAX_ROWS, *,
    max_bytes: int | None = None, max_memory: int | None = None,
) -> dict[str, int | float | str]:
    """ClickHouse settings that make one query read-only and bounded.

    `readonly` comes last: clients that apply settings one SET at a time
    (clickhouse-connect's chDB backend does for raw and Arrow queries) could
    not set anything after it. A limit of 0 would mean "no limit" to
    ClickHouse, so it is refused here.
    """
    if not time_limit_s > 0:
        raise ValueError(f"time_limit_s must be positive, not {time_limit_s!r}")
    for name, value in (("max_rows", max_rows), ("max_bytes", max_bytes),
                        ("max_memory", max_memory)):
        if value is None and name != "max_rows":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    limit: int | float = int(time_limit_s) if float(time_limit_s).is_integer() else time_limit_s
    return {
        "max_execution_time": limit,
        "timeout_overflow_mode": "throw",
        "max_result_rows": max_rows,
        "max_result_bytes": max_bytes or MAX_RESULT_BYTES,
        "result_overflow_mode": "throw",
        "max_memory_usage": max_memory or MAX_MEMORY_USAGE,
        "readonly": 1,  # last: it forbids changing any setting after it
    }


READ_ONLY_SETTINGS: Mapping[str, int | float | str] = MappingProxyType(read_only_settings())

_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def settings_clause(settings: Mapping[str, int | float | str]) -> str:
    """`SETTINGS a = 1, b = 'x'` for settings whose names and values we chose."""
    parts = []
    for name, value in settings.items():
        if not _SETTING_NAME.fullmatch(name):
            raise ValueError(f"not a setting name: {name!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"setting {name} needs a number or a string, not {value!r}")
        if isinstance(value, str):
            literal = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        else:
            literal = repr(value)
        parts.append(f"{name} = {literal}")
    return "SETTINGS " + ", ".join(parts)


def read_only_statement(
    sql: str,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    max_rows: int = DEFAULT_MAX_ROWS,
    *,
    max_bytes: int | None = None,
    max_memory: int | None = None,
) -> str:
    """The checked statement with the read-only limits attached as its SETTINGS clause.

    Safe to send as is: `check_read_only` guarantees one statement without a
    SETTINGS or FORMAT clause of its own and nothing open (string, comment) at
    its end. A client may still append `FORMAT ...` after it.
    """
    statement = check_read_only(sql)
    limits = read_only_settings(time_limit_s, max_rows, max_bytes=max_bytes,
                                max_memory=max_memory)
    return f"{statement}\n{settings_clause(limits)}"


# -- tokens --------------------------------------------------------------------

TokenKind = Literal["word", "quoted", "string", "number", "punct"]


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical unit of a statement; comments and whitespace are not tokens.

    `kind` is "word" (keyword or bare name), "quoted" (a `backquoted` or
    "double-quoted" name), "string" ('literal' or $heredoc$), "number" or
    "punct" (one character). `start`/`end` index the original text.
    """

    kind: TokenKind
    text: str
    start: int
    end: int

    @property
    def name(self) -> str | None:
        """The identifier a word or quoted name stands for, lower-cased; else None."""
        if self.kind == "word":
            return self.text.lower()
        if self.kind == "quoted":
            quote = self.text[0]
            return self.text[1:-1].replace(quote * 2, quote).lower()
        return None

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


_SPACE = frozenset(" \t\n\r\v\f")
_WORD_START = frozenset(string.ascii_letters + "_")
_WORD_CHARS = frozenset(string.ascii_letters + string.digits + "_$")
_HEREDOC_OPEN = re.compile(r"\$[A-Za-z0-9_]*\$")
_NUMBER = re.compile(
    r"0[xX][0-9A-Fa-f_]*(?:\.[0-9A-Fa-f_]*)?(?:[pP][+-]?[0-9_]+)?"
    r"|0[bB][01_]*"
    r"|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?"
)


def _where(sql: str, offset: int) -> str:
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def tokenize(sql: str) -> list[Token]:
    """Split `sql` the way ClickHouse's lexer does, as far as safety depends on it.

    Measured against ClickHouse 26.9: `--` comments run to a newline (not a
    carriage return); `#` starts a comment only as `# ` or `#!`; `/* */`
    comments nest; strings and quoted names take both `\\x` escapes and
    doubled quotes; `$tag$ ... $tag$` is a string (tag of letters, digits,
    `_`); `$` is a name character; `1file` is one name. Characters outside
    ASCII count as spaces here (the engine takes several of them, such as
    U+00A0 and U+200B, for spaces and rejects the rest), so that they can
    never hide a name from the checks. Unterminated strings, names and
    comments, and control characters, are refused.
    """
    tokens: list[Token] = []
    n = len(sql)
    i = 0
    while i < n:
        ch = sql[i]
        if ch in _SPACE or ord(ch) > 127:
            i += 1
        elif sql.startswith("--", i) or (ch == "#" and sql.startswith(("# ", "#!"), i)):
            newline = sql.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        elif ch in "'`\"":
            end = _skip_quoted(sql, i)
            if ch != "'" and "\\" in sql[i:end]:
                raise ForbiddenQuery(
                    f"a backslash inside the quoted name {sql[i:end]} at {_where(sql, i)}; "
                    "write the name without escapes"
                )
            if ch != "'" and end - i == 2:
                raise ForbiddenQuery(f"an empty quoted name at {_where(sql, i)}")
            tokens.append(Token("string" if ch == "'" else "quoted", sql[i:end], i, end))
            i = end
        elif ch == "$" and (heredoc := _HEREDOC_OPEN.match(sql, i)):
            close = sql.find(heredoc.group(), heredoc.end())
            if close < 0:
                raise ForbiddenQuery(
                    f"the string {heredoc.group()}… at {_where(sql, i)} is never closed"
                )
            end = close + len(heredoc.group())
            tokens.append(Token("string", sql[i:end], i, end))
            i = end
        elif ch in _WORD_START or (ch == "$" and i + 1 < n and sql[i + 1] in _WORD_CHARS):
            end = i + 1
            while end < n and sql[end] in _WORD_CHARS:
                end += 1
            tokens.append(Token("word", sql[i:end], i, end))
            i = end
        elif ch.isdigit():
            number = _NUMBER.match(sql, i)
            assert number is not None
            end = number.end()
            kind: TokenKind = "number"
            if end < n and sql[end] in _WORD_CHARS:  # `1file` is a name to ClickHouse
                kind = "word"
                while end < n and sql[end] in _WORD_CHARS:
                    end += 1
            tokens.append(Token(kind, sql[i:end], i, end))
            i = end
        elif ord(ch) < 32 or ord(ch) == 127:
            raise ForbiddenQuery(
                f"the control character U+{ord(ch):04X} at {_where(sql, i)} outside a string"
            )
        else:
            tokens.append(Token("punct", ch, i, i + 1))
            i += 1
    return tokens


def _skip_block_comment(sql: str, start: int) -> int:
    depth = 0
    i = start
    while True:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        elif i >= len(sql):
            raise ForbiddenQuery(f"the comment opened at {_where(sql, start)} is never closed")
        else:
            i += 1


def _skip_quoted(sql: str, start: int) -> int:
    quote = sql[start]
    i = start + 1
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch == "\\":
            i += 2
        elif ch == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
            else:
                return i + 1
        else:
            i += 1
    what = "string" if quote == "'" else "quoted name"
    raise ForbiddenQuery(f"the {what} opened at {_where(sql, start)} is never closed")


# -- policy ----------------------------------------------------------------------

_CHANGES_DATA = "changes data in the warehouse"
_CHANGES_TABLES = "creates, changes or removes tables"
REFUSED_STATEMENTS: Mapping[str, str] = MappingProxyType({
    "insert": _CHANGES_DATA,
    "delete": _CHANGES_DATA,
    "update": _CHANGES_DATA,
    "alter": _CHANGES_TABLES,
    "truncate": _CHANGES_DATA,
    "optimize": "rewrites table parts",
    "create": _CHANGES_TABLES,
    "drop": _CHANGES_TABLES,
    "undrop": _CHANGES_TABLES,
    "rename": _CHANGES_TABLES,
    "exchange": _CHANGES_TABLES,
    "attach": _CHANGES_TABLES,
    "detach": _CHANGES_TABLES,
    "move": "moves access entities or parts",
    "grant": "changes access rights",
    "revoke": "changes access rights",
    "kill": "stops queries or mutations",
    "system": "controls the server",
    "use": "switches the database",
    "set": "changes session settings, the read-only limits among them",
    "backup": "writes a backup",
    "restore": "restores a backup over tables",
    "check": "scans whole tables (and can repair them)",
})

# Table functions that stay inside the query: generated rows, literal rows,
# views over other SELECTs (whose text is checked like any other). Every other
# table function of ClickHouse 26.9 is in REFUSED_FUNCTIONS, and a test checks
# the engine's list against both, so a new one is refused until someone looks.
ALLOWED_TABLE_FUNCTIONS = frozenset({
    "numbers", "numbers_mt", "zeros", "zeros_mt", "primes", "generaterandom",
    "generateseries", "generate_series", "values", "sqlstandardvalues", "null", "view",
    "viewifpermitted", "format",
})

_FILES = "reads files on the server"
_NETWORK = "reaches the network"
_OTHER_DB = "reads another database server"
_PROGRAM = "runs a program or code"
_BY_NAME = ("reads tables by database and table name, past the system-table "
            "allow-list and per-table row filters")
_DICTIONARY = ("reads a dictionary, whose source may be another server, a file or a "
               "program; the warehouse has none")
_AI = "sends data to an external AI service"
_NOT_OFFERED = ("is not among the table functions ad-hoc SQL offers "
                "(numbers, generateRandom, values, view …)")

REFUSED_FUNCTIONS: Mapping[str, str] = MappingProxyType({
    # files on the server
    "file": _FILES, "fileCluster": _FILES, "filesystem": _FILES, "sqlite": _FILES,
    "icebergLocal": _FILES, "icebergLocalCluster": _FILES, "deltaLakeLocal": _FILES,
    "paimonLocal": _FILES,
    # the network: URLs, object stores, data lakes, metrics servers
    "url": _NETWORK, "urlCluster": _NETWORK,
    "s3": _NETWORK, "s3Cluster": _NETWORK, "gcs": _NETWORK, "oss": _NETWORK, "cosn": _NETWORK,
    "azureBlobStorage": _NETWORK, "azureBlobStorageCluster": _NETWORK,
    "hdfs": _NETWORK, "hdfsCluster": _NETWORK,
    "iceberg": _NETWORK, "icebergCluster": _NETWORK, "icebergS3": _NETWORK,
    "icebergS3Cluster": _NETWORK, "icebergAzure": _NETWORK, "icebergAzureCluster": _NETWORK,
    "icebergHDFS": _NETWORK, "icebergHDFSCluster": _NETWORK,
    "deltaLake": _NETWORK, "deltaLakeCluster": _NETWORK, "deltaLakeS3": _NETWORK,
    "deltaLakeS3Cluster": _NETWORK, "deltaLakeAzure": _NETWORK, "deltaLakeAzureCluster": _NETWORK,
    "hudi": _NETWORK, "hudiCluster": _NETWORK,
    "paimon": _NETWORK, "paimonCluster": _NETWORK, "paimonS3": _NETWORK,
    "paimonS3Cluster": _NETWORK, "paimonAzure": _NETWORK, "paimonAzureCluster": _NETWORK,
    "paimonHDFS": _NETWORK, "paimonHDFSCluster": _NETWORK,
    "prometheusQuery": _NETWORK, "prometheusQueryRange": _NETWORK,
    "bigquery": _NETWORK, "ytsaurus": _NETWORK, "arrowFlight": _NETWORK,
    # other database servers and cluster nodes
    "remote": _OTHER_DB, "remoteSecure": _OTHER_DB, "cluster": _OTHER_DB,
    "clusterAllReplicas": _OTHER_DB, "mysql": _OTHER_DB, "postgresql": _OTHER_DB,
    "mongodb": _OTHER_DB, "redis": _OTHER_DB, "jdbc": _OTHER_DB, "odbc": _OTHER_DB,
    # programs and code inside the server process (chDB's python() reads the
    # worker's own Python objects; eval() runs SQL built at run time)
    "executable": _PROGRAM, "executablePool": _PROGRAM, "python": _PROGRAM,
    "arrowstream": _PROGRAM, "eval": _PROGRAM,
    "input": "reads data sent along with an INSERT",
    # merge() reads every table whose name matches, unfiltered (DESIGN.md);
    # the others name a database and a table as separate arguments
    "merge": _BY_NAME, "loop": _BY_NAME,
    "mergeTreeIndex": _BY_NAME, "mergeTreeProjection": _BY_NAME,
    "mergeTreeAnalyzeIndexes": _BY_NAME, "mergeTreeAnalyzeIndexesUUID": _BY_NAME,
    "mergeTreeCodecBlockCounts": _BY_NAME, "mergeTreeTextIndex": _BY_NAME,
    "timeSeriesData": _BY_NAME, "timeSeriesMetrics": _BY_NAME, "timeSeriesTags": _BY_NAME,
    "timeSeriesSamples": _BY_NAME, "timeSeriesSelector": _BY_NAME,
    "timeSeriesMetricFamilies": _BY_NAME,
    "dictionary": _DICTIONARY,
    "viewExplain": _NOT_OFFERED, "fuzzJSON": _NOT_OFFERED, "fuzzQuery": _NOT_OFFERED,
    # scalar functions that reach out (file() is both a table and a scalar function)
    "aiClassify": _AI, "aiEmbed": _AI, "aiExtract": _AI, "aiFilter": _AI,
    "aiGenerate": _AI, "aiRedact": _AI, "aiSimilarity": _AI, "aiTranslate": _AI,
})
_REFUSED_FUNCTIONS = {name.lower(): (name, why) for name, why in REFUSED_FUNCTIONS.items()}
# dictGet, dictGetString, dictGetOrDefault, dictHas, dictIsIn, …
_DICTIONARY_FUNCTION_PREFIX = "dict"

# System tables that describe the warehouse's shape, not its users or their
# queries. Refused, among others: processes and the *_log tables (other users'
# SQL, parameters included), users/roles/grants/quotas/row_policies (access
# configuration), parts and parts_columns (row counts per monthly partition
# across all client organisations, paths), disks, server_settings, macros,
# clusters and dictionaries (server configuration and sources).
ALLOWED_SYSTEM_TABLES = frozenset({
    "one", "numbers", "numbers_mt", "zeros", "zeros_mt", "primes",
    "tables", "columns", "databases", "functions", "table_functions",
    "data_type_families", "formats", "time_zones", "settings",
})
_SYSTEM_TABLE_REASONS = {
    **dict.fromkeys(
        ("processes", "query_log", "query_thread_log", "query_views_log", "part_log",
         "text_log", "trace_log", "session_log", "processors_profile_log", "user_processes",
         "user_query_log", "session_query_ids", "query_cache", "asynchronous_insert_log"),
        "shows other users' queries",
    ),
    **dict.fromkeys(
        ("users", "roles", "grants", "role_grants", "quotas", "quota_limits", "quota_usage",
         "quotas_usage", "row_policies", "settings_profiles", "settings_profile_elements",
         "current_roles", "enabled_roles", "user_directories", "privileges",
         "masking_policies", "named_collections"),
        "shows the access configuration",
    ),
}

_SHOW_READS = frozenset({
    "tables", "databases", "columns", "fields", "index", "indexes", "indices", "keys",
    "functions", "settings", "setting", "create",
})
_SHOW_MODIFIERS = frozenset({"full", "extended", "temporary", "changed"})
_ACCESS_ENTITIES = frozenset({
    "user", "users", "role", "roles", "quota", "quotas", "row", "policy", "policies",
    "profile", "profiles", "settings", "masking", "named", "grants", "privileges",
})
_EXPLAIN_KINDS = frozenset({"ast", "syntax", "query", "tree", "plan", "pipeline", "estimate"})
# Words after which `(` opens a subquery or a list, not a function's arguments.
_NOT_CALLS = frozenset({
    "from", "join", "in", "as", "select", "where", "prewhere", "having", "on", "using", "and",
    "or", "not", "exists", "any", "all", "some", "with", "union", "except", "intersect",
    "by", "values", "then", "else", "when", "case", "is", "like", "ilike", "between",
    "describe", "desc", "explain", "table", "over", "array", "distinct", "limit", "offset",
})
# Words that end a FROM list (its commas separate tables).
_ENDS_FROM = frozenset({
    "select", "where", "prewhere", "group", "order", "having", "limit", "offset", "union",
    "except", "intersect", "window", "qualify", "settings", "format", "into", "on", "using",
})
# Words that can follow a column called `format`, so that it is not the FORMAT clause.
_AFTER_A_NAME = frozenset({
    "from", "where", "as", "and", "or", "is", "not", "in", "like", "ilike", "between",
    "group", "order", "limit", "having", "union", "except", "intersect", "settings", "join",
    "on", "using", "desc", "asc", "window", "qualify", "prewhere", "then", "else", "end",
})
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_read_only(sql: str) -> str:
    """The single read statement in `sql`, or `ForbiddenQuery` saying why not.

    Returns the statement from its first to its last token: leading and
    trailing comments, whitespace and semicolons removed, the rest as written.
    """
    tokens = tokenize(sql)
    while tokens and tokens[-1].text == ";":
        tokens.pop()
    if not tokens:
        raise ForbiddenQuery("the query is empty")
    for token in tokens:
        if token.text == ";":
            raise ForbiddenQuery(
                f"more than one statement (a `;` at {_where(sql, token.start)}); "
                "send one statement at a time"
            )
    _Checker(sql, tokens).run()
    return sql[tokens[0].start : tokens[-1].end]


@dataclass
class _Frame:
    """What a pair of parentheses holds: a function's arguments or a (sub)query."""

    call: str | None = None  # the function's name, for a call
    query: bool = False  # a SELECT was seen at this level
    in_from: bool = False  # inside a FROM list: commas separate tables


@dataclass
class _Checker:
    """One pass over a statement's tokens; raises at the first thing refused."""

    sql: str
    tokens: list[Token]
    kind: str = ""
    frames: list[_Frame] = field(default_factory=lambda: [_Frame()])

    def refuse(self, reason: str, token: Token) -> ForbiddenQuery:
        return ForbiddenQuery(f"{reason} (at {_where(self.sql, token.start)})")

    def at(self, i: int) -> Token | None:
        return self.tokens[i] if 0 <= i < len(self.tokens) else None

    def run(self) -> None:
        self.check_statement()
        for i in range(len(self.tokens)):
            self.check_token(i)

    # -- the statement as a whole ----------------------------------------------

    def check_statement(self) -> None:
        first = self.skip_parens(0)
        head = self.tokens[first]
        word = head.text.lower() if head.kind == "word" else ""
        if word in ("select", "with"):
            self.kind = "select"
            self.require_select(first, "the statement")
            return
        if first > 0:
            raise self.refuse(
                f"only a SELECT may stand in parentheses, not `{head.text}`", head
            )
        if word == "show":
            self.kind = "show"
            self.check_show(first + 1)
        elif word in ("describe", "desc"):
            self.kind = "describe"
            k = first + 1
            if (token := self.at(k)) is not None and token.is_word("table"):
                k += 1
            self.check_table_ref(k)
        elif word == "exists":
            self.kind = "exists"
            k = first + 1
            while (token := self.at(k)) is not None and token.is_word(
                "temporary", "table", "view", "database"
            ):
                k += 1
            if (token := self.at(k)) is not None and token.is_word("dictionary"):
                raise self.refuse(f"EXISTS DICTIONARY: dictionary() {_DICTIONARY}", token)
            self.check_table_ref(k)
        elif word == "explain":
            self.kind = "explain"
            self.check_explain(first + 1)
        elif word in REFUSED_STATEMENTS:
            raise self.refuse(f"{word.upper()} {REFUSED_STATEMENTS[word]}", head)
        else:
            shown = head.text if len(head.text) <= 40 else head.text[:40] + "…"
            raise self.refuse(f"`{shown}` does not start a read statement", head)

    def skip_parens(self, k: int) -> int:
        while (token := self.at(k)) is not None and token.text == "(":
            k += 1
        if self.at(k) is None:
            raise ForbiddenQuery("the parentheses hold no statement")
        return k

    def require_select(self, k: int, what: str) -> None:
        """From token k (after any `(`) a SELECT, or WITH … SELECT, must follow."""
        k = self.skip_parens(k)
        head = self.tokens[k]
        if head.is_word("select"):
            return
        if head.is_word("with"):
            depth = 0
            for token in self.tokens[k + 1 :]:
                if token.text == "(":
                    depth += 1
                elif token.text == ")":
                    depth -= 1
                elif depth == 0 and token.is_word("select"):
                    return
            raise self.refuse("WITH without a SELECT after it", head)
        raise self.refuse(f"{what} must be a SELECT, not `{head.text}`", head)

    def check_explain(self, k: int) -> None:
        while (token := self.at(k)) is not None and token.kind == "word" and (
            token.text.lower() in _EXPLAIN_KINDS
        ):
            k += 1
        # EXPLAIN's own options: name = value, …
        while (
            (token := self.at(k)) is not None and token.kind == "word"
            and (eq := self.at(k + 1)) is not None and eq.text == "="
        ):
            k += 2
            if (sign := self.at(k)) is not None and sign.text == "-":
                k += 1
            k += 1
            if (comma := self.at(k)) is not None and comma.text == ",":
                k += 1
        if self.at(k) is None:
            raise ForbiddenQuery("EXPLAIN of nothing; EXPLAIN takes a SELECT")
        self.require_select(k, "what EXPLAIN explains")

    def check_show(self, k: int) -> None:
        while (token := self.at(k)) is not None and token.kind == "word" and (
            token.text.lower() in _SHOW_MODIFIERS
        ):
            k += 1
        token = self.at(k)
        if token is None:
            raise ForbiddenQuery("SHOW of nothing")
        what = token.text.lower() if token.kind == "word" else token.text
        after = self.at(k + 1)
        if what == "processlist":
            raise self.refuse("SHOW PROCESSLIST shows other users' queries", token)
        if (what in _ACCESS_ENTITIES and what != "settings") or (
            what == "settings" and after is not None and after.is_word("profiles", "profile")
        ):
            raise self.refuse(f"SHOW {what.upper()} shows the access configuration", token)
        if what == "dictionaries":
            raise self.refuse(f"SHOW DICTIONARIES: dictionary() {_DICTIONARY}", token)
        if what not in _SHOW_READS:
            raise self.refuse(
                f"SHOW {token.text} is not among the SHOW statements ad-hoc SQL offers "
                "(SHOW TABLES, DATABASES, COLUMNS, CREATE TABLE, INDEX, FUNCTIONS, SETTINGS)",
                token,
            )
        if what == "create":
            k += 1
            while (kind := self.at(k)) is not None and kind.is_word("temporary"):
                k += 1
            kind = self.at(k)
            if kind is not None and kind.kind == "word":
                name = kind.text.lower()
                if name in _ACCESS_ENTITIES:
                    raise self.refuse(
                        f"SHOW CREATE {kind.text.upper()} shows the access configuration", kind
                    )
                if name == "dictionary":
                    raise self.refuse(f"SHOW CREATE DICTIONARY: dictionary() {_DICTIONARY}", kind)
                if name in ("table", "view", "database"):
                    k += 1
            self.check_table_ref(k)

    def check_table_ref(self, k: int) -> None:
        """A table name stands at token k (and after a `db.`, at k + 2)."""
        token = self.at(k)
        if token is None:
            return
        if token.kind == "string":
            raise self.refuse(
                f"the string {_short(token.text)} where a table belongs: the engine reads it "
                "as a file or URL on the server",
                token,
            )
        if token.kind == "quoted" and not _PLAIN_NAME.fullmatch(token.text[1:-1]):
            raise self.refuse(
                f"the table name {_short(token.text)}: a name that looks like a path or URL "
                "reads a file on the server; warehouse tables have plain names",
                token,
            )
        dot, table = self.at(k + 1), self.at(k + 2)
        if (
            token.kind in ("word", "quoted") and dot is not None and dot.text == "."
            and table is not None and table.kind in ("string", "quoted")
        ):
            self.check_table_ref(k + 2)

    # -- every token -------------------------------------------------------------

    def check_token(self, i: int) -> None:
        token = self.tokens[i]
        prev, nxt = self.at(i - 1), self.at(i + 1)
        frame = self.frames[-1]

        if token.text == "(":
            call = None
            if prev is not None and (prev.kind == "quoted" or (
                prev.kind == "word" and prev.text.lower() not in _NOT_CALLS
            )):
                call = prev.name
            self.frames.append(_Frame(call=call))
            return
        if token.text == ")":
            if len(self.frames) > 1:
                self.frames.pop()
            return
        if token.text == "," and frame.in_from:
            self.check_table_ref(i + 1)
            return

        name = token.name
        if name is None:
            return
        if nxt is not None and nxt.text == "(":
            as_table = self.kind == "describe" or (prev is not None and (
                prev.is_word("from", "join") or (prev.text == "," and frame.in_from)
            ))
            self.check_function(token, name, as_table)
        if nxt is not None and nxt.text == "." and name in ("system", "default"):
            self.check_database(i, name)
        if token.kind != "word":
            return

        after_dot = prev is not None and prev.text == "."
        after_as = prev is not None and prev.is_word("as")
        if name == "select":
            frame.query = True
        if name in _ENDS_FROM:
            frame.in_from = False
        if name == "from":
            if prev is not None and prev.is_word("distinct"):
                return  # IS [NOT] DISTINCT FROM
            if frame.call is not None and not frame.query:
                return  # trim(… FROM …), extract(DAY FROM …), substring(… FROM …)
            frame.in_from = True
            self.check_table_ref(i + 1)
        elif name == "join":
            frame.in_from = True
            if not (prev is not None and prev.is_word("array")):
                self.check_table_ref(i + 1)
        elif name == "in" and nxt is not None and nxt.kind == "quoted":
            self.check_table_ref(i + 1)
        elif name == "settings" and not (after_dot or after_as):
            if self.kind == "show" and prev is not None and prev.is_word("show", "changed"):
                return
            raise self.refuse(
                "a SETTINGS clause: the read-only limits (time, rows, memory) are set by "
                "dorpspomp and cannot be changed per query",
                token,
            )
        elif name == "format" and not (after_dot or after_as) and nxt is not None and (
            nxt.kind in ("quoted", "string")
            or (nxt.kind == "word" and nxt.text.lower() not in _AFTER_A_NAME)
        ):
            raise self.refuse(
                "a FORMAT clause: the client picks the output format (with `dorpspomp sql`, "
                "use --format table/csv/json)",
                token,
            )
        elif name == "into" and nxt is not None and nxt.is_word("outfile"):
            raise self.refuse("INTO OUTFILE writes a file on the server", token)

    def check_function(self, token: Token, name: str, as_table: bool) -> None:
        if name in _REFUSED_FUNCTIONS:
            spelled, why = _REFUSED_FUNCTIONS[name]
            what = "table function" if as_table else "function"
            raise self.refuse(f"the {what} {spelled}() {why}", token)
        if name.startswith(_DICTIONARY_FUNCTION_PREFIX) and name != "dict":
            raise self.refuse(f"the function {token.text}() {_DICTIONARY}", token)

    def check_database(self, i: int, database: str) -> None:
        token, table = self.tokens[i], self.at(i + 2)
        if database == "default":
            raise self.refuse(
                "the database `default`: in the embedded warehouse it turns table names "
                "into files on the server",
                token,
            )
        if table is None or table.name is None:
            return
        if table.name in ALLOWED_SYSTEM_TABLES:
            return
        why = _SYSTEM_TABLE_REASONS.get(
            table.name,
            "is not among the system tables ad-hoc SQL may read (system."
            + ", system.".join(sorted(ALLOWED_SYSTEM_TABLES - {"numbers_mt", "zeros_mt"}))
            + ")",
        )
        raise self.refuse(f"the system table system.{table.name} {why}", table)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


# -- the engine's own parse ------------------------------------------------------------

_AST_LINE = re.compile(r"^(?P<indent> *)(?P<kind>\S+)(?: (?P<rest>.*?))?(?: \(children \d+\))?$")
_AST_NAME = re.compile(r"^(?P<name>[^ ]+)")


def check_ast(ast: str, database: str, *, client: bool = False) -> None:
    """Check a statement as ClickHouse itself parsed it (`EXPLAIN AST`), after the text
    checks: every function, table function and table it names, with query parameters
    already substituted. It backs the tokenizer above: where the two could read a
    statement differently, the engine's reading is the one that runs.

    Refused: a SETTINGS clause anywhere (`Set`), a table function outside
    ALLOWED_TABLE_FUNCTIONS, any function of REFUSED_FUNCTIONS or a dictionary
    function, a table of a database other than `database` and `system`, a system
    table outside ALLOWED_SYSTEM_TABLES; for a client login (`client`) also
    system.tables, system.columns and information_schema (see pipelines.serving.orgscope).
    """
    parents: list[str] = []
    for line in ast.splitlines():
        match = _AST_LINE.match(line)
        if match is None or not line.strip():
            continue
        depth = len(match["indent"])
        del parents[depth:]
        kind, rest = match["kind"], match["rest"] or ""
        parent = parents[-1] if parents else ""
        parents.append(kind)
        if kind == "Set":
            raise ForbiddenQuery("refused: a SETTINGS clause (the engine's parse shows one); "
                                 "the read-only limits are set by dorpspomp")
        named = _AST_NAME.match(rest)
        if named is None:
            continue
        name = named["name"]
        if kind == "Function":
            lower = name.lower()
            if lower in _REFUSED_FUNCTIONS:
                spelled, why = _REFUSED_FUNCTIONS[lower]
                raise ForbiddenQuery(f"refused: the function {spelled}() {why}")
            if lower.startswith(_DICTIONARY_FUNCTION_PREFIX) and lower != "dict":
                raise ForbiddenQuery(f"refused: the function {name}() {_DICTIONARY}")
            if parent == "TableExpression" and lower not in ALLOWED_TABLE_FUNCTIONS:
                raise ForbiddenQuery(f"refused: the table function {name}() {_NOT_OFFERED}")
        elif kind == "TableIdentifier" and "." in name:
            db, _, table = name.partition(".")
            if client and (db.lower() == "information_schema" or (
                    db.lower() == "system" and table.lower() in ("tables", "columns"))):
                raise ForbiddenQuery(f"refused: {name} counts and sizes the rows of every "
                                     "client together")
            if db.lower() == "system":
                if table.lower() not in ALLOWED_SYSTEM_TABLES:
                    why = _SYSTEM_TABLE_REASONS.get(
                        table.lower(), "is not among the system tables ad-hoc SQL may read")
                    raise ForbiddenQuery(f"refused: the system table system.{table} {why}")
            elif db != database and db.lower() != "information_schema":
                raise ForbiddenQuery(
                    f"refused: the table {name} is in another database than {database}")
