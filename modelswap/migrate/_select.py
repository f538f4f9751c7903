"""Which model to move to: ``modelswap select`` ranks the config's models and the open-weight catalog.

Candidates are screened, then scored:

1. **Licence** (hard filter) against a policy: ``deny`` wins; with an ``allow`` list only listed licences pass
   (an unknown licence cannot be shown to be on it); non-commercial licences are denied unless allowed by name or
   with ``noncommercial=allow``. Terms are matched as whole words, case-insensitively, so ``allow=Gemma`` admits
   "Gemma Terms of Use" and ``MIT`` never matches "Community".
2. **Context** (hard filter): a known context window below the need is excluded; unknown passes, scored 0.5.
3. **Size** (hard filter, ``--max-params``): a known parameter count above the limit is excluded.

Score, each part in [0, 1]::

    total    = 0.6 x fit + 0.3 x cost_score + 0.1 x context_score
    quality  = sum(w_b x score_b / 100) / sum(w_b)      over the task's benchmarks the model has
    coverage = sum(w_b)                                  the share of the task's weight those benchmarks carry
    fit      = quality x (0.5 + 0.5 x coverage)          a missing benchmark lowers confidence, so the fit
    cost_score    = 1 / (1 + cost_per_mtok / 1.00)       $1 per million tokens scores 0.5; unknown scores 0.5
    context_score = 1 when the window is known (and meets the need), 0.5 when unknown

Task weights (:data:`TASK_WEIGHTS`): general = MMLU .4, MMLU-Pro .3, GSM8K .1, MATH .1, HumanEval .1;
code = HumanEval .7, MMLU-Pro .15, MMLU .15; math = MATH .5, GSM8K .3, MMLU-Pro .2. Scores are the catalog's,
each with its source; vendors use different settings, so treat the ranking as a shortlist for
``modelswap regress``, not a verdict.

Cost per million tokens (at ``input_share`` input, default 75%): the config's price when the model has one;
otherwise, for open weights with a known size, a rough self-host estimate:

* throughput per 80 GB GPU ~ ``20,000 / active billions of parameters`` tokens/s (8B ~ 2,500 tokens/s, 70B ~ 290):
  a deliberately conservative batched-serving figure; measure your own and put it in ``modelswap cost``;
* GPUs to hold the weights = ``ceil(params x 2 bytes (bf16) x 1.2 (KV cache, activations) / gpu_memory_gb)``;
* ``cost_per_mtok = gpu_monthly_cost / (tokens_per_s x utilization x 730 h x 3600 s) x 1e6`` (a replica of N
  GPUs serves N times the throughput, so N cancels); the monthly floor is ``gpus x gpu_monthly_cost``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, TextIO

from .._errors import ConfigError
from ._catalog import Catalog, CatalogEntry, Score, family_of, load_catalog
from ._common import fmt_money

__all__ = [
    "NON_COMMERCIAL",
    "TASK_WEIGHTS",
    "Candidate",
    "Need",
    "Policy",
    "Ranked",
    "candidates_from_catalog",
    "candidates_from_config",
    "license_verdict",
    "parse_policy",
    "rank",
    "run_select",
    "self_host_estimate",
]

TASK_WEIGHTS: dict[str, dict[str, float]] = {
    "general": {"MMLU": 0.4, "MMLU-Pro": 0.3, "GSM8K": 0.1, "MATH": 0.1, "HumanEval": 0.1},
    "code": {"HumanEval": 0.7, "MMLU-Pro": 0.15, "MMLU": 0.15},
    "math": {"MATH": 0.5, "GSM8K": 0.3, "MMLU-Pro": 0.2},
}
WEIGHTS = {"fit": 0.6, "cost": 0.3, "context": 0.1}
COST_REFERENCE_PER_MTOK = 1.0
TOKENS_PER_S_8B = 20_000.0  # tokens/s per GPU x active billions of params: 8B -> 2,500 tokens/s
NON_COMMERCIAL = re.compile(r"(^|[^a-z])(nc|non[- ]?commercial|noncommercial|research[- ]only|research license)([^a-z]|$)",
                            re.IGNORECASE)
_HOURS_PER_MONTH = 730.0


@dataclass(frozen=True, slots=True)
class Policy:
    """Licence policy: ``allow`` (empty: any licence not denied), ``deny``, and whether non-commercial passes."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    allow_noncommercial: bool = False

    def describe(self) -> str:
        parts = []
        if self.allow:
            parts.append("allow " + ", ".join(self.allow))
        if self.deny:
            parts.append("deny " + ", ".join(self.deny))
        parts.append("non-commercial " + ("allowed" if self.allow_noncommercial else "denied"))
        return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class Need:
    task: str = "general"
    context_tokens: int | None = None
    max_params_b: float | None = None
    gpu_memory_gb: float = 80.0
    gpu_monthly_cost: float = 2500.0
    utilization: float = 0.6
    input_share: float = 0.75


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    name: str
    origin: str  # "catalog" or "config"
    weights: str | None = None  # open | api-gated | None (unknown)
    family: str | None = None
    params_b: float | None = None
    active_params_b: float | None = None
    license: str | None = None
    license_url: str | None = None
    commercial_use: bool | str | None = None
    context_window: int | None = None
    scores: Mapping[str, Score] = field(default_factory=dict)
    price_input_per_mtok: float | None = None
    price_output_per_mtok: float | None = None
    provider: str | None = None
    model_id: str | None = None
    catalog_id: str | None = None
    prompt_format: str | None = None


@dataclass(slots=True)
class Ranked:
    candidate: Candidate
    total: float
    fit: float
    quality: float
    coverage: float
    cost_per_mtok: float | None
    cost_basis: str
    cost_score: float
    context_score: float
    gpus_for_weights: int | None = None
    reasons: list[str] = field(default_factory=list)
    excluded: str | None = None
    rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.candidate
        return {
            "rank": self.rank,
            "id": c.id,
            "name": c.name,
            "origin": c.origin,
            "provider": c.provider,
            "model_id": c.model_id,
            "catalog_id": c.catalog_id,
            "weights": c.weights,
            "family": c.family,
            "params_b": c.params_b,
            "license": c.license,
            "license_url": c.license_url,
            "commercial_use": c.commercial_use,
            "context_window": c.context_window,
            "prompt_format": c.prompt_format,
            "score": round(self.total, 4),
            "components": {
                "fit": round(self.fit, 4),
                "quality": round(self.quality, 4),
                "coverage": round(self.coverage, 4),
                "cost_score": round(self.cost_score, 4),
                "context_score": round(self.context_score, 4),
            },
            "cost_per_mtok": None if self.cost_per_mtok is None else round(self.cost_per_mtok, 4),
            "cost_basis": self.cost_basis,
            "gpus_for_weights": self.gpus_for_weights,
            "benchmarks": {k: v.to_dict() for k, v in c.scores.items()},
            "reasons": self.reasons,
            "excluded": self.excluded,
        }


# -- policy --------------------------------------------------------------------------------------------
def parse_policy(specs: str | Iterable[str] | None) -> Policy:
    """``"allow=Apache-2.0,MIT deny=CC-BY-NC-4.0 noncommercial=deny"``; several strings combine.

    Raises:
        ConfigError: a part that is not ``allow=``, ``deny=`` or ``noncommercial=allow|deny``.
    """
    if specs is None:
        return Policy()
    if isinstance(specs, str):
        specs = [specs]
    allow: list[str] = []
    deny: list[str] = []
    noncommercial = False
    for spec in specs:
        for part in re.split(r"[\s;]+(?=[A-Za-z_-]+=)", spec.strip()):
            if not part:
                continue
            key, sep, value = part.partition("=")
            key = key.strip().lower().replace("-", "_")
            items = [v.strip() for v in value.split(",") if v.strip()]
            if not sep or not items:
                raise ConfigError(f"--policy {part!r}: write it as allow=Apache-2.0,MIT deny=CC-BY-NC-4.0.", field="--policy")
            if key == "allow":
                allow += items
            elif key == "deny":
                deny += items
            elif key in ("noncommercial", "non_commercial"):
                if items[0].lower() not in ("allow", "deny"):
                    raise ConfigError(f"--policy {part!r}: noncommercial takes allow or deny.", field="--policy")
                noncommercial = items[0].lower() == "allow"
            else:
                raise ConfigError(f"--policy {part!r}: unknown key {key!r}; use allow=, deny= or noncommercial=.",
                                  field="--policy")
    return Policy(tuple(allow), tuple(deny), noncommercial)


def _names(term: str, text: str) -> bool:
    return re.search(r"(?<![A-Za-z0-9])" + re.escape(term) + r"(?![A-Za-z0-9])", text, re.IGNORECASE) is not None


def license_verdict(license: str | None, commercial_use: bool | str | None, policy: Policy) -> tuple[bool, str]:
    """Whether a licence passes ``policy``, and why, in words."""
    if license:
        for term in policy.deny:
            if _names(term, license):
                return False, f"{license} denied by the policy ({term})"
    allowed_by_name = bool(license) and any(_names(term, license) for term in policy.allow)
    if policy.allow and not allowed_by_name:
        if not license:
            return False, "licence unknown, so it cannot be shown to be on the allow list (set it in the config)"
        return False, f"{license} is not on the allow list ({', '.join(policy.allow)})"
    non_commercial = commercial_use is False or (bool(license) and NON_COMMERCIAL.search(license or "") is not None)
    if non_commercial and not (allowed_by_name or policy.allow_noncommercial):
        return False, f"{license or 'the licence'} does not allow commercial use (allow it by name, or noncommercial=allow)"
    if not license:
        return True, "licence unknown (no policy to check it against; set it in the config)"
    text = f"{license} allowed"
    if commercial_use == "restricted":
        text += " (commercial use with conditions: read the terms)"
    elif non_commercial:
        text += " (non-commercial, allowed by the policy)"
    return True, text


# -- candidates ------------------------------------------------------------------------------------------
def candidates_from_catalog(catalog: Catalog) -> list[Candidate]:
    return [_from_entry(entry) for entry in catalog]


def _from_entry(entry: CatalogEntry) -> Candidate:
    return Candidate(
        id=entry.id, name=entry.name, origin="catalog", weights="open", family=entry.family, params_b=entry.params_b,
        active_params_b=entry.active_params_b, license=entry.license, license_url=entry.license_url,
        commercial_use=entry.commercial_use, context_window=entry.context_window, scores=dict(entry.scores),
        model_id=entry.hf_repo or entry.id, catalog_id=entry.id, prompt_format=entry.prompt_format,
    )


def candidates_from_config(config: Any, catalog: Catalog | None = None) -> list[Candidate]:
    """One candidate per configured model (aliases of the same model id on the same host collapse into the
    first), with what the catalog knows about its weights filled in where the config is silent."""
    from urllib.parse import urlsplit

    out: list[Candidate] = []
    seen: set[tuple[str, str]] = set()
    for alias, spec in config.models.items():
        key = (urlsplit(spec.provider.base_url).netloc or spec.provider.base_url, spec.model_id)
        if key in seen:
            continue
        seen.add(key)
        entry = catalog.find(spec.model_id) if catalog is not None else None
        guess = family_of(spec.model_id)
        weights = spec.weights or ("open" if entry else (guess[1] if guess else None))
        price = spec.price
        base = _from_entry(entry) if entry else Candidate(id="", name="", origin="config")
        out.append(replace(
            base,
            id=f"config:{alias}",
            name=f"{alias} ({spec.provider.name}/{spec.model_id})",
            origin="config",
            weights=weights,
            family=entry.family if entry else (guess[0] if guess else None),
            license=spec.license or (entry.license if entry else None),
            license_url=entry.license_url if entry and not spec.license else None,
            commercial_use=(entry.commercial_use if entry and (not spec.license or spec.license == entry.license)
                            else None),
            context_window=spec.context_window or (entry.context_window if entry else None),
            price_input_per_mtok=price.input_per_mtok if price else None,
            price_output_per_mtok=price.output_per_mtok if price else None,
            provider=spec.provider.name,
            model_id=spec.model_id,
            catalog_id=entry.id if entry else None,
            prompt_format=spec.prompt_format or (entry.prompt_format if entry else None),
        ))
    return out


# -- scoring ---------------------------------------------------------------------------------------------
def self_host_estimate(params_b: float, active_params_b: float | None, need: Need) -> tuple[float, int]:
    """``(cost per million tokens, GPUs to hold the weights)`` by the rough heuristic in the module docstring."""
    active = active_params_b or params_b
    tokens_per_s = TOKENS_PER_S_8B / active
    gpus = max(1, math.ceil(params_b * 2 * 1.2 / need.gpu_memory_gb - 1e-9))
    per_mtok = need.gpu_monthly_cost / (tokens_per_s * need.utilization * _HOURS_PER_MONTH * 3600) * 1e6
    return per_mtok, gpus


def _short_source(url: str) -> str:
    return re.sub(r"^https?://(www\.)?", "", url).rstrip("/")


def _ctx(tokens: int) -> str:
    return f"{tokens // 1024}k" if tokens % 1024 == 0 and tokens >= 1024 else f"{tokens:,}"


def _score(c: Candidate, policy: Policy, need: Need) -> Ranked:
    weights = TASK_WEIGHTS[need.task]
    reasons: list[str] = []
    excluded: str | None = None

    ok, why = license_verdict(c.license, c.commercial_use, policy)
    reasons.append(why)
    if not ok:
        excluded = f"licence: {why}"

    present = {b: w for b, w in weights.items() if b in c.scores}
    coverage = sum(present.values())
    quality = sum(w * c.scores[b].value / 100 for b, w in present.items()) / coverage if coverage else 0.0
    fit = quality * (0.5 + 0.5 * coverage)
    if present:
        by_source: dict[tuple[str, bool], list[str]] = {}
        for b in sorted(present, key=lambda b: -weights[b]):
            s = c.scores[b]
            by_source.setdefault((s.source, s.verified), []).append(f"{b} {s.value:g}")
        shown = [f"{', '.join(items)} ({_short_source(source)}{'' if verified else ', unverified'})"
                 for (source, verified), items in by_source.items()]
        missing = [b for b in weights if b not in c.scores]
        level = "high" if coverage >= 0.8 else ("medium" if coverage >= 0.4 else "low")
        reasons.append("; ".join(shown) + (f"; missing {', '.join(missing)}" if missing else "")
                       + f" (confidence {level}, {coverage:.0%} of the {need.task} weight)")
    else:
        reasons.append(f"no public {need.task} benchmark in the catalog (confidence none): evaluate it with "
                       "`modelswap regress` before choosing")

    cost: float | None = None
    basis = "unknown"
    gpus: int | None = None
    if c.price_input_per_mtok is not None and c.price_output_per_mtok is not None:
        cost = need.input_share * c.price_input_per_mtok + (1 - need.input_share) * c.price_output_per_mtok
        basis = "config price"
        reasons.append(f"price {c.price_input_per_mtok:g}/{c.price_output_per_mtok:g} per 1M in/out (config): "
                       f"{fmt_money(cost)} per 1M at {need.input_share:.0%} input")
    if c.params_b is not None and c.weights != "api-gated":
        estimate, gpus = self_host_estimate(c.params_b, c.active_params_b, need)
        size = f"{c.params_b:g}B" + (f" ({c.active_params_b:g}B active)" if c.active_params_b else "")
        fits = (f"fits one {need.gpu_memory_gb:g} GB GPU" if gpus == 1
                else f"needs {gpus} x {need.gpu_memory_gb:g} GB GPUs ({fmt_money(gpus * need.gpu_monthly_cost)}/month floor)")
        if cost is None:
            cost, basis = estimate, "self-host estimate"
            reasons.append(f"{size} {fits}; self-host ~{fmt_money(estimate)} per 1M tokens (rough estimate)")
        else:
            reasons.append(f"{size} {fits}")
        if need.max_params_b is not None and c.params_b > need.max_params_b and excluded is None:
            excluded = f"size: {c.params_b:g}B > --max-params {need.max_params_b:g}B"
    elif cost is None:
        reasons.append("cost unknown: no price in the config and no parameter count")
    cost_score = 1 / (1 + cost / COST_REFERENCE_PER_MTOK) if cost is not None else 0.5

    if c.context_window is None:
        context_score = 0.5
        reasons.append("context window unknown" + (f"; {_ctx(need.context_tokens)} needed" if need.context_tokens else ""))
    else:
        context_score = 1.0
        if need.context_tokens:
            enough = c.context_window >= need.context_tokens
            reasons.append(f"context {_ctx(c.context_window)} {'>=' if enough else '<'} {_ctx(need.context_tokens)} needed")
            if not enough and excluded is None:
                excluded = f"context: {_ctx(c.context_window)} < {_ctx(need.context_tokens)} needed"
        else:
            reasons.append(f"context {_ctx(c.context_window)}")

    total = WEIGHTS["fit"] * fit + WEIGHTS["cost"] * cost_score + WEIGHTS["context"] * context_score
    return Ranked(candidate=c, total=total, fit=fit, quality=quality, coverage=coverage, cost_per_mtok=cost,
                  cost_basis=basis, cost_score=cost_score, context_score=context_score, gpus_for_weights=gpus,
                  reasons=reasons, excluded=excluded)


def rank(candidates: Sequence[Candidate], policy: Policy | None = None, need: Need | None = None, *,
         include_excluded: bool = False) -> list[Ranked]:
    """The candidates that pass the policy and the need, best first (``rank`` 1, 2, ...); with
    ``include_excluded``, the others follow with ``excluded`` saying why and no rank. Deterministic: ties go to the
    better fit, then the id."""
    policy = policy or Policy()
    need = need or Need()
    if need.task not in TASK_WEIGHTS:
        raise ConfigError(f"--task {need.task!r}: use one of {', '.join(TASK_WEIGHTS)}.", field="--task")
    scored = [_score(c, policy, need) for c in candidates]
    kept = sorted((r for r in scored if r.excluded is None), key=lambda r: (-round(r.total, 9), -r.fit, r.candidate.id))
    for k, r in enumerate(kept, 1):
        r.rank = k
    if not include_excluded:
        return kept
    dropped = sorted((r for r in scored if r.excluded is not None), key=lambda r: r.candidate.id)
    return kept + dropped


# -- the command -----------------------------------------------------------------------------------------
def run_select(config: str | Path | None = None, policy: str | Sequence[str] | None = None,
               need_context: int | None = None, max_params: float | None = None, task: str = "general", top: int = 5,
               as_json: bool = False, catalog: str | Path | None = None, out: TextIO | None = None,
               err: TextIO | None = None) -> int:
    """``modelswap select``: the shortlist with reasons per candidate. Exit 0, or 2 for bad input."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        if top < 1:
            raise ConfigError("--top must be at least 1.", field="--top")
        if need_context is not None and need_context < 1:
            raise ConfigError("--need-context must be a positive number of tokens.", field="--need-context")
        if max_params is not None and max_params <= 0:
            raise ConfigError("--max-params must be a positive number of billions.", field="--max-params")
        from .._config import load_config

        cat = load_catalog(catalog)
        cfg = load_config(config)
        candidates = candidates_from_config(cfg, cat) + candidates_from_catalog(cat)
        rules = parse_policy(policy)
        need = Need(task=task, context_tokens=need_context, max_params_b=max_params)
        ranked = rank(candidates, rules, need, include_excluded=True)
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        return 2
    kept = [r for r in ranked if r.excluded is None]
    dropped = [r for r in ranked if r.excluded is not None]
    if as_json:
        print(json.dumps({
            "task": task,
            "need": {"context_tokens": need_context, "max_params_b": max_params},
            "policy": {"allow": list(rules.allow), "deny": list(rules.deny), "noncommercial": rules.allow_noncommercial},
            "catalog": {"source": cat.source, "updated": cat.updated, "models": len(cat)},
            "config": cfg.source,
            "weights": {"total": WEIGHTS, "task": TASK_WEIGHTS[task]},
            "shortlist": [r.to_dict() for r in kept[:top]],
            "eligible": len(kept),
            "excluded": [{"id": r.candidate.id, "reason": r.excluded} for r in dropped],
        }, indent=2), file=out)
        return 0
    needs = [f"task {task}"]
    if need_context:
        needs.append(f"context >= {_ctx(need_context)}")
    if max_params:
        needs.append(f"<= {max_params:g}B params")
    print(f"shortlist ({', '.join(needs)}; policy: {rules.describe()})", file=out)
    print(f"candidates: {len(cfg.models)} configured in {cfg.source} + {len(cat)} open-weight models from the catalog "
          f"of {cat.updated}", file=out)
    if not kept:
        print("\nno candidate passes: loosen the policy, the context need or --max-params.", file=out)
    for r in kept[:top]:
        c = r.candidate
        print(f"\n{r.rank:>2}. {c.id}  {c.name}", file=out)
        cost = "unknown" if r.cost_per_mtok is None else f"{fmt_money(r.cost_per_mtok)}/1M ({r.cost_basis})"
        print(f"    score {r.total:.3f} = 0.6 x fit {r.fit:.3f} + 0.3 x cost {r.cost_score:.3f} + 0.1 x context "
              f"{r.context_score:.2f}; cost {cost}", file=out)
        for reason in r.reasons:
            print(f"    - {reason}", file=out)
    if dropped:
        kinds: dict[str, int] = {}
        for r in dropped:
            kind = (r.excluded or "").split(":", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1
        print(f"\nexcluded {len(dropped)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}); --json lists "
              "each with its reason", file=out)
    return 0
