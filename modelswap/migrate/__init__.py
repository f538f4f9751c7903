"""Migration tooling: decide what to move, where to, and in what order when a vendor changes its terms.

* :func:`compute_cost` / ``modelswap cost``: API or self-hosted? Both cost lines, the break-even volume on the
  self-host step line, and the four conditions self-hosting needs (``_cost``, chart in ``_chart``).
* :func:`load_catalog`: notable open-weight models with licence terms and sourced benchmark scores
  (``catalog.json``).
* :func:`rank` / ``modelswap select``: the replacement shortlist: licence policy, benchmark fit, cost, context.
* :func:`build_inventory` / ``modelswap inventory``: every model dependency across environments, open-weight or
  API-gated, licence and redistribution rights, and an urgency score.

``run_cost``, ``run_select`` and ``run_inventory`` are the command-line entry points: they print and return
the exit code (0 success, 2 bad input), never a traceback for bad input. The core installs with no extra
dependency for any of this.
"""

from __future__ import annotations

from ._catalog import CATALOG_PATH, Catalog, CatalogEntry, Score, family_of, load_catalog, model_key
from ._chart import cost_chart_svg, line_chart_svg
from ._cost import (
    ApiPricing,
    BreakEven,
    Conditions,
    CostInputs,
    CostResult,
    SelfHost,
    Workload,
    compute_cost,
    load_cost_inputs,
)
from ._cost_cli import run_cost
from ._inventory import (
    ENV_WEIGHTS,
    URGENCY_WEIGHTS,
    InventoryItem,
    build_inventory,
    classify_weights,
    env_weight,
    load_audit,
    load_usage,
    run_inventory,
)
from ._select import (
    TASK_WEIGHTS,
    Candidate,
    Need,
    Policy,
    Ranked,
    candidates_from_catalog,
    candidates_from_config,
    license_verdict,
    parse_policy,
    rank,
    run_select,
    self_host_estimate,
)

__all__ = [
    "CATALOG_PATH",
    "ENV_WEIGHTS",
    "TASK_WEIGHTS",
    "URGENCY_WEIGHTS",
    "ApiPricing",
    "BreakEven",
    "Candidate",
    "Catalog",
    "CatalogEntry",
    "Conditions",
    "CostInputs",
    "CostResult",
    "InventoryItem",
    "Need",
    "Policy",
    "Ranked",
    "Score",
    "SelfHost",
    "Workload",
    "build_inventory",
    "candidates_from_catalog",
    "candidates_from_config",
    "classify_weights",
    "compute_cost",
    "cost_chart_svg",
    "env_weight",
    "family_of",
    "license_verdict",
    "line_chart_svg",
    "load_audit",
    "load_catalog",
    "load_cost_inputs",
    "load_usage",
    "model_key",
    "parse_policy",
    "rank",
    "run_cost",
    "run_inventory",
    "run_select",
    "self_host_estimate",
]
