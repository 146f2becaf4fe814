"""Training: loop (trainer), optimizers, schedules, EMA, checkpoints, distributed helpers.

Import from the submodules (``selfsup.train.trainer``, ``selfsup.train.runs``, ...): losses
use ``selfsup.train.distributed``, so this package imports nothing at load time.
"""
