"""``selfsup report``: every study folder under a folder (those holding ``study.json`` and
``results.json``) in one Markdown document: a summary of every claim's verdict, then per study its
question, setting, seeds and budget, table, claims and plot. Tables and verdicts are computed
afresh from each study's rows by the study's own judge, so the report rebuilds byte for byte from
the committed rows (``selfsup report docs/claims``) and follows the rule in the code."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from . import STUDIES, load_study
from .floors import is_floor
from .report import MARGIN, FLOOR_RULE, VERDICTS, Outcome, claim_lines, judge
from .spec import Study
from .stats import RULE

STUDY_FILES = ("study.json", "results.json")  # what a study folder keeps for the report (with its plot)


def find_studies(*roots: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(folder, study.json) of each study in ``roots`` (each a study folder or a folder of them),
    in the registry's order; a study found in several roots is taken from the last."""
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for runs in roots:
        if not runs.is_dir():
            raise FileNotFoundError(f"no folder at {runs}")
        folders = [runs] if (runs / "study.json").is_file() else sorted(p.parent for p in runs.glob("*/study.json"))
        for folder in folders:
            meta = json.loads((folder / "study.json").read_text())
            if not (folder / "results.json").is_file():
                raise FileNotFoundError(f"{folder} has study.json but no results.json: the study did not finish; run it again with the same --out")
            if meta["name"] not in STUDIES:
                raise ValueError(f"{folder}: unknown study '{meta['name']}'; valid: {', '.join(STUDIES)}")
            found[meta["name"]] = (folder, meta)
    if not found:
        where = roots[0] if len(roots) == 1 else "any of " + ", ".join(map(str, roots))
        raise FileNotFoundError(f"no study under {where} (a study folder holds study.json; run `selfsup study NAME --out {roots[0]}/study_NAME`)")
    return [found[name] for name in STUDIES if name in found]


def budget_line(meta: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    seeds = meta["seeds"]
    runs = [r for r in rows if not is_floor(r)]
    diverged = sum(bool(r.get("diverged")) for r in runs)
    minutes = sum(r.get("train_seconds", 0.0) for r in runs) / 60
    line = f"Setting: {meta['setting']} Seeds: {', '.join(map(str, seeds))} ({len(seeds)} per variant). Runs: {len(runs)}{f', {diverged} diverged' if diverged else ''}; training time {minutes:.0f} min."
    return line + (f" Command: `{meta['command']}`." if meta["command"] else "")


def study_section(study: Study, meta: dict[str, Any], rows: list[dict[str, Any]], outcome: Outcome, plot_ref: str) -> str:
    table = outcome.table.split("\n", 2)[2]  # the setting line is in the budget line
    lines = [f"## {study.title}", "", f"*Claim under test.* {study.question[:1].upper()}{study.question[1:]}", "", budget_line(meta, rows), "", table.rstrip(), ""]
    if outcome.claims:
        lines += [*claim_lines(outcome.claims, bold=True), ""]
    lines += [f"![{study.title}]({plot_ref})", ""]
    return "\n".join(lines)


def write_report(runs: Path | list[Path], out: Path | None = None) -> Path:
    """Write ``report.md`` into ``out`` (default: the one folder ``runs``); with ``out``, each
    study's rows, its ``study.json`` and its plot are copied to ``out/<study folder>/`` so the
    folder stands alone and rebuilds the same report (``selfsup report docs/claims runs/claims
    --out docs/claims`` updates the committed studies that were run again)."""
    roots = [runs] if isinstance(runs, Path) else list(runs)
    if out is None and len(roots) > 1:
        raise ValueError("several folders need --out: the report and copies of their studies go there")
    studies = find_studies(*roots)
    out = out or roots[0]
    out.mkdir(parents=True, exist_ok=True)
    sections, summary, verdicts, minutes, total = [], [], Counter(), 0.0, 0
    for folder, meta in studies:
        study = load_study(meta["name"])
        rows = json.loads((folder / "results.json").read_text())
        if folder.parent.resolve() != out.resolve() and folder.resolve() != out.resolve():
            (out / folder.name).mkdir(exist_ok=True)
            for name in (*STUDY_FILES, study.plot_name):
                if (folder / name).is_file():
                    shutil.copyfile(folder / name, out / folder.name / name)
        ref = study.plot_name if folder.resolve() == out.resolve() else f"{folder.name}/{study.plot_name}"
        outcome = judge(study, rows, meta["setting"])
        sections.append(study_section(study, meta, rows, outcome, ref))
        for c in outcome.claims:
            summary.append(f"| {study.title} | {c['claim']} | **{c['verdict']}** |")
            verdicts[c["verdict"]] += 1
        trained = [r for r in rows if not is_floor(r)]
        total += len(trained)
        minutes += sum(r.get("train_seconds", 0.0) for r in trained) / 60
    latest = max(meta["written"] for _, meta in studies)
    missing = [name for name in STUDIES if name not in {meta["name"] for _, meta in studies}]
    head = [
        "# selfsup claims report",
        "",
        f"Written by `selfsup report` from {len(studies)} studies ({total} training runs, {minutes:.0f} min of training; the latest finished {latest}).",
        "Claims: " + ", ".join(f"{verdicts[v]} {v}" for v in VERDICTS) + " at this scale.",
        *([f"Not in this report (no rows under this rule yet; `selfsup study NAME` runs one): {', '.join(missing)}."] if missing else []),
        "",
        f"{RULE} Unless a claim states its own, the margin is {MARGIN:.0f} accuracy point; rules on other measures are stated with their claim. {FLOOR_RULE}",
        "",
        "| study | claim | verdict |",
        "|---|---|---|",
        *summary,
        "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(head + sections))
    return path
