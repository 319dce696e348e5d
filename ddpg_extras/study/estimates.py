"""Interval estimates of a study (not in the deck), from rliable (Agarwal et al., "Deep
Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS 2021): the
interquartile mean, median and mean of a configuration's runs, the probability of
improvement of one configuration over another, performance profiles and learning
curves, each with a 95% stratified-bootstrap confidence interval over the runs. One
environment is one task, so the bootstrap resamples runs. The fraction of runs that
reach the goal has a Wilson interval (statsmodels): a bootstrap of 10 runs out of 10
gives the interval [1, 1], which claims a certainty that 10 runs cannot give.

Every bootstrap is seeded (the same study gives the same intervals, tested) and each
configuration is drawn on its own (its intervals do not depend on the others)."""
import warnings

import numpy as np

REPS = 2000  # bootstrap replications: rliable's default for profiles and improvement
CONFIDENCE = 0.95
AGGREGATES = ('IQM', 'median', 'mean')
# The fewest runs a configuration needs for a bootstrap interval. Below it, the 95%
# interval of the IQM covers the true IQM about half the time at 2 runs and three
# quarters at 3 (python benchmarks/bench.py coverage; docs/studies.md): fewer runs get
# point estimates only, and no claim that one configuration beats another.
MIN_RUNS = 5


def rliable():
    """rliable's library and metrics modules (requirements/study.txt)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # its dependencies' import-time warnings
        from rliable import library, metrics
    return library, metrics


def interval(scores, func, reps=REPS):
    """(point, low, high) of func over scores (an array of runs first, or a tuple of
    two such arrays), by rliable's stratified bootstrap; each an array as func's. With
    fewer than MIN_RUNS runs (a side), the point alone: (point, None, None)."""
    samples = scores if isinstance(scores, tuple) else (scores,)
    if min(len(sample) for sample in samples) < MIN_RUNS:
        return np.asarray(func(*samples)), None, None
    library, _ = rliable()
    # rliable 1.2 resamples with NumPy's global generator (np.random.choice), whatever
    # random_state says: seed that, and give the caller's state back
    state = np.random.get_state()
    np.random.seed(0)
    try:
        points, intervals = library.get_interval_estimates(
            {'x': scores}, func, reps=reps, confidence_interval_size=CONFIDENCE)
    finally:
        np.random.set_state(state)
    return np.asarray(points['x']), intervals['x'][0], intervals['x'][1]


def at(estimate, i):
    """The i-th (point, low, high) of an interval() of several statistics."""
    return tuple(None if part is None else float(part[i]) for part in estimate)


def runs(scores):
    """One configuration's scores as rliable's (runs x tasks) matrix: one task."""
    return np.asarray(scores, dtype=float).reshape(-1, 1)


def aggregate(scores):
    """{'IQM' | 'median' | 'mean': (point, low, high)} of one configuration's runs. The
    median is over the runs (NumPy's): rliable's aggregate_median is the median over
    tasks of each task's mean, which for one task is the mean."""
    _, metrics = rliable()
    estimate = interval(runs(scores), lambda s: np.array(
        [metrics.aggregate_iqm(s), np.median(s), metrics.aggregate_mean(s)]))
    return {name: at(estimate, i) for i, name in enumerate(AGGREGATES)}


def iqm_value(scores):
    """The interquartile mean of runs' scores, rliable's aggregate_iqm: no interval."""
    _, metrics = rliable()
    return float(metrics.aggregate_iqm(runs(scores)))


def iqm(scores):
    """(point, low, high) of the interquartile mean of one configuration's runs."""
    _, metrics = rliable()
    return at(interval(runs(scores), lambda s: np.array([metrics.aggregate_iqm(s)])), 0)


def improvement(scores_x, scores_y):
    """(point, low, high) of the probability that a run of X scores above a run of Y
    (ties count half; rliable's, by the Mann-Whitney U statistic), the runs of X and of
    Y resampled independently."""
    _, metrics = rliable()
    return at(interval((runs(scores_x), runs(scores_y)), lambda x, y: np.array(
        [metrics.probability_of_improvement(x, y)])), 0)


def iqm_difference(scores_x, scores_y):
    """(point, low, high) of IQM(X) - IQM(Y): by how much X's runs score above Y's, the
    runs of X and of Y resampled independently."""
    _, metrics = rliable()
    return at(interval((runs(scores_x), runs(scores_y)), lambda x, y: np.array(
        [metrics.aggregate_iqm(x) - metrics.aggregate_iqm(y)])), 0)


def profile(scores, taus):
    """(fraction of runs above each tau, low, high): a performance profile, rliable's
    score distribution (library.score_distributions)."""
    library, _ = rliable()
    taus = np.asarray(taus, dtype=float)
    return interval(runs(scores), lambda s: library.score_distributions(s, taus))


def iqm_curve(curves):
    """(IQM at each point, low, high) of runs x points, each run resampled whole: the
    interquartile mean (rliable's aggregate_iqm, a 25% trimmed mean) of every point's
    column at once."""
    from scipy.stats import trim_mean  # what aggregate_iqm computes, for all columns at once
    curves = np.asarray(curves, dtype=float)
    return interval(curves[:, None, :],  # runs x one task x points: runs drawn whole
                    lambda s: trim_mean(s[:, 0, :], proportiontocut=0.25, axis=0))


def fraction(count, total):
    """(count / total, low, high): a 95% Wilson score interval (statsmodels)."""
    from statsmodels.stats.proportion import proportion_confint
    low, high = proportion_confint(count, total, alpha=1 - CONFIDENCE, method='wilson')
    return count / total, float(low), float(high)


POWER, MAX_SEEDS = 0.8, 1000  # seeds_to_decide's target, and where it stops counting


def seeds_to_decide(scores_x, scores_y):
    """(about how many runs a side a two-sided t-test at the 5% level would need to tell
    X from Y with probability POWER, Cohen's d of these runs): the fewest whose power,
    by statsmodels' TTestIndPower, reaches POWER at the effect size the runs show, the
    difference of the means over their pooled standard deviation. The runs are a pilot:
    the number is a planning figure, not a promise. (None, d) where they show no
    difference, or more than MAX_SEEDS would be needed."""
    from statsmodels.stats.power import TTestIndPower
    x, y = np.asarray(scores_x, dtype=float), np.asarray(scores_y, dtype=float)
    pooled = np.sqrt(((len(x) - 1) * x.var(ddof=1) + (len(y) - 1) * y.var(ddof=1))
                     / (len(x) + len(y) - 2))
    if not pooled > 0 or x.mean() == y.mean():
        return None, 0.0
    effect = float((x.mean() - y.mean()) / pooled)
    runs = np.arange(2, MAX_SEEDS + 1)
    power = TTestIndPower().power(abs(effect), nobs1=runs, alpha=0.05, ratio=1.0)
    enough = np.flatnonzero(np.nan_to_num(power, nan=1.0) >= POWER)  # (nan: near 1, far out)
    return (int(runs[enough[0]]) if len(enough) else None), effect
