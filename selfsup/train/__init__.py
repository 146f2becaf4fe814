"""Training: the loop (trainer), optimizers, checkpoints, run folders and their records.

Only the command line and the studies import this package; the collectives, EMA and schedules
the losses and methods use live in :mod:`selfsup.core`. Import from the submodules
(``selfsup.train.trainer``, ``selfsup.train.runs``, ...): this package imports nothing at load time.
"""
