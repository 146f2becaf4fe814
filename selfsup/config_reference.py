"""The configuration reference, generated from the config dataclasses (one source of truth).

Each key's meaning is the comment on its line in :mod:`selfsup.config` (or, for a group of keys,
the full-line comment just above them), its type the annotation and its default the dataclass
default. ``python -m selfsup.config_reference --out docs/configuration.md`` rewrites the page;
a test keeps the committed page equal to this output and every key described.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import io
import json
import tokenize
from pathlib import Path
from typing import Any

from selfsup import config as C

SECTIONS: list[tuple[str, type]] = [
    ("data", C.DataConfig),
    ("augment", C.AugmentConfig),
    ("model", C.ModelConfig),
    ("optim", C.OptimConfig),
    ("train", C.TrainConfig),
    ("eval", C.EvalConfig),
]
SHARED_METHOD_BASES: list[tuple[type, list[str]]] = [
    (C.DistillConfig, ["dino", "attndrop"]),
    (C.ImageTextConfig, ["clip", "coca", "prefix_lm"]),
]


def field_comments(cls: type) -> dict[str, str]:
    """``{field: meaning}`` for the fields ``cls`` itself declares, read from its source's comments."""
    source = inspect.getsource(cls)
    trailing: dict[int, str] = {}
    full_line: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            text = tok.string.lstrip("#").strip()
            before = tok.line[: tok.start[1]]
            (full_line if not before.strip() else trailing)[tok.start[0]] = text
    lines = source.splitlines()
    own = set(cls.__dict__.get("__annotations__", {}))
    meanings: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        name = line.strip().split(":", 1)[0]
        if name not in own or not line.startswith("    ") or line.startswith("     "):
            continue
        if number in trailing:
            meanings[name] = trailing[number]
            continue
        above = number - 1
        while above in full_line:  # the group comment heads a run of keys
            meanings[name] = full_line[above]
            above -= 1
    return meanings


def _default(f: dataclasses.Field) -> Any:
    value = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    return list(value) if isinstance(value, tuple) else value


def _minimum(section: str, key: str) -> int | None:
    table = C.METHOD_MINIMUMS if section == "method" else C.MINIMUMS.get(section, {})
    return table.get(key)


def _table(cls: type, section: str, keys: list[str]) -> list[str]:
    meanings: dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):
        meanings.update(field_comments(klass))
    fields = {f.name: f for f in dataclasses.fields(cls)}
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key in keys:
        f = fields[key]
        low = _minimum(section, key)
        meaning = meanings.get(key, "") + (f" (at least {low})" if low is not None else "")
        kind, meaning = (text.replace("|", "\\|") for text in (str(f.type), meaning))
        rows.append(f"| `{section}.{key}` | `{kind}` | `{json.dumps(_default(f))}` | {meaning} |")
    return rows


def _own_keys(cls: type, base: type | None) -> list[str]:
    inherited = {f.name for f in dataclasses.fields(base)} if base else set()
    return [f.name for f in dataclasses.fields(cls) if f.name != "name" and f.name not in inherited]


def missing_meanings() -> list[str]:
    """Every key the reference would show without a meaning (a test keeps this empty)."""
    classes = [cls for _, cls in SECTIONS] + list(C.METHOD_CONFIGS.values())
    out = []
    for cls in classes:
        meanings: dict[str, str] = {}
        for klass in reversed(cls.__mro__[:-1]):
            meanings.update(field_comments(klass))
        out += [f"{cls.__name__}.{f.name}" for f in dataclasses.fields(cls) if f.name != "name" and not meanings.get(f.name)]
    return out


def render() -> str:
    """The whole reference page as Markdown."""
    out = [
        "# Configuration reference",
        "",
        "Generated from the dataclasses in `selfsup/config.py` by "
        "`python -m selfsup.config_reference --out docs/configuration.md`; do not edit by hand.",
        "",
        "A run's configuration is filled from the defaults below, then a YAML preset (`--config`), then "
        "`section.key=value` overrides on the command line. An unknown key is an error naming the valid ones; "
        "a count below its minimum is an error naming the key.",
        "",
    ]
    for section, cls in SECTIONS:
        out += [f"## `{section}`", ""]
        if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("):
            out += [inspect.cleandoc(cls.__doc__), ""]
        out += _table(cls, section, [f.name for f in dataclasses.fields(cls)]) + [""]
    out += ["## `method`", "", "`method.name` picks the method and with it the keys below: "
            + ", ".join(f"`{n}`" for n in C.METHOD_CONFIGS) + ".", ""]
    shared = {name: base for base, names in SHARED_METHOD_BASES for name in names}
    for base, names in SHARED_METHOD_BASES:
        out += [f"### Shared by {', '.join(f'`{n}`' for n in names)}", "", inspect.cleandoc(base.__doc__ or ""), ""]
        out += _table(base, "method", _own_keys(base, None)) + [""]
    for name, cls in C.METHOD_CONFIGS.items():
        base = shared.get(name)
        keys = _own_keys(cls, base)
        out += [f"### `method.name={name}`", ""]
        if base is not None:
            out += ["The shared keys above, and:" if keys else "The shared keys above only.", ""]
        if keys:
            out += _table(cls, "method", keys) + [""]
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the configuration reference page.")
    parser.add_argument("--out", default="docs/configuration.md", help="where to write it (default: %(default)s)")
    Path(parser.parse_args().out).write_text(render())


if __name__ == "__main__":
    main()
