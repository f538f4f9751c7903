"""Git's ignore rules, in the standard library: ``.gitignore`` files (nested), ``.git/info/exclude``.

The semantics are git's own (``gitignore(5)``), checked against ``git ls-files --others --exclude-standard`` in
the tests:

* blank lines and ``#`` comments are skipped; ``\\#`` and ``\\!`` start a pattern with a literal ``#`` or ``!``;
  trailing spaces are dropped unless escaped with a backslash;
* ``!pattern`` re-includes what an earlier pattern excluded (never inside an excluded directory: the walk does not
  go into one);
* a trailing ``/`` matches directories only;
* a pattern with a ``/`` at its start or in its middle is relative to the ``.gitignore``'s own directory; any
  other pattern matches a name at any depth below it;
* ``*`` and ``?`` never match ``/``; ``[a-z]``, ``[!a-z]`` (or ``[^a-z]``) and ``[[:alpha:]]`` as in wildmatch;
  a leading ``**/`` matches in all directories, a trailing ``/**`` everything inside, ``/**/`` zero or more
  directories; any other ``**`` is an ordinary ``*``.
* precedence: within one file the last matching line wins; a deeper ``.gitignore`` wins over a shallower one;
  ``.git/info/exclude`` comes below every ``.gitignore``. (The user's global ``core.excludesFile`` is not read:
  a scan's result must not depend on who runs it.)

Each ignore file compiles to two regular expressions (for files and for directories), its rules in reverse order
as named alternatives, so one ``fullmatch`` finds the last matching rule.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["IgnoreFile", "IgnoreStack", "Rule", "find_repo_root", "parse_rules", "translate"]

_POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9", "alpha": "a-zA-Z", "blank": " \\t", "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9",
    "graph": "!-~", "lower": "a-z", "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z", "xdigit": "0-9A-Fa-f",
}


@dataclass(frozen=True)
class Rule:
    """One pattern line of an ignore file."""

    pattern: str      # as written, without the `!` and the trailing `/`
    negated: bool     # `!pattern`: re-include
    dir_only: bool    # `pattern/`: directories only
    anchored: bool    # relative to the ignore file's directory (a `/` at the start or in the middle)
    regex: str        # matches the path relative to the ignore file's directory
    line: int         # 1-based line in its file


def _bracket(pat: str, i: int) -> tuple[str, int] | None:
    """Translate the bracket expression starting at ``pat[i] == '['``; None when it is not closed."""
    j = i + 1
    negate = False
    if j < len(pat) and pat[j] in "!^":
        negate = True
        j += 1
    parts: list[str] = []
    first = True
    while j < len(pat):
        c = pat[j]
        if c == "]" and not first:
            body = "".join(parts)
            # Like wildmatch, a bracket never matches '/'.
            return (f"[^/{body}]" if negate else f"(?!/)[{body}]"), j + 1
        first = False
        if c == "[" and pat.startswith("[:", j):
            end = pat.find(":]", j + 2)
            if end != -1 and pat[j + 2:end] in _POSIX_CLASSES:
                parts.append(_POSIX_CLASSES[pat[j + 2:end]])
                j = end + 2
                continue
        if c == "\\" and j + 1 < len(pat):
            j += 1
            c = pat[j]
        if j + 2 < len(pat) and pat[j + 1] == "-" and pat[j + 2] != "]":
            hi = pat[j + 2]
            k = j + 3
            if hi == "\\" and j + 3 < len(pat):
                hi = pat[j + 3]
                k = j + 4
            if ord(hi) >= ord(c):
                parts.append(f"{re.escape(c)}-{re.escape(hi)}")
            j = k
            continue
        parts.append(re.escape(c))
        j += 1
    return None


def translate(pattern: str) -> str:
    """The regular expression (without anchors) for a glob written with git's wildmatch rules (FNM_PATHNAME)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            stars = j - i
            at_start = i == 0 or pattern[i - 1] == "/"
            at_end = j == n or pattern[j] == "/"
            if stars >= 2 and at_start and at_end:
                if j == n:                      # `a/**` (or a lone `**`): anything below
                    out.append(".*")
                    i = j
                else:                           # `**/`: zero or more directories
                    out.append("(?:.*/)?")
                    i = j + 1
                continue
            out.append("[^/]*")
            i = j
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            got = _bracket(pattern, i)
            if got is None:
                out.append(re.escape("["))
                i += 1
            else:
                out.append(got[0])
                i = got[1]
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def _strip_trailing_spaces(line: str) -> str:
    end = len(line)
    while end > 0 and line[end - 1] == " ":
        # A space preceded by an odd number of backslashes is escaped and kept.
        k = end - 1
        slashes = 0
        while k > 0 and line[k - 1] == "\\":
            slashes += 1
            k -= 1
        if slashes % 2:
            break
        end -= 1
    return line[:end]


def parse_rules(text: str) -> list[Rule]:
    """The rules of one ignore file's text, in file order."""
    rules: list[Rule] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if not line or line.startswith("#"):
            continue
        line = _strip_trailing_spaces(line)
        if not line:
            continue
        negated = False
        if line.startswith("!"):
            negated = True
            line = line[1:]
        elif line.startswith(("\\!", "\\#")):
            line = line[1:]
        dir_only = False
        if line.endswith("/") and not line.endswith("\\/"):
            dir_only = True
            line = line.rstrip("/")
        if not line:
            continue
        anchored = "/" in line
        body = line[1:] if line.startswith("/") else line
        if not body:
            continue
        regex = translate(body)
        if not anchored:
            regex = "(?:.*/)?" + regex
        rules.append(Rule(line, negated, dir_only, anchored, regex, number))
    return rules


class IgnoreFile:
    """The rules of one ignore file, for paths relative to ``base`` (posix, ``""`` for the top)."""

    def __init__(self, base: str, rules: list[Rule], source: str = "") -> None:
        self.base = base.strip("/")
        self.rules = rules
        self.source = source
        self._prefix = self.base + "/" if self.base else ""
        self._files = self._compile([r for r in rules if not r.dir_only])
        self._dirs = self._compile(rules)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], base: str = "") -> "IgnoreFile | None":
        try:
            with open(path, encoding="utf-8-sig", errors="replace") as handle:  # git skips a BOM too
                text = handle.read()
        except OSError:
            return None
        rules = parse_rules(text)
        return cls(base, rules, str(path)) if rules else None

    def _compile(self, rules: list[Rule]) -> re.Pattern[str] | None:
        if not rules:
            return None
        index = {id(rule): k for k, rule in enumerate(self.rules)}
        # Last line first: the first alternative that matches the whole path is the last matching rule.
        alternatives = [f"(?P<r{index[id(rule)]}>{rule.regex})" for rule in reversed(rules)]
        return re.compile("(?:" + "|".join(alternatives) + ")", re.DOTALL)

    def decide(self, path: str, is_dir: bool) -> bool | None:
        """True (ignored), False (re-included by a `!` rule) or None (no rule matches) for ``path``, which is
        relative to the top of the scan's repository."""
        if self._prefix:
            if not path.startswith(self._prefix):
                return None
            path = path[len(self._prefix):]
        regex = self._dirs if is_dir else self._files
        if regex is None:
            return None
        match = regex.fullmatch(path)
        if match is None:
            return None
        rule = self.rules[int(match.lastgroup[1:])]  # type: ignore[index]
        return not rule.negated


class IgnoreStack:
    """The ignore files that apply inside one directory, lowest precedence first (immutable: ``push`` returns a
    new stack, so a recursive walk keeps one per directory for free)."""

    __slots__ = ("files",)

    def __init__(self, files: tuple[IgnoreFile, ...] = ()) -> None:
        self.files = files

    def push(self, ignore: IgnoreFile | None) -> "IgnoreStack":
        return self if ignore is None else IgnoreStack(self.files + (ignore,))

    def ignored(self, path: str, is_dir: bool) -> bool:
        for ignore in reversed(self.files):
            decision = ignore.decide(path, is_dir)
            if decision is not None:
                return decision
        return False


def find_repo_root(start: str | os.PathLike[str]) -> Path | None:
    """The nearest directory at or above ``start`` that holds a ``.git`` (directory, or file for worktrees)."""
    here = Path(start).resolve()
    if here.is_file():
        here = here.parent
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return candidate
    return None
