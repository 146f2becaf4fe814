"""The house's layers point down: only the command line, export and the studies import the loop's
package (`selfsup.train`); losses, methods, evaluators and data use `selfsup.core`."""

import ast
from pathlib import Path

import pytest

import selfsup

PACKAGE = Path(selfsup.__file__).parent
MAY_IMPORT_TRAIN = {"cli.py", "export.py"}  # and everything in train/ and study/


def _imports_train(path: Path) -> list[str]:
    """The import statements of ``path`` that reach ``selfsup.train``."""
    rel = path.relative_to(PACKAGE).parts
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # resolve a relative import against the file's package
                base = list(rel[:-1])[: len(rel) - node.level]
                module = ".".join(["selfsup", *base, *([module] if module else [])])
            if module == "selfsup.train" or module.startswith("selfsup.train."):
                found.append(module)
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("selfsup.train")]
    return found


def test_nothing_below_the_loop_imports_it():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("train", "study") or str(rel) in MAY_IMPORT_TRAIN:
            continue
        if found := _imports_train(path):
            offenders[str(rel)] = found
    assert offenders == {}


def test_the_check_finds_the_imports_that_are_allowed():
    assert "selfsup.train.runs" in _imports_train(PACKAGE / "study" / "runner.py")  # `from ..train.runs import` at the top
    assert "selfsup.train.trainer" in _imports_train(PACKAGE / "cli.py")  # `from .train.trainer import` inside a function


def test_the_study_report_does_not_import_the_runner_that_imports_it():
    def siblings(name: str) -> set[str]:
        tree = ast.parse((PACKAGE / "study" / f"{name}.py").read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 1}

    assert "report" in siblings("runner") and "runner" not in siblings("report")  # both take Study from study/spec.py


def test_the_trainer_runs_what_a_method_declares_without_knowing_its_type():
    import inspect

    from selfsup.eval.declared import EVALUATIONS, run_declared
    from selfsup.methods import method_class
    from selfsup.train.trainer import evaluate

    assert "ImageTextMethod" not in inspect.getsource(evaluate)
    assert method_class("clip").evaluations == ("image_text",) and method_class("prefix_lm").evaluations == ("captions",)
    assert all(name in EVALUATIONS for m in ("clip", "coca", "prefix_lm", "simclr", "dino") for name in method_class(m).evaluations)

    class Odd:
        evaluations = ("telepathy",)

    with pytest.raises(ValueError, match="unknown evaluation 'telepathy'; known: image_text, captions"):
        run_declared(Odd(), None, None, 3, (0.5,), (0.5,), 8, "cpu")
