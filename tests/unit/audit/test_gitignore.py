"""Git's ignore semantics, checked rule by rule and against git itself on one tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from modelswap.audit import iter_files
from modelswap.audit._gitignore import IgnoreFile, IgnoreStack, parse_rules, translate


def _ignored(rules: str, path: str, is_dir: bool = False, base: str = "") -> bool:
    return IgnoreStack((IgnoreFile(base, parse_rules(rules)),)).ignored(path, is_dir)


@pytest.mark.parametrize(
    ("rules", "path", "is_dir", "ignored"),
    [
        ("*.log", "a.log", False, True),
        ("*.log", "deep/down/a.log", False, True),             # no slash: any depth
        ("/top.py", "top.py", False, True),
        ("/top.py", "sub/top.py", False, False),                # leading slash: anchored
        ("sub/file.py", "sub/file.py", False, True),
        ("sub/file.py", "x/sub/file.py", False, False),         # a middle slash anchors too
        ("build/", "build", True, True),
        ("build/", "build", False, False),                      # trailing slash: directories only
        ("build/", "src/build", True, True),
        ("**/cache", "a/b/cache", True, True),
        ("**/cache", "cache", True, True),
        ("logs/**", "logs/a/b.py", False, True),
        ("logs/**", "logs", True, False),                       # `/**`: what is inside, not the directory
        ("a/**/b.py", "a/b.py", False, True),                   # `/**/`: zero or more directories
        ("a/**/b.py", "a/x/y/b.py", False, True),
        ("a/**/b.py", "xa/b.py", False, False),
        ("x**y.py", "xay.py", False, True),                     # other `**` is a plain `*`
        ("x**y.py", "x/y.py", False, False),
        ("a?c.py", "abc.py", False, True),
        ("a?c.py", "a/c.py", False, False),                     # `?` never matches '/'
        ("data[0-9].py", "data7.py", False, True),
        ("data[0-9].py", "datax.py", False, False),
        ("data[!0-9].py", "datax.py", False, True),
        ("data[^0-9].py", "data7.py", False, False),
        ("data[[:alpha:]].py", "datax.py", False, True),
        ("*.py\n!keep.py", "keep.py", False, False),            # negation re-includes
        ("!keep.py\n*.py", "keep.py", False, True),             # the last matching line wins
        ("\\#hash.py", "#hash.py", False, True),                # escaped '#': a pattern, not a comment
        ("#hash.py", "#hash.py", False, False),
        ("\\!bang.py", "!bang.py", False, True),
        ("trailing.py   ", "trailing.py", False, True),         # unescaped trailing spaces are dropped
        ("space\\ ", "space ", False, True),                    # an escaped one is kept
        ("", "anything.py", False, False),
    ],
)
def test_rules(rules: str, path: str, is_dir: bool, ignored: bool) -> None:
    assert _ignored(rules, path, is_dir) is ignored


def test_rules_of_a_nested_file_are_relative_to_its_directory() -> None:
    assert _ignored("/only.py", "src/only.py", base="src")
    assert not _ignored("/only.py", "src/deeper/only.py", base="src")
    assert not _ignored("*.py", "other/x.py", base="src")


def test_deeper_files_win_and_info_exclude_is_lowest() -> None:
    exclude = IgnoreFile("", parse_rules("*.gen.py"))
    root = IgnoreFile("", parse_rules("!keep.gen.py\n*.tmp.py"))
    nested = IgnoreFile("src", parse_rules("!*.tmp.py"))
    stack = IgnoreStack().push(exclude).push(root).push(nested)
    assert stack.ignored("a.gen.py", False)
    assert not stack.ignored("keep.gen.py", False)
    assert stack.ignored("a.tmp.py", False)
    assert not stack.ignored("src/a.tmp.py", False)


def test_translate_never_crosses_a_slash_with_star() -> None:
    assert translate("*.py") == "[^/]*\\.py"
    assert translate("[abc") == "\\[abc"  # an unclosed bracket is literal


# -- the same tree, decided by git and by the walk -------------------------------------------------------------

TREE_RULES = {
    ".gitignore": "\n".join([
        "# comments and blank lines are skipped",
        "",
        "\\#hash.py",
        "\\!bang.py",
        "*.log.py",
        "/root_only.py",
        "thing.py/",
        "docs/**/gen_*.py",
        "**/cache/",
        "logs/**",
        "!logs/keep.py",
        "vendor/",
        "!vendor/keep.py",
        "trailing.py   ",
        "data[0-9].py",
        "a?c.py",
        "sub/nested_anchored.py",
        "deep/*.py",
        "!deep/keep.py",
        "!info_keep.py",
    ]) + "\n",
    "src/.gitignore": "*.py\n!main.py\n/anchored_src.py\n",
    "src/pkg/.gitignore": "!*.py\n",
    ".git/info/exclude": "excluded_by_info.py\ninfo_*.py\n",
}
TREE_FILES = [
    "#hash.py", "!bang.py", "x.log.py", "root_only.py", "a/root_only.py", "a/thing.py", "b/thing.py/inner.py",
    "docs/gen_a.py", "docs/x/y/gen_b.py", "docs/keep.py", "cache/c.py", "a/b/cache/d.py", "logs/l.py",
    "logs/keep.py", "logs/sub/l2.py", "vendor/v.py", "vendor/keep.py", "trailing.py", "data1.py", "datax.py",
    "abc.py", "a/c.py", "sub/nested_anchored.py", "x/sub/nested_anchored.py", "deep/d.py", "deep/keep.py",
    "deep/inner/d2.py", "src/main.py", "src/other.py", "src/anchored_src.py", "src/pkg/mod.py",
    "src/pkg/anchored_src.py", "excluded_by_info.py", "info_keep.py", "info_other.py", "plain.yaml",
    "src/config.yaml",
]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_walk_keeps_exactly_what_git_keeps(tmp_path: Path) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, env=env)
    for rel, text in TREE_RULES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    for rel in TREE_FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x = 1\n")
    listed = subprocess.run(
        ["git", "-c", "core.quotePath=false", "ls-files", "--others", "--exclude-standard", "-z"],
        cwd=tmp_path, check=True, capture_output=True, env=env,
    ).stdout.decode().split("\0")
    kept_by_git = {p for p in listed if p and not p.endswith(".gitignore")}
    kept_by_walk = {rel for _, rel, _, _ in iter_files(tmp_path)}
    assert kept_by_walk == kept_by_git
    # and the rules did hide something of each sort
    assert {"src/main.py", "src/pkg/mod.py", "logs/keep.py", "deep/keep.py", "a/thing.py", "info_keep.py"} <= kept_by_walk
    assert not {"vendor/keep.py", "b/thing.py/inner.py", "excluded_by_info.py", "trailing.py", "#hash.py"} & kept_by_walk


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_a_subdirectory_scan_honours_the_ignore_files_above_it(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("secret_*.py\n/app/generated/\n")
    (tmp_path / "app" / "generated").mkdir(parents=True)
    (tmp_path / "app" / "generated" / "client.py").write_text("x = 1\n")
    (tmp_path / "app" / "secret_model.py").write_text("x = 1\n")
    (tmp_path / "app" / "main.py").write_text("x = 1\n")
    assert [rel for _, rel, _, _ in iter_files(tmp_path / "app")] == ["main.py"]
    # An ignored directory named explicitly is scanned (as ripgrep does), its own contents still filtered.
    assert [rel for _, rel, _, _ in iter_files(tmp_path / "app" / "generated")] == ["client.py"]
