"""``selfsup report``: every study folder under a run folder (those holding ``study.json``) in one
Markdown document: a summary of every claim's verdict, then per study its question, setting,
seeds and budget, table, claims and plot."""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import STUDIES
from .report import MARGIN, claim_lines
from .stats import RULE


def find_studies(runs: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(folder, study.json) of each study in ``runs`` (or ``runs`` itself), in the registry's order."""
    if not runs.is_dir():
        raise FileNotFoundError(f"no folder at {runs}")
    folders = [runs] if (runs / "study.json").is_file() else sorted(p.parent for p in runs.glob("*/study.json"))
    found = [(f, json.loads((f / "study.json").read_text())) for f in folders]
    if not found:
        raise FileNotFoundError(f"no study under {runs} (a study folder holds study.json; run `selfsup study NAME --out {runs}/study_NAME`)")
    order = list(STUDIES)
    return sorted(found, key=lambda item: (order.index(item[1]["name"]) if item[1]["name"] in order else len(order), str(item[0])))


def budget_line(meta: dict[str, Any]) -> str:
    seeds = meta["seeds"]
    diverged = f", {meta['diverged']} diverged" if meta["diverged"] else ""
    line = f"Setting: {meta['setting']} Seeds: {', '.join(map(str, seeds))} ({len(seeds)} per variant). Runs: {meta['runs']}{diverged}; training time {meta['train_minutes']:.0f} min."
    return line + (f" Command: `{meta['command']}`." if meta["command"] else "")


def study_section(folder: Path, meta: dict[str, Any], plot_ref: str) -> str:
    table = (folder / "table.md").read_text().split("\n", 2)[2]  # the setting line is in the budget line
    lines = [f"## {meta['title']}", "", f"*Claim under test.* {meta['question'][:1].upper()}{meta['question'][1:]}", "", budget_line(meta), "", table.rstrip(), ""]
    if meta["claims"]:
        lines += claim_lines(meta["claims"], bold=True)
        lines.append("")
    lines += [f"![{meta['title']}]({plot_ref})", ""]
    return "\n".join(lines)


def write_report(runs: Path, out: Path | None = None) -> Path:
    """Write ``report.md`` into ``out`` (default ``runs``); with ``out``, the plots are copied
    there (``<study folder>/<plot>``) so the folder stands alone."""
    studies = find_studies(runs)
    out = out or runs
    out.mkdir(parents=True, exist_ok=True)
    sections, summary, verdicts = [], [], Counter()
    for folder, meta in studies:
        plot = folder / meta["plot"]
        if out != runs and plot.is_file():
            (out / folder.name).mkdir(exist_ok=True)
            shutil.copyfile(plot, out / folder.name / meta["plot"])
            ref = f"{folder.name}/{meta['plot']}"
        else:
            ref = str(plot.relative_to(out)) if plot.is_relative_to(out) else str(plot.resolve())
        sections.append(study_section(folder, meta, ref))
        for c in meta["claims"]:
            summary.append(f"| {meta['title']} | {c['claim']} | **{c['verdict']}** |")
            verdicts[c["verdict"]] += 1
    runs_total = sum(m["runs"] for _, m in studies)
    minutes = sum(m["train_minutes"] for _, m in studies)
    head = [
        "# selfsup claims report",
        "",
        f"Written {time.strftime('%Y-%m-%d')} by `selfsup report` from {len(studies)} studies ({runs_total} training runs, {minutes:.0f} min of training).",
        f"Claims: {verdicts['held']} held, {verdicts['did not hold']} did not hold, {verdicts['inconclusive']} inconclusive at this scale.",
        "",
        f"{RULE} Unless a claim states its own, the margin is {MARGIN:.0f} accuracy point; rules on other measures are stated in their study.",
        "",
        "| study | claim | verdict |",
        "|---|---|---|",
        *summary,
        "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(head + sections))
    return path
