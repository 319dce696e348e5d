"""A study's verdicts in words (not in the deck): what the 95% intervals of
estimates.py allow one to say of each configuration against the baseline, and no more.

- The probability of improvement is said as what it is: in what share of the pairings
  of one run of X with one run of Y, X's saved actor scores better (ties count half).
- "X is better" only where that share's interval leaves out 50%.
- "its IQM is higher by d" only where the IQM difference's interval leaves out 0.
- Where either is undecided: about how many seeds a side would decide it at 80% power,
  from these runs as a pilot (estimates.seeds_to_decide), and by which method.
- With fewer than estimates.MIN_RUNS scored runs a side: no interval and no verdict."""
from ddpg_extras.study import estimates

POWER_METHOD = ("a two-sided t-test at the 5% level, statsmodels' TTestIndPower, at the "
                "effect these runs show, Cohen's d {:.2f}")


def verdicts(statistics, baseline):
    """One line per configuration but the baseline: what its runs say against it."""
    lines = []
    for name, (found, _) in statistics.items():
        if name == baseline:
            continue
        p, difference, seeds, effect = found['improvement']
        if p.value is None:
            lines.append('{} against {}: too few scored runs to compare.'.format(name, baseline))
        elif p.low is None:  # too few runs a side for an interval: no claim either way
            lines.append('{} against {}: {}.'.format(name, baseline, too_few(statistics, (
                name, baseline))))
        else:
            lines.append(verdict(name, baseline, p.interval, difference.interval,
                                 (seeds.value, effect.value)))
    return lines


def verdict(x, y, p, difference, power):
    """The line of X against Y: p and difference as (point, low, high); power: (the
    seeds a side that would decide it or None, the effect size), seeds_to_decide's."""
    share, low, high = p
    line = ('{x} against {y}: a run of {x} saves a better actor than a run of {y} in {:.0%} '
            'of pairings (95% interval {:.0%} to {:.0%})'.format(share, low, high, x=x, y=y))
    if low > 0.5 or high < 0.5:
        line += ', so {} is better'.format(x if low > 0.5 else y)
    else:
        line += ', an interval that holds 50%: these runs cannot tell which is better'
    d, d_low, d_high = difference
    if d_low > 0 or d_high < 0:
        higher, d, d_low, d_high = (x, d, d_low, d_high) if d_low > 0 else (
            y, -d, -d_high, -d_low)
        line += '; the IQM of {} is higher by {}.'.format(higher, estimates_text(d, d_low, d_high))
    else:
        line += '; the IQM difference, {}, holds 0: these runs cannot say that either IQM ' \
                'is higher.'.format(estimates_text(d, d_low, d_high))
    if low <= 0.5 <= high or d_low <= 0 <= d_high:
        line += ' ' + power_text(*power)
    return line


def power_text(seeds, effect):
    """How many seeds a side would decide it (seeds_to_decide's), and by which method."""
    method = POWER_METHOD.format(effect)
    if seeds is None:
        return ('No number of seeds up to {} a side would decide it at 80% power ({}).'
                .format(estimates.MAX_SEEDS, method))
    return 'About {} seeds a side would decide it at 80% power ({}).'.format(int(seeds), method)


def estimates_text(value, low, high):
    return '{:.1f} ({:.1f} to {:.1f})'.format(value, low, high)


def too_few(statistics, names=None):
    """One line for the configurations (names; all by default) with too few scored runs
    for an interval: how many they have, and how many seeds more they need; None where
    none has too few."""
    runs = {name: statistics[name][0]['actor_score'][0].runs for name in names or statistics}
    short = {name: n for name, n in runs.items() if n < estimates.MIN_RUNS}
    if not short:
        return None
    return ('no interval and no comparison where a configuration has fewer than {} scored '
            'runs (docs/studies.md): {}; run {} more seed(s) for them'.format(
                estimates.MIN_RUNS, ', '.join('{} has {}'.format(name, n)
                                             for name, n in short.items()),
                estimates.MIN_RUNS - min(short.values())))
