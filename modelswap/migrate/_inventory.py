"""Every model a team depends on, across environments, and how urgently each should move: ``modelswap inventory``.

Sources: each environment's config (``--config prod.yaml``, or ``--config prod=path.yaml`` to name the
environment; otherwise the file's stem names it), the model ids in an optional audit file, and an optional
usage file of monthly tokens.

**Weights**, first rule that answers wins: the config's ``weights``; a catalog match on the model id; the model
family (``gpt-*``, ``o1``/``o3``/``o4``, ``claude``, ``gemini`` are API-gated); the provider (kinds ``anthropic``,
``gemini``, ``vertex`` and the OpenAI endpoint itself are API-gated; local servers, ``ollama``, ``completion``,
vLLM, TGI, llama.cpp, LM Studio, and hosted open-model providers such as Groq or Together, serving a known
open family, are open-weight); otherwise ``unknown``.

**Urgency**, 0 to 100, deterministic::

    urgency = 100 x (0.6 x cost_exposure + 0.3 x vendor_risk + 0.1 x portability)

* ``cost_exposure``: the model's environment-weighted monthly cost divided by the largest in this inventory
  (so the most expensive dependency scores 1). Monthly cost per environment = config price x usage tokens;
  environment weights: prod 1.0, staging 0.5, dev/test/local 0.2, any other name 0.5. No price or no usage:
  0, and the JSON says so.
* ``vendor_risk`` = min(1, 0.6 if API-gated (0.3 if unknown) + 0.3 if the audit reports a deprecation or an
  announced change + 0.1 if the licence does not plainly allow commercial use (restricted, non-commercial or
  unknown)).
* ``portability`` (the inverse of the capability need: a model needing frontier capability is harder to move,
  so it is less urgent): 0 when ``frontier_required: true`` (usage or audit), 1 when ``false``; otherwise 1 for
  small tiers (mini, nano, flash, haiku, lite, instant, or open weights up to 34B), 0 for frontier tiers (opus,
  sonnet, gpt-4o, gpt-4.1, gpt-5, o1, o3, *-pro, open weights of 200B or more), 0.5 otherwise (mid-size open
  weights, or tier unknown).

The JSON gives each component's value, weight, contribution and basis, so every number can be checked by hand.

Audit file: JSON (``{"findings": [...]}`` or a list) or JSON Lines. A finding names its model in ``model_id``
or ``model``; in a ``modelswap audit`` report, findings of kind ``model_id`` or ``model_path`` name it in
``match`` (other kinds, endpoints, keys and prompt formats, are skipped); audit-log records of ``modelswap
promote``/``watch`` name aliases in ``from``/``to``. Optional: ``provider``, ``family``, ``env``/``environment``,
``file``, ``line``, ``deprecated`` (bool), ``notice``/``deprecation``/``change`` (text), ``frontier_required``
(bool). A finding is matched to a configured dependency by model id (and provider when it names one), then as
``provider/model_id``, then as an alias; otherwise it is a dependency of its own. When nothing else tells its
weights, an open family named by the audit makes it open-weight.

Usage file (YAML): environment -> alias -> ``{monthly_input_tokens, monthly_output_tokens, frontier_required}``.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, TextIO

from .._errors import ConfigError
from ._catalog import Catalog, CatalogEntry, family_of, load_catalog
from ._common import YamlDoc, fmt_money, fmt_tokens, load_yaml

__all__ = [
    "ENV_WEIGHTS",
    "URGENCY_WEIGHTS",
    "InventoryItem",
    "build_inventory",
    "classify_weights",
    "env_weight",
    "load_audit",
    "load_usage",
    "run_inventory",
]

URGENCY_WEIGHTS = {"cost_exposure": 0.6, "vendor_risk": 0.3, "portability": 0.1}
ENV_WEIGHTS = {"prod": 1.0, "staging": 0.5, "dev": 0.2, "other": 0.5}
_LOCAL_PROFILES = frozenset({"vllm", "llamacpp", "ollama", "tgi", "lmstudio", "llamacpp-completion", "tgi-completion",
                             "ollama-native"})
_LOCAL_KINDS = frozenset({"ollama", "completion"})
_API_KINDS = frozenset({"anthropic", "gemini", "vertex"})
_SMALL = re.compile(r"(mini|nano|flash|haiku|lite|instant|tiny)", re.IGNORECASE)
_FRONTIER = re.compile(r"(opus|sonnet|gpt-4o|gpt-4\.1|gpt-5|(^|[/:])o[13]($|-)|-pro($|-)|ultra)", re.IGNORECASE)
_USAGE_FIELDS = ("monthly_input_tokens", "monthly_output_tokens", "frontier_required")
_MODEL_KINDS = ("model_id", "model_path")


def env_weight(env: str) -> tuple[float, str]:
    """How much an environment's cost counts: prod 1.0, staging 0.5, dev/test/local 0.2, anything else 0.5."""
    name = env.lower()
    if "prod" in name or name in ("live", "prd"):
        return ENV_WEIGHTS["prod"], "prod"
    if "stag" in name or name in ("stg", "preprod", "uat"):
        return ENV_WEIGHTS["staging"], "staging"
    if any(word in name for word in ("dev", "test", "local", "sandbox")):
        return ENV_WEIGHTS["dev"], "dev"
    return ENV_WEIGHTS["other"], "other"


@dataclass(slots=True)
class Usage:
    input_tokens: float
    output_tokens: float


@dataclass(slots=True)
class Finding:
    model_id: str
    provider: str | None = None
    env: str | None = None
    where: str | None = None
    notice: str | None = None
    frontier_required: bool | None = None
    family: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Use:
    env: str
    alias: str | None
    price: Any = None
    usage: Usage | None = None
    license: str | None = None
    weights: str | None = None


@dataclass(slots=True)
class InventoryItem:
    """One model dependency (a provider and a model id) with where it is used and its urgency."""

    model_id: str
    provider: str | None
    kind: str | None
    environments: list[str]
    aliases: list[str]
    weights: str
    weights_basis: str
    license: str | None
    license_basis: str
    commercial_use: bool | str | None
    redistribution: str
    catalog_id: str | None
    urgency: float
    components: dict[str, dict[str, Any]]
    findings: list[dict[str, Any]] = field(default_factory=list)
    weighted_monthly_cost: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id, "provider": self.provider, "kind": self.kind,
            "environments": self.environments, "aliases": self.aliases, "weights": self.weights,
            "weights_basis": self.weights_basis, "license": self.license, "license_basis": self.license_basis,
            "commercial_use": self.commercial_use, "redistribution": self.redistribution,
            "catalog_id": self.catalog_id, "urgency": self.urgency, "components": self.components,
            "weighted_monthly_cost": self.weighted_monthly_cost, "findings": self.findings,
        }


# -- classification --------------------------------------------------------------------------------------
def _is_openai_endpoint(provider: Any) -> bool:
    return provider is not None and (getattr(provider, "profile", None) == "openai"
                                     or "api.openai.com" in (getattr(provider, "base_url", "") or ""))


def classify_weights(model_id: str, weights: str | None = None, provider: Any = None,
                     catalog: Catalog | None = None) -> tuple[str, str, CatalogEntry | None]:
    """``(open | api-gated | unknown, why, catalog entry)`` by the rules in the module docstring."""
    entry = catalog.find(model_id) if catalog is not None else None
    if weights:
        return weights, "config: weights", entry
    if entry is not None:
        return "open", f"catalog: {entry.id}", entry
    family = family_of(model_id)
    if family and family[1] == "api-gated":
        return "api-gated", f"model family {family[0]}", None
    kind = getattr(provider, "kind", None)
    profile = getattr(provider, "profile", None)
    name = getattr(provider, "name", None)
    if kind in _API_KINDS:
        return "api-gated", f"provider kind {kind}", None
    if _is_openai_endpoint(provider):
        return "api-gated", "provider: the OpenAI API", None
    if family:
        if kind in _LOCAL_KINDS or profile in _LOCAL_PROFILES:
            return "open", f"{family[0]} family on a local server ({name or kind})", None
        return "open", f"{family[0]} family" + (f" served by {name}" if name else ""), None
    return "unknown", ("no weights field, no catalog match, unknown family"
                       + (f" (provider {name}, kind {kind})" if name or kind else "")), None


def _portability(model_id: str, entry: CatalogEntry | None, weights: str, flag: bool | None) -> tuple[float, str]:
    if flag is True:
        return 0.0, "frontier_required: true (hard to move)"
    if flag is False:
        return 1.0, "frontier_required: false"
    if entry is not None:
        if entry.params_b <= 34:
            return 1.0, f"open weights, {entry.params_b:g}B (small tier)"
        if entry.params_b >= 200:
            return 0.0, f"open weights, {entry.params_b:g}B (frontier tier)"
        return 0.5, f"open weights, {entry.params_b:g}B (mid tier)"
    if _SMALL.search(model_id):
        return 1.0, "small tier by name"
    if _FRONTIER.search(model_id):
        return 0.0, "frontier tier by name (hard to move)"
    return 0.5, "tier unknown"


# -- inputs ----------------------------------------------------------------------------------------------
def _env_configs(specs: Sequence[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for spec in specs:
        env, sep, path = spec.partition("=")
        if not sep or "/" in env or not env:
            path, env = spec, Path(spec).stem
        if any(env == e for e, _ in out):
            raise ConfigError(f"--config {spec}: environment {env!r} is given twice; name them as ENV=PATH.",
                              field="--config")
        out.append((env, path))
    return out


class Usages(dict):  # type: ignore[type-arg]
    """``{(env, alias): (Usage or None, frontier_required or None)}``; ``ignored``: environments of the usage
    file with no ``--config`` this run (a partial inventory)."""

    ignored: list[str]

    def __init__(self) -> None:
        super().__init__()
        self.ignored = []


def load_usage(path: str | Path, configs: Mapping[str, Any]) -> Usages:
    """The usage YAML (see the module docstring), for the environments in ``configs``.

    An environment the run has no config for is ignored (listed in ``ignored``) unless its name is close to one
    it has, which is taken for a typo.

    Raises:
        ConfigError: a misspelt environment, an unknown alias, or a bad number; with file, line and field.
    """
    import difflib

    doc: YamlDoc = load_yaml(path, "usage file")
    out = Usages()
    for env, aliases in doc.data.items():
        env = str(env)
        if env not in configs:
            close = difflib.get_close_matches(env, list(configs), n=1)
            if not close:
                out.ignored.append(env)
                continue
            raise doc.error((env,), f"no --config for environment {env!r}; did you mean {close[0]!r}? "
                                    f"Environments: {', '.join(configs)}.")
        if not isinstance(aliases, Mapping):
            raise doc.error((env,), "expected alias: {monthly_input_tokens: ..., monthly_output_tokens: ...} entries.")
        for alias in aliases:
            alias = str(alias)
            if alias not in configs[env].models:
                raise doc.error((env, alias), f"{alias!r} is not a model alias in {configs[env].source}. Aliases: "
                                              f"{', '.join(sorted(configs[env].models)) or 'none'}.")
            values = doc.section((env, alias), _USAGE_FIELDS)
            tokens = None
            if "monthly_input_tokens" in values or "monthly_output_tokens" in values:
                tokens = Usage(doc.number((env, alias, "monthly_input_tokens"), values.get("monthly_input_tokens", 0)),
                               doc.number((env, alias, "monthly_output_tokens"), values.get("monthly_output_tokens", 0)))
            frontier = (doc.boolean((env, alias, "frontier_required"), values["frontier_required"])
                        if "frontier_required" in values else None)
            out[(env, alias)] = (tokens, frontier)
    return out


def load_audit(path: str | Path) -> list[Finding]:
    """The model ids in an audit file (JSON, or JSON Lines). See the module docstring for the accepted fields.

    Raises:
        ConfigError: unreadable file, invalid JSON (with its line), or a finding that names no model.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the audit file ({exc.strerror or exc}). Check --audit.",
                          file=source, field="--audit") from None
    records: list[tuple[int | None, Any]]
    try:
        data = json.loads(text)
        if isinstance(data, Mapping):
            items = data.get("findings", data.get("models"))
            if items is None:
                items = [data]
        else:
            items = data
        if not isinstance(items, list):
            raise ConfigError(f"{source}: `findings` must be a list of findings.", file=source, field="findings")
        records = [(None, item) for item in items]
    except json.JSONDecodeError as whole:
        # Not one JSON document: JSON Lines, unless its first line is not JSON either.
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                bad, why = (number, exc.msg) if records else (whole.lineno, whole.msg)
                raise ConfigError(f"{source}:{bad}: not valid JSON or JSON Lines ({why}).", file=source,
                                  line=bad) from None
    findings: list[Finding] = []
    for index, (line, item) in enumerate(records):
        where = f"{source}:{line}" if line else f"{source}: findings[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where}: a finding must be a JSON object.", file=source, line=line)
        kind = item.get("kind")
        if kind is not None and kind not in _MODEL_KINDS:
            continue  # `modelswap audit` also reports endpoints, keys and prompt formats: not model dependencies
        ids = [item.get(k) for k in ("model_id", "model") if isinstance(item.get(k), str) and item.get(k)]
        if not ids and kind in _MODEL_KINDS and isinstance(item.get("match"), str) and item["match"].strip():
            ids = [item["match"].strip().strip("\"'")]
        if not ids:
            ids = [item.get(k) for k in ("from", "to") if isinstance(item.get(k), str) and item.get(k)]
        if not ids:
            raise ConfigError(f"{where}: the finding names no model: give `model_id` (or `model`).", file=source, line=line,
                              field="model_id")
        notice = next((str(item[k]) for k in ("notice", "deprecation", "change", "vendor_change") if item.get(k)), None)
        if notice is None and item.get("deprecated") is True:
            notice = "deprecated"
        location = None
        if item.get("file"):
            location = f"{item['file']}:{item['line']}" if item.get("line") else str(item["file"])
        frontier = item.get("frontier_required") if isinstance(item.get("frontier_required"), bool) else None
        family = item.get("family") if isinstance(item.get("family"), str) else None
        for model_id in dict.fromkeys(ids):
            findings.append(Finding(model_id=str(model_id), provider=item.get("provider"),
                                    env=item.get("env") or item.get("environment"), where=location, notice=notice,
                                    frontier_required=frontier, family=family, raw=dict(item)))
    return findings


# -- the inventory ---------------------------------------------------------------------------------------
def build_inventory(configs: Mapping[str, Any], *, audit: Iterable[Finding] = (),
                    usage: Mapping[tuple[str, str], tuple[Usage | None, bool | None]] | None = None,
                    catalog: Catalog | None = None) -> list[InventoryItem]:
    """Every model dependency in ``configs`` (environment -> loaded Config) and ``audit``, most urgent first."""
    usage = usage or {}
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row(provider_name: str | None, provider: Any, model_id: str) -> dict[str, Any]:
        key = (provider_name or "", model_id)
        if key not in rows:
            rows[key] = {"provider": provider_name, "spec": provider, "model_id": model_id, "uses": [], "findings": [],
                         "frontier": None}
        return rows[key]

    for env, config in configs.items():
        for alias, spec in config.models.items():
            r = row(spec.provider.name, spec.provider, spec.model_id)
            tokens, frontier = usage.get((env, alias), (None, None))
            r["uses"].append(_Use(env=env, alias=alias, price=spec.price, usage=tokens, license=spec.license,
                                  weights=spec.weights))
            if frontier is not None:
                r["frontier"] = frontier if r["frontier"] is None else (r["frontier"] or frontier)
    for finding in audit:
        matches = _matching_rows(rows, finding)
        if not matches:
            provider = None
            if finding.provider:
                from .._presets import PRESETS

                preset = PRESETS.get(finding.provider)
                if preset:
                    provider = _PresetView(finding.provider, preset)
            matches = [row(finding.provider, provider, finding.model_id)]
        for r in matches:
            r["findings"].append(finding)
            if finding.frontier_required is not None and r["frontier"] is None:
                r["frontier"] = finding.frontier_required
            if finding.env and not any(u.env == finding.env for u in r["uses"]):
                r["uses"].append(_Use(env=str(finding.env), alias=None))

    items = [_item(r, catalog) for r in rows.values()]
    top = max((i.weighted_monthly_cost or 0.0 for i in items), default=0.0)
    for item in items:
        cost = item.components["cost_exposure"]
        cost["value"] = round((item.weighted_monthly_cost or 0.0) / top, 6) if top > 0 else 0.0
        if top > 0:
            cost["basis"] += f"; divided by the largest in this inventory, {fmt_money(top)}"
        total = 0.0
        for name, weight in URGENCY_WEIGHTS.items():
            part = item.components[name]
            part["weight"] = weight
            part["contribution"] = round(100 * weight * part["value"], 4)
            total += weight * part["value"]
        item.urgency = round(100 * total, 2)
    items.sort(key=lambda i: (-i.urgency, -(i.weighted_monthly_cost or 0.0), i.model_id, i.provider or ""))
    return items


def _matching_rows(rows: Mapping[tuple[str, str], dict[str, Any]], finding: Finding) -> list[dict[str, Any]]:
    """Rows a finding refers to: by model id (and provider, when the finding names one), then as
    ``provider/model_id``, then as a configured alias (audit-log records name aliases)."""
    ref = finding.model_id
    same = [r for r in rows.values() if r["model_id"].lower() == ref.lower()
            and (finding.provider is None or r["provider"] == finding.provider)]
    if same:
        return same
    provider, sep, model_id = ref.partition("/")
    if sep:
        same = [r for r in rows.values() if r["provider"] == provider and r["model_id"] == model_id]
        if same:
            return same
    return [r for r in rows.values() if any(u.alias == ref for u in r["uses"])]


@dataclass(frozen=True, slots=True)
class _PresetView:
    name: str
    preset: Mapping[str, Any]

    @property
    def kind(self) -> str | None:
        return self.preset.get("kind")

    @property
    def profile(self) -> str | None:
        return self.preset.get("profile") or self.name

    @property
    def base_url(self) -> str:
        return str(self.preset.get("base_url", ""))


def _item(r: dict[str, Any], catalog: Catalog | None) -> InventoryItem:
    uses: list[_Use] = r["uses"]
    configured = next((u.weights for u in uses if u.weights), None)
    weights, basis, entry = classify_weights(r["model_id"], configured, r["spec"], catalog)
    audit_family = next((f.family for f in r["findings"] if f.family), None)
    if weights == "unknown" and audit_family and (family_of(audit_family) or ("", ""))[1] == "open":
        weights, basis = "open", f"audit: {audit_family} family"
    config_license = next((u.license for u in uses if u.license), None)
    if config_license:
        license, license_basis = config_license, "config"
    elif entry is not None:
        license, license_basis = entry.license, f"catalog: {entry.id}"
    elif weights == "api-gated":
        license, license_basis = "vendor terms of service", "API-gated: the vendor's terms"
    else:
        license, license_basis = None, "unknown: set models.<alias>.license"
    if entry is not None and (not config_license or config_license == entry.license):
        commercial = entry.commercial_use
    else:
        commercial = None
    if weights == "api-gated":
        redistribution = "no (weights are not distributed)"
    elif entry is not None:
        redistribution = entry.redistribution + (f": {entry.redistribution_terms}" if entry.redistribution_terms else "")
    else:
        redistribution = "unknown"

    # Cost exposure: environment-weighted monthly cost.
    by_env: dict[str, Any] = {}
    weighted = 0.0
    known = False
    for u in uses:
        w, tier = env_weight(u.env)
        if u.alias is None:
            by_env.setdefault(u.env, {"env_weight": w, "tier": tier, "monthly_cost": None, "basis": "audit only"})
            continue
        if u.price is None or u.usage is None:
            why = "no price in the config" if u.price is None else "no usage given"
            by_env[f"{u.env}/{u.alias}"] = {"env_weight": w, "tier": tier, "monthly_cost": None, "basis": why}
            continue
        cost = u.price.cost(u.usage.input_tokens, u.usage.output_tokens)
        by_env[f"{u.env}/{u.alias}"] = {
            "env_weight": w, "tier": tier, "monthly_cost": round(cost, 6),
            "basis": f"{fmt_tokens(u.usage.input_tokens)} in x {u.price.input_per_mtok:g} + "
                     f"{fmt_tokens(u.usage.output_tokens)} out x {u.price.output_per_mtok:g} per 1M",
        }
        weighted += w * cost
        known = True
    cost_component = {
        "value": 0.0,
        "weighted_monthly_cost": round(weighted, 6) if known else None,
        "by_environment": by_env,
        "basis": "sum of env_weight x monthly_cost" if known else "unknown: no price x usage for any environment",
    }

    # Vendor risk.
    factors = []
    risk = 0.0
    if weights == "api-gated":
        risk += 0.6
        factors.append("API-gated: the vendor controls access, price and terms (+0.6)")
    elif weights == "unknown":
        risk += 0.3
        factors.append("weights unknown (+0.3)")
    notices = sorted({f.notice for f in r["findings"] if f.notice})
    if notices:
        risk += 0.3
        factors.append(f"announced change: {'; '.join(notices)} (+0.3)")
    if commercial is not True:
        risk += 0.1
        factors.append("licence does not plainly allow commercial use"
                       + (f" ({commercial})" if commercial is not None else " (unknown)") + " (+0.1)")
    risk = min(1.0, risk)

    portability, why = _portability(r["model_id"], entry, weights, r["frontier"])
    envs = sorted(dict.fromkeys(u.env for u in uses), key=lambda e: (-env_weight(e)[0], e))
    findings = [{"model_id": f.model_id, "where": f.where, "env": f.env, "notice": f.notice} for f in r["findings"]]
    spec = r["spec"]
    return InventoryItem(
        model_id=r["model_id"], provider=r["provider"], kind=getattr(spec, "kind", None), environments=envs,
        aliases=sorted({u.alias for u in uses if u.alias}), weights=weights, weights_basis=basis, license=license,
        license_basis=license_basis, commercial_use=commercial, redistribution=redistribution,
        catalog_id=entry.id if entry else None, urgency=0.0,
        components={
            "cost_exposure": cost_component,
            "vendor_risk": {"value": round(risk, 6), "factors": factors or ["open weights, plainly licensed"]},
            "portability": {"value": portability, "basis": why},
        },
        findings=findings, weighted_monthly_cost=round(weighted, 6) if known else None,
    )


# -- the command -----------------------------------------------------------------------------------------
def format_table(items: Sequence[InventoryItem]) -> str:
    header = ["URGENCY", "MODEL", "PROVIDER", "ENVIRONMENTS", "WEIGHTS", "LICENSE", "REDISTRIBUTION", "WEIGHTED $/MONTH"]
    rows = [header]
    for i in items:
        rows.append([
            f"{i.urgency:.1f}", i.model_id, i.provider or "-", ",".join(i.environments) or "-", i.weights,
            i.license or "unknown", i.redistribution.split(":", 1)[0],
            fmt_money(i.weighted_monthly_cost) if i.weighted_monthly_cost is not None else "unknown",
        ])
    widths = [max(len(r[k]) for r in rows) for k in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    lines.append("")
    lines.append("urgency = 100 x (0.6 x cost exposure + 0.3 x vendor risk + 0.1 x portability); --json shows each part")
    for i in items:
        if i.findings:
            lines.append(f"{i.model_id}: {len(i.findings)} audit finding(s)"
                         + "".join(f"; {f['where']}" for f in i.findings if f.get("where")))
    return "\n".join(lines)


def run_inventory(configs: Sequence[str], audit: str | Path | None = None, usage: str | Path | None = None,
                  as_json: bool = False, catalog: str | Path | None = None, out: TextIO | None = None,
                  err: TextIO | None = None) -> int:
    """``modelswap inventory --config dev.yaml --config prod.yaml [--audit F] [--usage F] [--json]``.
    Exit 0, or 2 for bad input."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if not configs:
            raise ConfigError("inventory needs at least one --config FILE (one per environment, e.g. --config "
                              "dev.yaml --config prod.yaml).", field="--config")
        from .._config import load_config

        loaded = {env: load_config(path) for env, path in _env_configs(configs)}
        cat = load_catalog(catalog)
        findings = load_audit(audit) if audit else []
        volumes = load_usage(usage, loaded) if usage else {}
        items = build_inventory(loaded, audit=findings, usage=volumes, catalog=cat)
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        return 2
    if as_json:
        print(json.dumps({
            "environments": {env: {"config": c.source, "weight": env_weight(env)[0]} for env, c in loaded.items()},
            "audit": str(audit) if audit else None,
            "usage": str(usage) if usage else None,
            "usage_ignored": list(getattr(volumes, "ignored", [])),
            "catalog": {"source": cat.source, "updated": cat.updated},
            "formula": {
                "urgency": "100 x (0.6 x cost_exposure + 0.3 x vendor_risk + 0.1 x portability)",
                "cost_exposure": "sum(env_weight x price x usage) / the largest such sum in this inventory",
                "env_weights": ENV_WEIGHTS,
                "vendor_risk": "min(1, 0.6 API-gated | 0.3 weights unknown, + 0.3 announced change, + 0.1 licence "
                               "not plainly commercial)",
                "portability": "0 frontier-required or frontier tier, 1 small tier or frontier_required: false, 0.5 unknown",
            },
            "models": [i.to_dict() for i in items],
        }, indent=2), file=out)
    else:
        print(format_table(items), file=out)
        ignored = getattr(volumes, "ignored", [])
        if ignored:
            print(f"usage for {', '.join(ignored)} ignored: no --config for {'it' if len(ignored) == 1 else 'them'}",
                  file=out)
    return 0
