"""What a study writes: rows summarised over seeds (mean and spread), its table, its claims judged
by the rule, ``results.json`` and ``study.json`` for ``selfsup report``, and the occlusion plot
the accuracy studies share."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from .floors import RANDOM_INIT
from .spec import Column, KeyPath, Row, Study
from .stats import RULE, Difference, paired, superiority

MARGIN = 1.0  # accuracy points: the practical margin of a claim that states none of its own
NOT_LEARNED = "not learned"  # the variant a verdict would credit does not beat the random-init floor
VERDICTS = ("held", "did not hold", "inconclusive", NOT_LEARNED)
ACCURACY = ("knn_acc", "linear_acc")
FLOOR_RULE = (
    f"A variant has **learned** when it beats the random-init floor (same seed, same data, same probes) by this rule on "
    f"the mean of kNN and linear accuracy; a verdict that would credit a variant that has not is **{NOT_LEARNED}**."
)


def col(header: str, *keys: str | KeyPath, fmt: str = ".1f", optional: bool = False) -> Column:
    return Column(header, tuple(k if isinstance(k, tuple) else (k,) for k in keys), fmt, optional)


def lookup(row: Row, path: KeyPath) -> Any:
    for key in path:
        if not isinstance(row, dict) or key not in row:
            return None
        row = row[key]
    return row


def _reduce(values: list[Any], number: Callable[[list[float]], float]) -> Any:
    """One tree from the same tree in each seed's row: numbers reduced by ``number`` (nested
    dicts, and lists element-wise), strings joined when they differ, anything else the first."""
    first = values[0]
    if isinstance(first, dict):
        return {k: _reduce([v[k] for v in values], number) for k in first if all(isinstance(v, dict) and k in v for v in values)}
    if isinstance(first, list) and all(isinstance(v, list) and len(v) == len(first) for v in values):
        return [_reduce(list(items), number) for items in zip(*values)]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return number(values)
    if isinstance(first, str):
        return " / ".join(dict.fromkeys(values))
    return first


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _sample_std(xs: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def summarise(rows: list[Row]) -> dict[str, Row]:
    """Rows of one variant over seeds -> one row: the mean of every number (nested, and lists
    element-wise) over the runs that did not diverge, ``std`` (the same tree of sample standard
    deviations), ``seeds``, ``n`` (runs averaged) and ``diverged`` (runs whose loss became NaN)."""
    out: dict[str, Row] = {}
    for variant in dict.fromkeys(r["variant"] for r in rows):
        runs = [r for r in rows if r["variant"] == variant]
        ok = [r for r in runs if not r.get("diverged")]
        used = ok or runs
        per_seed = {r["seed"]: r for r in ok}
        out[variant] = {**_reduce(used, _mean), "variant": variant, "std": _reduce(used, _sample_std), "seeds": [r["seed"] for r in runs], "n": len(ok), "diverged": len(runs) - len(ok), "per_seed": per_seed}
    return out


def cell(row: Row, column: Column) -> str:
    parts = []
    for path in column.paths:
        value = lookup(row, path)
        if value is None:
            parts.append("diverged" if row["diverged"] and not row["n"] else "-")
        elif isinstance(value, (int, float)):
            spread = lookup(row["std"], path) if row["n"] > 1 else None
            spread = spread or None  # the same value in every seed (a batch size) shows no ± 0
            parts.append(f"{value:{column.fmt}}" + (f" ± {spread:{column.fmt}}" if spread is not None else ""))
        else:
            parts.append(str(value))
    return " / ".join(parts)


def results_table(by_variant: dict[str, Row], columns: Sequence[Column], setting: str) -> str:
    shown = [c for c in columns if not c.optional or all(lookup(r, c.paths[0]) is not None for r in by_variant.values())]
    seeds = max(len(r["seeds"]) for r in by_variant.values())
    lines = [setting + (f" Mean ± standard deviation over {seeds} seeds." if seeds > 1 else ""), ""]
    lines += ["| variant | " + " | ".join(c.header for c in shown) + " |", "|---|" + "---|" * len(shown)]
    for name, row in by_variant.items():
        diverged = f" ({row['diverged']}/{len(row['seeds'])} diverged)" if row["diverged"] and row["n"] else ""
        lines.append(f"| {name}{diverged} | " + " | ".join(cell(row, c) for c in shown) + " |")
    return "\n".join(lines) + "\n"


def gain(a: Row, b: Row, keys: Sequence[str | KeyPath] = ACCURACY) -> Difference:
    """How much ``a`` beats ``b``, seed by seed: per seed both ran (and did not diverge), the mean
    over ``keys`` (names or nested paths) of a - b."""
    paths = [key if isinstance(key, tuple) else (key,) for key in keys]

    def score(run: Row) -> float:
        return sum(lookup(run, p) for p in paths) / len(paths)

    return paired({s: score(r) for s, r in a["per_seed"].items()}, {s: score(r) for s, r in b["per_seed"].items()})


def verdict(difference: Difference, margin: float = MARGIN) -> str:
    """held / did not hold / inconclusive for "a beats b" by :data:`selfsup.study.stats.RULE`."""
    return superiority(difference, margin)


def learned(by: dict[str, Row], variant: str, floor: str = RANDOM_INIT) -> bool:
    """Whether ``variant`` beats its random-init floor (``floor``: the row of its data's floor) by
    the rule (:data:`FLOOR_RULE`); True where the study measured no floor (a table made by hand)."""
    if floor not in by:
        return True
    return verdict(gain(by[variant], by[floor])) == "held"


def floored(by: dict[str, Row], outcome: str, credited: Sequence[str], floor: str = RANDOM_INIT) -> str:
    """``outcome``, or :data:`NOT_LEARNED` when it is a verdict (held / did not hold) and a variant
    it rests on has not learned."""
    if outcome in ("held", "did not hold") and not all(learned(by, v, floor) for v in credited):
        return NOT_LEARNED
    return outcome


def compare(by: dict[str, Row], a: str, b: str, keys: Sequence[str | KeyPath] = ACCURACY, margin: float = MARGIN, floor: str = RANDOM_INIT) -> tuple[Difference, str]:
    """The paired difference ``a - b`` and the verdict on "a beats b": the winner must have learned
    (``a`` when held, ``b`` when b wins, both for an equivalence)."""
    d = gain(by[a], by[b], keys)
    outcome = verdict(d, margin)
    credited = [a] if outcome == "held" else [b] if d.interval[1] < 0 else [a, b]
    return d, floored(by, outcome, credited, floor)


def claim(text: str, evidence: str, outcome: str) -> dict[str, str]:
    if outcome not in VERDICTS:
        raise ValueError(f"verdict '{outcome}' is not one of {VERDICTS}")
    return {"claim": text, "evidence": evidence, "verdict": outcome}


def claims_table(claims: list[dict[str, str]]) -> str:
    return "\n".join([f"{RULE} {FLOOR_RULE}", "", *claim_lines(claims)]) + "\n"


def claim_lines(claims: list[dict[str, str]], bold: bool = False) -> list[str]:
    """The claims as a Markdown table (header included), verdicts in bold with ``bold``."""
    mark = "**" if bold else ""
    return ["| claim | evidence | verdict |", "|---|---|---|"] + [f"| {c['claim']} | {c['evidence']} | {mark}{c['verdict']}{mark} |" for c in claims]


def setting_line(base: Config) -> str:
    patch = f" (patch {base.model.patch_size})" if base.model.patch_size else ""
    return f"{base.data.name} {base.data.image_size} px, {base.model.backbone}{patch}, {base.method.name}, {base.optim.name}, {base.train.epochs} epochs, batch {base.data.batch_size}."


@dataclass(frozen=True)
class Outcome:
    """What a study's rows say: the summary by variant (floors included), the table and the claims."""

    by_variant: dict[str, Row]
    table: str
    claims: list[dict[str, str]]

    @property
    def runs(self) -> dict[str, Row]:
        """The trained variants, without the floors (what the plots draw)."""
        return {k: v for k, v in self.by_variant.items() if not v.get("floor")}


def judge(study: Study, rows: list[Row], setting: str) -> Outcome:
    """Rows of every run and floor -> the table and the claims, by the study's judge: the one
    function both the study and ``selfsup report`` call, so a report rebuilt from the committed
    rows says what the study said."""
    by_variant = summarise(rows)
    return Outcome(by_variant, results_table(by_variant, study.columns, setting), study.judge(by_variant))


def write_study(out_dir: Path, study: Study, base: Config, rows: list[Row], seeds: list[int], command: str = "") -> Outcome:
    """``results.json`` (every run and floor), ``table.md``, ``claims.md``, ``study.json`` (what
    the report needs besides the rows: the study, setting, seeds, command and date) and the plot."""
    outcome = judge(study, rows, setting_line(base))
    (out_dir / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out_dir / "table.md").write_text(outcome.table)
    (out_dir / "claims.md").write_text(claims_table(outcome.claims))
    meta = {"name": study.name, "setting": setting_line(base), "seeds": seeds, "command": command, "written": time.strftime("%Y-%m-%d")}
    (out_dir / "study.json").write_text(json.dumps(meta, indent=2) + "\n")
    study.plot(outcome.runs, out_dir / study.plot_name)
    return outcome


def occluded(row: Row, probe: str = "linear", where: str = "object", fraction: str = "0.5") -> float:
    """Accuracy with ``fraction`` of the patches blanked (object patches when the data has masks)."""
    curves = row["robustness"]
    return curves.get(f"occlusion_{where}", curves["occlusion_random"])[fraction][probe]


def _occlusion(where: str, fraction: str = "0.5") -> tuple[KeyPath, KeyPath]:
    return (("robustness", f"occlusion_{where}", fraction, "linear"), ("robustness", f"occlusion_{where}", fraction, "knn"))


ACCURACY_COLUMNS = (col("kNN %", "knn_acc"), col("linear %", "linear_acc"))
ROBUSTNESS_COLUMNS = (
    *ACCURACY_COLUMNS,
    col("dense mIoU %", "dense_miou", optional=True),
    Column("occl. 50 % object (lin / kNN)", _occlusion("object"), optional=True),
    Column("occl. 50 % random (lin / kNN)", _occlusion("random")),
    col("s / epoch", "seconds_per_epoch"),
    col("img/s", "images_per_s", fmt=".0f"),
)


def plot_study(by_variant: dict[str, Row], path: Path) -> Path:
    """Linear accuracy against the blanked fraction of patches per variant (random patches; and
    object patches first, when the data has masks), then kNN, linear (and dense mIoU) per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = list(by_variant.values())
    keys = ["occlusion_random"] + (["occlusion_object"] if all("occlusion_object" in r["robustness"] for r in rows) else [])
    fig, axes = plt.subplots(1, len(keys) + 1, figsize=(6 * len(keys) + 7, 4.5), gridspec_kw={"width_ratios": [1] * len(keys) + [1.4]})
    for key, ax in zip(keys, axes):
        for r in rows:
            levels = list(r["robustness"][key])
            ax.plot([100 * float(x) for x in levels], [r["robustness"][key][x]["linear"] for x in levels], marker="o", label=r["variant"])
        ax.set(xlabel=f"patches blanked (%), {'at random' if key.endswith('random') else 'object patches first'}", ylabel="linear accuracy (%)", title="occlusion robustness")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    bars = axes[-1]
    metrics = [(k, label) for k, label in (("knn_acc", "kNN"), ("linear_acc", "linear"), ("dense_miou", "dense mIoU")) if all(k in r for r in rows)]
    x, width = np.arange(len(rows)), 0.8 / len(metrics)
    for i, (k, label) in enumerate(metrics):
        spread = [r["std"][k] for r in rows] if any(r["n"] > 1 for r in rows) else None
        bars.bar(x + (i - (len(metrics) - 1) / 2) * width, [r[k] for r in rows], width, yerr=spread, label=label)
    bars.set_xticks(x, [r["variant"] for r in rows], rotation=25, ha="right", fontsize=8)
    bars.set(ylabel="%", title="accuracy" + (" and dense mIoU" if len(metrics) == 3 else ""))
    bars.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
