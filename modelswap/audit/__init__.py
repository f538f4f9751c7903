"""``modelswap audit``: find every hard-coded model dependency in a tree, before a swap needs them gone.

It reports model ids (API models and open-weight models: HF ids, Ollama tags), weight files (GGUF), inference
endpoints, hand-written chat-template tokens and literal API keys in Python, notebooks, YAML (Kubernetes,
Kestra, compose, modelswap configs), JSON, TOML, ``.env`` files and Dockerfiles, and says for each whether it is
*hard-coded* (an edit to code, an image or a manifest is needed to swap) or already *configurable* (modelswap
config, ConfigMap data, ``.env``, or the default of an environment lookup). The rules are in
:mod:`modelswap.audit._rules`; the patterns, dated and sourced, in ``patterns.json``.

```python
from modelswap import audit

report = audit.scan("path/to/repo")                  # respects .gitignore
print(audit.format_table(report))
for f in report.hard_coded:
    print(f.file, f.line, f.kind, f.match, f.fix)
open("audit.sarif", "w").write(audit.to_sarif(report))  # GitHub code scanning
```
"""

from __future__ import annotations

from ._format import FORMATS, format_table, run_audit, to_json
from ._patterns import KINDS, load_patterns
from ._report import AuditReport, Finding
from ._sarif import sarif_log, to_sarif
from ._scan import scan
from ._walk import iter_files

__all__ = [
    "FORMATS",
    "KINDS",
    "AuditReport",
    "Finding",
    "format_table",
    "iter_files",
    "load_patterns",
    "run_audit",
    "sarif_log",
    "scan",
    "to_json",
    "to_sarif",
]
