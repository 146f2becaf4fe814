"""The documentation stays true: the generated config reference is current and complete, and
README stays short and links only to files that exist."""

import re
from pathlib import Path

from selfsup.config_reference import missing_meanings, render

ROOT = Path(__file__).parents[1]


def test_config_reference_page_is_the_generated_one():
    assert (ROOT / "docs" / "configuration.md").read_text() == render(), (
        "docs/configuration.md is stale: run python -m selfsup.config_reference --out docs/configuration.md"
    )


def test_every_config_key_has_a_meaning():
    assert missing_meanings() == []


def test_config_reference_lists_every_key_once_per_section():
    page = render()
    assert "| `optim.lr` | `float` | `0.001` | peak learning rate, after warm-up |" in page
    assert "| `train.epochs` | `int` | `20` |" in page and "(at least 1)" in page
    assert page.count("| `method.ibot_weight` |") == 1  # DINO's own key, not repeated under AttnDrop


def test_readme_is_short_and_its_links_exist():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    assert not re.search(r"20\d\d-\d\d-\d\d", readme), "README holds no dates: history goes to docs/results.md"
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    assert links, "README links to its docs"
    missing = [link for link in links if not link.startswith("http") and not (ROOT / link).exists()]
    assert missing == []


def test_every_docs_page_is_in_the_site_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")]
    assert pages and [p for p in pages if p not in nav] == []


def test_the_committed_claims_report_rebuilds_from_the_committed_rows(tmp_path):
    from selfsup.study.collect import write_report

    committed = ROOT / "docs" / "claims"
    studies = sorted(p.parent.name for p in committed.glob("*/results.json"))
    assert studies, "docs/claims holds no study's rows"
    rebuilt = write_report(committed, tmp_path).read_text()
    assert rebuilt == (committed / "report.md").read_text(), "docs/claims/report.md is stale: run `selfsup report docs/claims`"
    plots = {p.parent.name for p in committed.glob("*/*.png")}
    assert plots == set(studies)  # every study's plot is there, and no plot of a study the report lacks


def test_readme_quotes_only_verdicts_the_committed_report_gives():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("<!-- claims -->")[1]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]  # without the header
    assert rows, "README's claim table has rows"
    summary = (ROOT / "docs" / "claims" / "report.md").read_text()
    assert [r for r in rows if r not in summary] == []
