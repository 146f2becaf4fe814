"""The layer under everything: collectives (gather with gradient, all-reduce), EMA and schedules.

Losses, methods and evaluators use these; none of them imports :mod:`selfsup.train` (the loop,
its optimizers and checkpoints), which only the command line and the studies import.
"""
