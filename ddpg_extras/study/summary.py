"""What a study concludes (not in the deck): per configuration, interval estimates of
its saved actors' noiseless scores and of its final training averages, how many runs
reached the goal and how fast, and the probability that it improves on the baseline
configuration (ddpg_extras/study/estimates.py); as summary.md's tables, statistics.csv and
one line in words per comparison."""
import csv
import io
import math
import os
from collections import namedtuple

from ddpg_extras.run.files import atomic_write
from ddpg_extras.run.writer import scalars
from ddpg_extras.study import estimates, figures
from ddpg_extras.study.guard import inside

QUANTITIES = (('actor_score', "saved actors' noiseless score"),
              ('score_avg', 'final 100-episode average of the training scores'))
# On Pendulum (the run's landscapes): each run's final critic and actor against the truth
# (ddpg_extras/run/landscape.py), where the runs have them
GAPS = (('critic_bias', "final critic's bias, mean Q(s, mu(s)) - V^mu(s) over the state "
                        'grid, in return (above 0: it overestimates its actor)'),
        ('critic_error', "final critic's error, mean |Q(s, mu(s)) - V^mu(s)| over the state "
                         'grid, in return (lower is truer)'),
        ('regret', "final actor's regret, mean V*(s) - V^mu(s) over Pendulum's starts, in "
                   'return (lower is better)'),
        ('actor_gap', "final actor's distance from the optimum, mean |mu(s) - mu*(s)| over "
                      'the state grid, in N m'))
STATISTICS_COLUMNS = ('config', 'quantity', 'statistic', 'value', 'low', 'high', 'runs')


class Estimate(namedtuple('Estimate', STATISTICS_COLUMNS)):
    """One row of statistics.csv: a statistic of one quantity of one configuration, its
    95% interval (low, high; None where there is none), and the runs behind it."""

    @property
    def interval(self):
        return self.value, self.low, self.high


def number(value):
    """value as a finite float, or None (missing, null, nan or not a number)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def config_statistics(name, runs, budget, baseline_scores):
    """One configuration's statistics: a dict of lists of statistics.csv's rows, by
    quantity, and what it lacks. budget: (goal_score, max_iter_num). Intervals only
    where there are estimates.MIN_RUNS runs (a side, for a comparison); else points."""
    goal_score, max_iter_num = budget
    found, missing = {}, []
    for quantity, _ in QUANTITIES + GAPS:
        scores = [number(row.get(quantity)) for row in runs]
        if quantity not in dict(GAPS):  # (no gap: not Pendulum, or runs from before them)
            missing += ['seed {}: no {} ({})'.format(row['seed'], quantity, why(row))
                        for row, score in zip(runs, scores) if score is None]
        scores = [score for score in scores if score is not None]
        found[quantity] = [Estimate(name, quantity, statistic, *estimate, len(scores))
                           for statistic, estimate in aggregate(scores).items()]
        if quantity == 'actor_score' and baseline_scores is not None:
            enough = bool(scores) and bool(baseline_scores)
            found['improvement'] = [Estimate(name, quantity, statistic, *(
                estimate(scores, baseline_scores) if enough else (None, None, None)),
                len(scores)) for statistic, estimate in (
                    ('probability of improvement', estimates.improvement),
                    ('IQM difference', estimates.iqm_difference))]
    if math.isfinite(goal_score):
        reached = sum(bool(row['reached_goal']) for row in runs)
        # a run that did not reach the goal counts as the whole budget, the fewest it could need
        episodes = [row['episodes'] if row['reached_goal'] else max_iter_num for row in runs]
        found['goal'] = [Estimate(name, 'reached_goal', 'fraction', *estimates.fraction(
            reached, len(runs)), len(runs)), Estimate(name, 'episodes_to_goal', 'IQM',
                                                      *estimates.iqm(episodes), len(runs))]
    return found, missing


def aggregate(scores):
    """estimates.aggregate, or where there are no scores, no statistics."""
    if scores:
        return estimates.aggregate(scores)
    return dict.fromkeys(estimates.AGGREGATES, (None, None, None))


def why(row):
    if row.get('error'):
        return row['error'].replace('error: ', '').split(';')[0]
    return 'no saved actor' if not row.get('model') else 'its result.json lacks it'


def study_statistics(configs, rows, budgets, baseline):
    """{config: (statistics, what it lacks)} over the trials that have finished."""
    by_config = {name: [row for row in rows if row['config'] == name] for name, _ in configs}
    baseline_scores = [score for score in (number(row.get('actor_score'))
                                           for row in by_config[baseline]) if score is not None]
    return {name: config_statistics(name, runs, budgets[name],
                                    None if name == baseline else baseline_scores)
            for name, runs in by_config.items() if runs}


def estimate_text(value, low, high, digits=1):
    if value is None:
        return '-'
    if low is None:
        return '{:.{}f}'.format(value, digits)
    return '{:.{d}f} ({:.{d}f} to {:.{d}f})'.format(value, low, high, d=digits)


def tables(configs, statistics, budgets, baseline, protocol):
    """summary.md's tables: the saved actors, the training averages, the goal (or the
    fixed budget), and the probability of improvement over the baseline."""
    flags = dict(configs)
    sections = []
    for quantity, title in QUANTITIES + GAPS:
        if quantity in dict(GAPS) and not any(found[quantity][0].runs
                                              for found, _ in statistics.values()):
            continue  # no run drew landscapes
        shown = any(row.interval[1] is not None for found, _ in statistics.values()
                    for row in found[quantity])  # too few runs: points alone
        lines = ['**{}**{}{}:'.format(
            title[0].upper() + title[1:], protocol if quantity == 'actor_score' else '',
            ' (95% confidence intervals)' if shown else ''), '',
            '| configuration | flags | runs | IQM | median | mean |', '|---|---|---|---|---|---|']
        for name, (found, _) in statistics.items():
            cells = {row.statistic: estimate_text(*row.interval) for row in found[quantity]}
            lines.append('| {} | {} | {} | {} | {} | {} |'.format(
                name, flags_text(flags[name]), found[quantity][0].runs,
                *(cells[s] for s in estimates.AGGREGATES)))
        sections.append('\n'.join(lines))
    sections.append(goal_table(statistics, budgets))
    if len(statistics) > 1 and baseline in statistics:
        sections.append(improvement_table(statistics, baseline))
    lacking = ['- {} {}'.format(name, line) for name, (_, missing) in statistics.items()
               for line in missing]
    if lacking:
        sections.append('Not averaged in: these runs have no score.\n\n' + '\n'.join(lacking))
    few = too_few(statistics)
    if few:  # the points stand alone: said once, first
        sections.insert(0, few[0].upper() + few[1:] + '.')
    return '\n\n'.join(sections)


def flags_text(flags):
    return '`{}`'.format(' '.join(flags)) if flags else 'default flags'


def goal_table(statistics, budgets):
    goal = {name: found['goal'] for name, (found, _) in statistics.items() if 'goal' in found}
    fixed = ['{} ({} episodes)'.format(name, budgets[name][1]) for name in statistics
             if name not in goal]
    lines = []
    if fixed:
        lines.append('A fixed budget, no goal (`--goal_score inf`): {}. Each run is scored by '
                     'the actor it ends with.'.format(', '.join(fixed)))
    if goal:
        lines += ['' if fixed else None, '**The goal** (the 100-episode average above '
                  '`--goal_score`; 95% intervals: Wilson for the fraction, bootstrap for the '
                  'IQM). A run that did not reach it counts as its whole budget '
                  '(`--max_iter_num`), the fewest episodes it could have needed:', '',
                  '| configuration | goal | reached | IQM episodes to the goal |',
                  '|---|---|---|---|']
        for name, (fraction, episodes) in goal.items():
            lines.append('| {} | {:g} | {}/{}, {} | {} |'.format(
                name, budgets[name][0], round(fraction.value * fraction.runs), fraction.runs,
                estimate_text(*fraction.interval, digits=2),
                estimate_text(*episodes.interval, digits=0)))
    return '\n'.join(line for line in lines if line is not None)


def improvement_table(statistics, baseline):
    lines = ['**Against {}**: the probability of improvement, the chance that a run of the '
             'configuration saves a better actor than a run of {}, and by how much its IQM '
             'is higher (95% intervals):'.format(baseline, baseline), '',
             '| configuration | P(better than {}) | IQM difference |'.format(baseline),
             '|---|---|---|']
    for name, (found, _) in statistics.items():
        if name != baseline:
            p, difference = found['improvement']
            lines.append('| {} | {} | {} |'.format(name, estimate_text(*p.interval, digits=2),
                                                   estimate_text(*difference.interval)))
    return '\n'.join(lines + [''] + improvement_words(statistics, baseline))


def improvement_words(statistics, baseline):
    """One line per configuration: whether it beats the baseline, and by how much, in words."""
    words = []
    for name, (found, _) in statistics.items():
        if name == baseline:
            continue
        (p, low, high), (d, d_low, d_high) = (row.interval for row in found['improvement'])
        if p is None:
            words.append('{} against {}: too few scored runs to compare.'.format(name, baseline))
            continue
        if low is None:  # too few runs a side for an interval: no claim either way
            words.append('{} against {}: {}.'.format(name, baseline, too_few(statistics, (
                name, baseline))))
            continue
        better, worse = name, baseline
        if high < 0.5:  # the baseline is better: P(Y > X) = 1 - P(X > Y), ties counting half
            better, worse, p, low, high = baseline, name, 1 - p, 1 - high, 1 - low
            d, d_low, d_high = -d, -d_high, -d_low
        line = '{} beats {} with probability {:.2f} ({:.2f}-{:.2f})'.format(
            better, worse, p, low, high)
        if low > 0.5:
            words.append('{}; its IQM is {} higher.'.format(line, estimate_text(d, d_low, d_high)))
        else:
            words.append('{}: the interval holds 0.5, so these runs cannot tell them apart '
                         '(IQM difference {}).'.format(line, estimate_text(d, d_low, d_high)))
    return words


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


def statistics_csv(statistics):
    """statistics.csv: one row per configuration, quantity and statistic."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator='\n')
    writer.writerow(STATISTICS_COLUMNS)
    for found, _ in statistics.values():
        for rows in found.values():
            writer.writerows([cell if cell is None or isinstance(cell, (str, int)) else
                              float(cell) for cell in row] for row in rows)  # not np.float64
    return text.getvalue()


def write_report(out, header, configs, rows, budgets, args):
    """statistics.csv, summary.md (header, then the tables), curves.png, profiles.png
    and improvement.png of the trials that have finished. args: the study's baseline,
    scoring and x axis. Returns (the tables, the files written)."""
    baseline = args.baseline or configs[0][0]
    protocol = ', each the mean of {} episodes from reset seeds {}-{}'.format(
        args.score_episodes, args.score_seed, args.score_seed + args.score_episodes - 1)
    statistics = study_statistics(configs, rows, budgets, baseline)
    text = tables(configs, statistics, budgets, baseline, protocol) if statistics else (
        'No trial has finished.')
    groups, left_out = curve_runs(out, rows, args.x)
    if left_out:  # a log deleted or cut short: the curves go on without it, and say so
        text += '\n\ncurves.png leaves out {} run(s) whose logs lack {}: {}'.format(
            len(left_out), ', '.join(sorted(needed_tags(args.x))), ', '.join(left_out))
    written = [inside(out, os.path.join(out, name)) for name in ('statistics.csv', 'summary.md')]
    atomic_write(written[0], lambda f: f.write(statistics_csv(statistics).encode()))
    atomic_write(written[1], lambda f: f.write('{}\n\n{}\n'.format(header, text).encode()))
    colors = {name: 'C{}'.format(i % 10) for i, (name, _) in enumerate(configs)}
    scores = {name: [score for score in (number(row.get('actor_score')) for row in rows
                                         if row['config'] == name) if score is not None]
              for name in statistics}
    scores = {name: runs for name, runs in scores.items() if runs}
    improvements = {name: found['improvement'][0].interval  # an interval, or none drawn
                    for name, (found, _) in statistics.items()
                    if 'improvement' in found and found['improvement'][0].low is not None}
    if groups:
        written.append(inside(out, os.path.join(out, 'curves.png')))
        gaps = tuple(tag for tag in GAP_TAGS if all(tag in run for runs in groups.values()
                                                    for run in runs))
        figures.curves_png(written[-1], groups, CURVE_TAGS + gaps, args.x, colors)
    if scores:
        written.append(inside(out, os.path.join(out, 'profiles.png')))
        figures.profiles_png(written[-1], scores, protocol, colors)
    if improvements:
        written.append(inside(out, os.path.join(out, 'improvement.png')))
        figures.improvement_png(written[-1], improvements, baseline, colors)
    return text, written


CURVE_TAGS = ('log/score', 'log/score_avg')
# drawn too where every run logged them (truth/critic_gap: runs from before the others)
GAP_TAGS = ('truth/critic_bias', 'truth/critic_error', 'truth/regret', 'truth/actor_gap',
            'truth/critic_gap')


def needed_tags(x):
    return set(CURVE_TAGS) | ({'log/steps'} if x == 'steps' else set())


def curve_runs(out, rows, x):
    """({config: each of its runs' scalars} of the runs whose logs hold the curves' tags,
    log/steps too for curves over steps; the run folders that lack them)."""
    needed, groups, left_out = needed_tags(x), {}, []
    for row in rows:
        if row.get('run_dir') and row.get('episodes'):  # (the deck's loop logs no curves)
            run = scalars(os.path.join(out, row['run_dir']), needed | set(GAP_TAGS))
            if needed <= set(run) and (x == 'episodes' or set(run['log/score'][0]) <= set(
                    run['log/steps'][0])):  # (a run logged before log/steps existed has none)
                groups.setdefault(row['config'], []).append(run)
            else:
                left_out.append(os.path.join(out, row['run_dir']))
    return groups, left_out
