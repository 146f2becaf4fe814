"""Checkpoints: written atomically (temp file, fsync, rename) and loaded with ``weights_only=True``."""

from __future__ import annotations

import os
import pickle
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch


class CheckpointError(ValueError):
    """A file that is not a selfsup checkpoint, or a damaged one."""


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def save_atomic(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` to ``path`` so that a crash mid-write leaves the previous file intact; an
    error (a full disk) removes the temporary file and leaves the previous checkpoint as it was."""
    path = Path(path)
    tmp = _temp_name(path)
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:
        tmp.unlink(missing_ok=True)
        cause = e if isinstance(e, OSError) else e.__context__  # torch.save re-raises a failed write as RuntimeError
        if not isinstance(cause, OSError):
            raise
        raise OSError(f"cannot write checkpoint {path}: {cause.strerror or cause}; the previous one is kept") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sweep_temporaries(path: str | Path) -> list[Path]:
    """Remove the temporary files killed writers of ``path`` left (``.checkpoint.pt.tmp<pid>``)."""
    path = Path(path)
    stale = [t for t in path.parent.glob(f".{path.name}.tmp*") if t.is_file()]
    for t in stale:
        t.unlink(missing_ok=True)
    return stale


def load_checkpoint(path: str | Path, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """A checkpoint's state, unpickling tensors and plain data only (``weights_only=True``); it must hold ``keys``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with warnings.catch_warnings():  # torch's unpickler warns about pickle protocols before it refuses a file
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"{path} is not a selfsup checkpoint: it holds objects other than tensors and plain data, which are never loaded") from e
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        what = "empty" if path.stat().st_size == 0 else "truncated or damaged"
        raise CheckpointError(f"{path} is {what}: not a readable checkpoint") from e
    if not isinstance(state, dict) or not set(keys) <= set(state):
        raise CheckpointError(f"{path} is not a selfsup checkpoint (it lacks its {', '.join(keys)} entries)")
    return state


def rng_state() -> dict[str, Any]:
    state = {
        "torch": torch.get_rng_state(),
        "numpy": torch.from_numpy(np.random.get_state()[1].astype(np.int64)),
        "numpy_pos": torch.tensor(np.random.get_state()[2]),
        "python": torch.tensor(random.getstate()[1], dtype=torch.int64),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), int(state["numpy_pos"]), 0, 0.0))
    random.setstate((3, tuple(int(v) for v in state["python"].tolist()), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))
