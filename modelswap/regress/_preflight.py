"""Pre-flight: can the candidate run this suite at all, and may we use it? Checked before any call is made.

Each check is a dict ``{"name", "passed", "detail"}``; a failed one stops the regression with verdict ``hold``
(nothing measured yet), and says what to change. Checks: the suite's generation params (supported, or dropped
by the model's config), JSON output (native or by instructions), streaming, the context length the longest
case needs, and the license against a policy (for example ``allow: [Apache-2.0, MIT]``, ``deny: [CC-BY-NC-4.0]``;
any license naming non-commercial or research-only use is denied under a policy unless allowed by name).
"""

from __future__ import annotations

import re
from typing import Any, Mapping

__all__ = ["NON_COMMERCIAL", "preflight"]

NON_COMMERCIAL = re.compile(r"(^|[^a-z])(nc|non[- ]?commercial|research[- ]only|noncommercial)([^a-z]|$)", re.IGNORECASE)
_JSON_TYPES = frozenset({"is-json", "contains-json", "json-schema", "json-path"})


def preflight(client: Any, alias: str, suite: Any, *, license_policy: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The pre-flight checks of model ``alias`` for ``suite``; see the module docstring."""
    from .._client import GENERIC_PARAMS
    from .._provider import load_adapter

    spec = client.resolve(alias)
    adapter = load_adapter(spec.provider.kind)
    checks: list[dict[str, Any]] = []

    params = dict(getattr(suite, "params", None) or {})
    refused = sorted(
        name for name in params if name in GENERIC_PARAMS and name not in adapter.supported_params and not spec.dropped(name)
    )
    checks.append({
        "name": "params",
        "passed": not refused,
        "detail": (f"{spec.provider.kind} cannot honour {', '.join(refused)}; remove them from the suite's params or "
                   f"add them to models.{spec.alias}.drop_params") if refused
        else f"all of {', '.join(sorted(params)) or 'no params'} accepted",
    })

    wants_json = any(a.type.removeprefix("not-") in _JSON_TYPES for case in suite.cases for a in case.asserts)
    checks.append({
        "name": "json_output",
        "passed": True,
        "detail": ("the suite checks JSON; " if wants_json else "")
        + ("native JSON Schema mode" if adapter.native_schema else "JSON by prompt instructions, validated"),
    })
    checks.append({"name": "streaming", "passed": True, "detail": f"yes ({adapter.stream_format})"})

    needed = suite.required_context_tokens() if hasattr(suite, "required_context_tokens") else None
    window = spec.context_window
    if needed is None or window is None:
        checks.append({
            "name": "context",
            "passed": True,
            "detail": f"about {needed} tokens needed; context window unknown (set models.{spec.alias}.context_window)"
            if window is None else f"window {window} tokens",
        })
    else:
        checks.append({
            "name": "context",
            "passed": needed <= window,
            "detail": f"the longest case needs about {needed} tokens; the window is {window}"
            + ("" if needed <= window else ": shorten the cases or pick a model with a larger context"),
        })

    if license_policy:
        checks.append(_license_check(spec, license_policy))
    return checks


def _license_check(spec: Any, policy: Mapping[str, Any]) -> dict[str, Any]:
    allow = [str(x).lower() for x in policy.get("allow") or []]
    deny = [str(x).lower() for x in policy.get("deny") or []]
    license_ = spec.license
    if not license_:
        return {"name": "license", "passed": False,
                "detail": f"the license of {spec.alias} is unknown: set models.{spec.alias}.license so the policy can be checked"}
    name = license_.lower()
    if name in deny:
        return {"name": "license", "passed": False, "detail": f"{license_} is denied by the license policy"}
    if allow and name not in allow:
        return {"name": "license", "passed": False,
                "detail": f"{license_} is not in the allowed licenses ({', '.join(policy['allow'])})"}
    if not allow and NON_COMMERCIAL.search(license_):
        return {"name": "license", "passed": False,
                "detail": f"{license_} restricts commercial use; allow it by name in the policy if that is acceptable"}
    return {"name": "license", "passed": True, "detail": f"{license_} is allowed"}
