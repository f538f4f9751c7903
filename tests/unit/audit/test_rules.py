"""hard-coded or configurable, case by case; comments; odd files that must not break the scan."""

from __future__ import annotations

from pathlib import Path

from modelswap import audit


def found(tmp_path: Path, name: str, text: str | bytes) -> list[tuple[int, str, str, str]]:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return [(f.line, f.kind, f.match, f.status) for f in audit.scan(path).findings]


def test_an_environment_lookup_split_over_lines_makes_its_default_configurable(tmp_path: Path) -> None:
    text = 'MODEL = os.environ.get(\n    "MODEL_ID",\n    "gpt-4o",\n)\nOTHER = "gpt-4o"\n'
    assert found(tmp_path, "a.py", text) == [(3, "model_id", "gpt-4o", "configurable"),
                                             (5, "model_id", "gpt-4o", "hard_coded")]


def test_setting_the_environment_to_a_literal_is_hard_coded(tmp_path: Path) -> None:
    text = 'os.environ["MODEL_ID"] = "gpt-4o"\nos.environ.setdefault("MODEL_ID", "gpt-4o-mini")\n'
    assert found(tmp_path, "a.py", text) == [(1, "model_id", "gpt-4o", "hard_coded"),
                                             (2, "model_id", "gpt-4o-mini", "configurable")]


def test_prefect_variables_and_mage_kwargs_are_lookups(tmp_path: Path) -> None:
    text = ('model = Variable.get("modelswap_model", default="claude-haiku-4-5")\n'
            "judge = kwargs['judge'] if 'judge' in kwargs else 'claude-haiku-4-5'\n")
    assert [s for *_, s in found(tmp_path, "a.py", text)] == ["configurable", "configurable"]


def test_comments_hide_model_ids_but_never_keys(tmp_path: Path) -> None:
    text = ('# model = "gpt-4o"\n'
            'x = 1  # was gpt-4o\n'
            'url = "https://example.com/#gpt-4o"\n'                          # '#' inside a string
            '# OPENAI_API_KEY = "sk-proj-FAKEfakeFAKEfakeFAKEfake"\n')
    assert found(tmp_path, "a.py", text) == [(3, "model_id", "gpt-4o", "hard_coded"),
                                             (4, "api_key", "sk-p***", "hard_coded")]


def test_yaml_comments_need_a_space_before_the_hash(tmp_path: Path) -> None:
    text = "url: https://api.openai.com/v1#anchor\nmodel: gpt-4o  # gpt-4o-mini before\n"
    assert found(tmp_path, "a.yaml", text) == [(1, "endpoint", "https://api.openai.com/v1", "hard_coded"),
                                               (2, "model_id", "gpt-4o", "hard_coded")]


def test_template_defaults_are_configurable(tmp_path: Path) -> None:
    text = ('model: {{ .Values.model | default "claude-haiku-4-5" }}\n'
            "endpoint: ${ENDPOINT:-https://api.groq.com/openai/v1}\n"
            "url: https://${HOST}/x https://api.groq.com/openai/v1\n")            # after a closed ${...}: literal
    assert found(tmp_path, "values.yaml", text) == [
        (1, "model_id", "claude-haiku-4-5", "configurable"),
        (2, "endpoint", "https://api.groq.com/openai/v1", "configurable"),
        (3, "endpoint", "https://api.groq.com/openai/v1", "hard_coded")]


def test_bare_family_names_count_only_as_a_model_value(tmp_path: Path) -> None:
    text = ('PROMPT_FORMAT = "llama3.1"\nFamily("gemma2", "<bos>")\nMODEL = "llama3.1"\n'
            'client.generate(model="gemma3", prompt=p)\nsubprocess.run("ollama pull qwen2.5")\n')
    assert found(tmp_path, "a.py", text) == [(3, "model_id", "llama3.1", "hard_coded"),
                                             (4, "model_id", "gemma3", "hard_coded"),
                                             (5, "model_id", "qwen2.5", "hard_coded")]


def test_kestra_inputs_defaults_are_configurable_and_variables_are_not(tmp_path: Path) -> None:
    text = ("id: f\nnamespace: n\ninputs:\n  - id: model\n    type: STRING\n    defaults: gpt-4o\n"
            "variables:\n  model: gpt-4o\ntasks:\n  - id: t\n    type: x\n    prompt: 'use {{ inputs.model }}'\n")
    assert found(tmp_path, "flow.yml", text) == [(6, "model_id", "gpt-4o", "configurable"),
                                                 (8, "model_id", "gpt-4o", "hard_coded")]


def test_kubernetes_documents_are_told_apart(tmp_path: Path) -> None:
    text = ("apiVersion: apps/v1\nkind: Deployment\nspec:\n  containers:\n    - env:\n        - name: M\n"
            "          value: gpt-4o\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  MODEL_ID: gpt-4o\n"
            "---\napiVersion: v1\nkind: Secret\nstringData:\n  MODEL_ID: gpt-4o\n  KEY: gsk_FAKEfakeFAKEfakeFAKEfake\n")
    assert found(tmp_path, "all.yaml", text) == [(7, "model_id", "gpt-4o", "hard_coded"),
                                                 (12, "model_id", "gpt-4o", "configurable"),
                                                 (17, "model_id", "gpt-4o", "configurable"),
                                                 (18, "api_key", "gsk_***", "hard_coded")]


def test_a_modelswap_config_is_found_by_its_shape_too(tmp_path: Path) -> None:
    text = "default: fast\nmodels:\n  fast: {provider: groq, model_id: llama-3.1-8b-instant}\n"
    assert found(tmp_path, "llm-config.yaml", text) == [(3, "model_id", "llama-3.1-8b-instant", "configurable")]


def test_crlf_utf8_and_broken_bytes(tmp_path: Path) -> None:
    text = 'x = "é"\r\nMODEL = "gpt-4o"\r\n'.encode() + b'y = "\xff\xfe"\r\nM2 = "claude-haiku-4-5"\r\n'
    assert found(tmp_path, "a.py", text) == [(2, "model_id", "gpt-4o", "hard_coded"),
                                             (4, "model_id", "claude-haiku-4-5", "hard_coded")]
    report = audit.scan(tmp_path / "a.py")
    assert [f.column for f in report.findings] == [10, 7]


def test_a_long_minified_line(tmp_path: Path) -> None:
    text = '{"a": [' + ", ".join(f'"{i}"' for i in range(200_000)) + '], "model": "gpt-4o"}'
    assert found(tmp_path, "big.json", text) == [(1, "model_id", "gpt-4o", "hard_coded")]


def test_the_ignore_file_pragma(tmp_path: Path) -> None:
    assert found(tmp_path, "data.json", '{"_": "modelswap-audit: ignore-file", "m": "gpt-4o"}') == []


def test_the_line_pragma(tmp_path: Path) -> None:
    text = ('KEY = "sk-proj-FAKEfakeFAKEfakeFAKEfake"  # modelswap-audit: ignore (a test key)\n'
            'MODEL = "gpt-4o"\n')
    assert found(tmp_path, "a.py", text) == [(2, "model_id", "gpt-4o", "hard_coded")]


def test_unknown_file_types_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("gpt-4o\n")
    (tmp_path / "run.sh").write_text("ollama run llama3.2\n")
    report = audit.scan(tmp_path)
    assert report.findings == [] and report.files_scanned == 0


def test_dockerfile_names(tmp_path: Path) -> None:
    for name in ("Dockerfile", "Dockerfile.dev", "api.dockerfile", "Containerfile"):
        assert found(tmp_path / name.replace(".", "_"), name, "ENV MODEL=gpt-4o\n") == [
            (1, "model_id", "gpt-4o", "hard_coded")], name


def test_many_findings_on_one_long_line_stay_linear(tmp_path: Path) -> None:
    import time

    text = "[" + ", ".join('"gpt-4o"' for _ in range(20_000)) + "]  # gpt-4o\n"
    started = time.perf_counter()
    findings = found(tmp_path, "many.py", text)
    assert len(findings) == 20_000 and time.perf_counter() - started < 10


def test_mage_blocks_are_told_by_decorator_or_folder(tmp_path: Path) -> None:
    def kind(rel: str, text: str) -> str:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return audit.scan(path.parent).findings[0].file_type

    assert kind("a/block.py", "@transformer\ndef t(df, *args, **kwargs):\n    return 'gpt-4o'\n") == "mage"
    assert kind("b/data_exporters/x.py", "def export(df, **kwargs):\n    m = 'gpt-4o'\n") == "mage"
    assert kind("c/transformers/x.py", "M = 'gpt-4o'\n") == "python"               # no kwargs: any package
    assert kind("d/x.py", "@custom_cache\ndef f():\n    return 'gpt-4o'\n") == "python"


def test_descriptions_are_documentation(tmp_path: Path) -> None:
    text = ("id: f\nnamespace: n\ninputs:\n  - id: endpoint\n    description: e.g. https://api.groq.com/openai/v1\n"
            "    defaults: https://api.groq.com/openai/v1\ntasks: []\n")
    assert found(tmp_path, "flow.yaml", text) == [(6, "endpoint", "https://api.groq.com/openai/v1", "configurable")]
    text = '{"description": "calls gpt-4o", "model": "gpt-4o", "notes": "key sk-proj-FAKEfakeFAKEfakeFAKEfake"}\n'
    assert found(tmp_path, "x.json", text) == [(1, "model_id", "gpt-4o", "hard_coded"),
                                               (1, "api_key", "sk-p***", "hard_coded")]
