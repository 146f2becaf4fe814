"""The one statistical rule every accuracy verdict of the claim studies follows.

Two variants are compared seed by seed: the same seed gives both the same initialisation and
data order, so the paired difference ``a - b`` per seed removes what the seed alone moves. Over
the seeds both ran, the mean difference gets a two-sided 95 % Student-t interval
(``mean +- t(0.975, n - 1) * sd / sqrt(n)``). With a practical margin ``m`` stated per claim:

- **held**: the interval lies above 0 and the mean difference reaches ``m``;
- **did not hold**: the interval lies below 0 (the other way), or it lies inside ``(-m, m)``
  (an equivalence verdict: any effect is smaller than the margin);
- **inconclusive**: anything else, and always with fewer than :data:`MIN_SEEDS` paired seeds.

A claim of "no cost" (non-inferiority) holds when the interval's lower end is above ``-m`` and
did not hold when its upper end is below ``-m``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

CONFIDENCE = 0.95
MIN_SEEDS = 3  # paired seeds a verdict other than inconclusive needs
RULE = (
    f"Each verdict compares two variants seed by seed (same seed: same initialisation and data order) and puts a "
    f"two-sided {CONFIDENCE:.0%} Student-t interval on the mean paired difference. **held**: the interval lies above 0 "
    f"and the mean reaches the claim's practical margin; **did not hold**: the interval lies below 0, or inside "
    f"plus or minus the margin (equivalence); otherwise, and always with fewer than {MIN_SEEDS} seeds, **inconclusive**."
)


@dataclass(frozen=True)
class Difference:
    """Paired differences ``a - b`` by seed, and their mean with its interval."""

    by_seed: dict[int, float]

    @property
    def n(self) -> int:
        return len(self.by_seed)

    @property
    def mean(self) -> float:
        return sum(self.by_seed.values()) / self.n if self.n else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """The two-sided interval of the mean; infinite with fewer than 2 seeds."""
        if self.n < 2:
            return -math.inf, math.inf
        values = list(self.by_seed.values())
        sd = math.sqrt(sum((v - self.mean) ** 2 for v in values) / (self.n - 1))
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, self.n - 1) * sd / math.sqrt(self.n)
        return self.mean - half, self.mean + half

    def __sub__(self, other: Difference) -> Difference:
        """The difference of two differences, paired by seed (seeds in both)."""
        return Difference({s: v - other.by_seed[s] for s, v in self.by_seed.items() if s in other.by_seed})

    def __neg__(self) -> Difference:
        return Difference({s: -v for s, v in self.by_seed.items()})

    def text(self) -> str:
        """``+2.0 [+0.4, +3.6], 3 seeds``: the mean and its interval, as evidence."""
        low, high = self.interval
        if self.n < 2:
            return f"{self.mean:+.1f}, {self.n} seed"
        return f"{self.mean:+.1f} [{low:+.1f}, {high:+.1f}], {self.n} seeds"


def paired(a: dict[int, float], b: dict[int, float]) -> Difference:
    """``a - b`` for each seed both hold."""
    return Difference({s: a[s] - b[s] for s in a if s in b})


def superiority(d: Difference, margin: float, min_seeds: int = MIN_SEEDS) -> str:
    """The verdict on "a is better than b" by :data:`RULE`."""
    if d.n < min_seeds:
        return "inconclusive"
    low, high = d.interval
    if low > 0 and d.mean >= margin:
        return "held"
    if high < 0 or (-margin < low and high < margin):
        return "did not hold"
    return "inconclusive"


def noninferiority(d: Difference, margin: float, min_seeds: int = MIN_SEEDS) -> str:
    """The verdict on "a costs less than ``margin`` against b"."""
    if d.n < min_seeds:
        return "inconclusive"
    low, high = d.interval
    if low > -margin:
        return "held"
    if high < -margin:
        return "did not hold"
    return "inconclusive"
