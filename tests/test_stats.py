"""The claim studies' statistical rule on synthetic numbers: paired t intervals, the margin,
equivalence, the seed minimum, and pure noise that must come out inconclusive."""

import math
import random

import pytest
from scipy import stats

from selfsup.study.stats import MIN_SEEDS, Difference, noninferiority, paired, superiority


def test_interval_is_the_paired_t_interval():
    d = paired({0: 71.0, 1: 74.0, 2: 70.0, 3: 73.0}, {0: 70.0, 1: 71.0, 2: 69.5, 3: 70.5})
    diffs = [1.0, 3.0, 0.5, 2.5]
    mean = sum(diffs) / 4
    sd = math.sqrt(sum((x - mean) ** 2 for x in diffs) / 3)
    half = stats.t.ppf(0.975, 3) * sd / 2
    assert d.mean == mean and d.interval == pytest.approx((mean - half, mean + half))
    assert d.text() == f"+{mean:.1f} [{mean - half:+.1f}, {mean + half:+.1f}], 4 seeds"


def test_superiority_needs_the_interval_above_zero_and_the_margin():
    assert superiority(Difference({0: 3.0, 1: 3.2, 2: 2.8}), margin=1.0) == "held"
    assert superiority(Difference({0: 0.6, 1: 0.7, 2: 0.8}), margin=1.0) == "did not hold"  # real but below the margin: equivalent
    assert superiority(Difference({0: 1.5, 1: 1.6, 2: 1.4}), margin=2.0) == "did not hold"  # [1.25, 1.75] inside +-2
    assert superiority(Difference({0: 1.5, 1: 2.5, 2: 1.8, 3: 2.2, 4: 1.6}), margin=2.0) == "inconclusive"  # [1.4, 2.4]: above 0, mean short of 2
    assert superiority(Difference({0: -3.0, 1: -2.5, 2: -3.5}), margin=1.0) == "did not hold"  # the other way
    assert superiority(Difference({0: 6.0, 1: -4.0, 2: 5.0}), margin=1.0) == "inconclusive"  # the interval holds 0


def test_fewer_seeds_than_the_rule_needs_can_only_be_inconclusive():
    big = {s: 10.0 + 0.1 * s for s in range(MIN_SEEDS - 1)}
    assert superiority(Difference(big), margin=1.0) == "inconclusive"
    assert noninferiority(Difference(big), margin=1.0) == "inconclusive"
    assert Difference({0: 5.0}).interval == (-math.inf, math.inf)


def test_noninferiority():
    assert noninferiority(Difference({0: -0.2, 1: 0.1, 2: 0.0}), margin=1.0) == "held"
    assert noninferiority(Difference({0: -3.0, 1: -2.8, 2: -3.2}), margin=1.0) == "did not hold"
    assert noninferiority(Difference({0: -4.0, 1: 2.0, 2: -1.0}), margin=1.0) == "inconclusive"


def test_differences_of_differences_pair_by_seed():
    a, b = Difference({0: 5.0, 1: 6.0, 2: 7.0}), Difference({0: 1.0, 2: 2.0, 3: 9.0})
    assert (a - b).by_seed == {0: 4.0, 2: 5.0} and (-a).by_seed == {0: -5.0, 1: -6.0, 2: -7.0}


@pytest.mark.parametrize("seeds", [3, 5])
def test_pure_noise_comes_out_inconclusive(seeds):
    """Two variants with the same true accuracy and seed noise of 2 points: the rule must almost
    never call a winner (a 95 % interval wrongly excludes 0 in the claimed direction 2.5 % of the
    time), and never calls equivalence within a 1-point margin at this noise."""
    rng = random.Random(0)
    verdicts = []
    for _ in range(400):
        a = {s: 70 + rng.gauss(0, 2) for s in range(seeds)}
        b = {s: 70 + rng.gauss(0, 2) for s in range(seeds)}
        verdicts.append(superiority(paired(a, b), margin=1.0))
    assert verdicts.count("inconclusive") / len(verdicts) > 0.9
    assert verdicts.count("held") / len(verdicts) < 0.05
