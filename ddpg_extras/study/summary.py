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
from ddpg_extras.study.landscapes import at_common_episode
from ddpg_extras.study.verdicts import too_few, verdicts

# (the quantity, what it is, in which units, the digits it is given to)
QUANTITIES = (('actor_score', "saved actors' noiseless score, in return", 1),
              ('score_avg', "100-episode average of the training scores at each run's last "
                            'episode, in return', 1))
# On Pendulum (the runs' landscapes): each run's critic and actor against the truth
# (ddpg_extras/run/landscape.py) at one episode for all (ddpg_extras/study/landscapes.py)
GAPS = (('critic_bias', "critic's bias, mean Q(s, mu(s)) - V^mu(s) over the state grid, in "
                        'return (above 0: it overestimates its actor)', 1),
        ('critic_error', "critic's error, mean |Q(s, mu(s)) - V^mu(s)| over the state grid, "
                         'in return (lower is truer)', 1),
        ('regret', "actor's regret, mean V*(s) - V^mu(s) over Pendulum's starts, in return "
                   '(lower is better)', 2),
        ('actor_gap', "actor's distance from the optimum, mean |mu(s) - mu*(s)| over the "
                      'state grid, in N m', 2))
NAMES = [name for name, _, _ in GAPS]
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


def config_statistics(name, runs, budget, baseline):
    """One configuration's statistics: a dict of lists of statistics.csv's rows, by
    quantity, and what it lacks. budget: (goal_score, max_iter_num); baseline: the
    baseline's values by quantity (None for the baseline itself). Intervals only where
    there are estimates.MIN_RUNS runs (a side, for a comparison); else points."""
    goal_score, max_iter_num = budget
    found, missing = {}, []
    for quantity, _, _ in QUANTITIES + GAPS:
        scores = [number(row.get(quantity)) for row in runs]
        if quantity not in NAMES:  # (no landscapes: not Pendulum, or runs from before them)
            missing += ['seed {}: no {} ({})'.format(row['seed'], quantity, why(row))
                        for row, score in zip(runs, scores) if score is None]
        scores = [score for score in scores if score is not None]
        found[quantity] = [Estimate(name, quantity, statistic, *estimate, len(scores))
                           for statistic, estimate in aggregate(scores).items()]
        if quantity == 'actor_score' and baseline is not None:
            found['improvement'] = against(name, scores, baseline[quantity])
        if quantity in NAMES and baseline is not None and scores and baseline[quantity]:
            found.setdefault('differences', []).append(Estimate(
                name, quantity, 'IQM difference', *estimates.iqm_difference(
                    scores, baseline[quantity]), len(scores)))
    if math.isfinite(goal_score):
        reached = sum(bool(row['reached_goal']) for row in runs)
        # a run that did not reach the goal counts as the whole budget, the fewest it could need
        episodes = [row['episodes'] if row['reached_goal'] else max_iter_num for row in runs]
        found['goal'] = [Estimate(name, 'reached_goal', 'fraction', *estimates.fraction(
            reached, len(runs)), len(runs)), Estimate(name, 'episodes_to_goal', 'IQM',
                                                      *estimates.iqm(episodes), len(runs))]
    return found, missing


def against(name, scores, baseline_scores):
    """The rows of a configuration's saved actors against the baseline's: the
    probability of improvement and the IQM difference (intervals), and as a pilot, the
    seeds a side that would decide it at 80% power and the effect size it assumes."""
    enough = bool(scores) and bool(baseline_scores)
    rows = [Estimate(name, 'actor_score', statistic, *(
        estimate(scores, baseline_scores) if enough else (None, None, None)), len(scores))
        for statistic, estimate in (('probability of improvement', estimates.improvement),
                                    ('IQM difference', estimates.iqm_difference))]
    seeds, effect = estimates.seeds_to_decide(scores, baseline_scores) if min(
        len(scores), len(baseline_scores)) >= 2 else (None, None)
    return rows + [Estimate(name, 'actor_score', 'seeds a side for 80% power', seeds, None, None,
                            len(scores)),
                   Estimate(name, 'actor_score', "Cohen's d", effect, None, None, len(scores))]


def aggregate(scores):
    """estimates.aggregate, or where there are no scores, no statistics."""
    if scores:
        return estimates.aggregate(scores)
    return dict.fromkeys(estimates.AGGREGATES, (None, None, None))


def why(row):
    if row.get('error'):
        return row['error'].replace('error: ', '').split(';')[0]
    return 'no saved actor' if not row.get('model') else 'its result.json lacks it'


def values_of(rows, quantity, config=None):
    """The finite values of a quantity in these rows (of one configuration, where named)."""
    values = (number(row.get(quantity)) for row in rows if config in (None, row['config']))
    return [value for value in values if value is not None]


def study_statistics(configs, rows, budgets, baseline):
    """{config: (statistics, what it lacks)} over the trials that have finished."""
    by_config = {name: [row for row in rows if row['config'] == name] for name, _ in configs}
    values = {quantity: values_of(by_config[baseline], quantity)
              for quantity, _, _ in QUANTITIES + GAPS}
    return {name: config_statistics(name, runs, budgets[name],
                                    None if name == baseline else values)
            for name, runs in by_config.items() if runs}


def estimate_text(value, low, high, digits=1):
    if value is None:
        return '-'
    if low is None:
        return '{:.{}f}'.format(value, digits)
    return '{:.{d}f} ({:.{d}f} to {:.{d}f})'.format(value, low, high, d=digits)


def tables(configs, statistics, budgets, baseline, seen):
    """summary.md's tables: the saved actors, the training averages (fixed budgets only),
    the numbers against the truth at a common episode, the goal (or the fixed budget),
    and the probability of improvement over the baseline. seen: the scoring protocol,
    each run's values, the common episode and the optimum's score (write_report's)."""
    sections = []
    for quantity, title, digits in QUANTITIES + GAPS:
        names = [name for name in statistics if quantity != 'score_avg'
                 or not math.isfinite(budgets[name][0])]  # a goal's stopping rule sets it
        if quantity == 'score_avg' and len(names) < len(statistics):
            sections.append(stopped_at_goal([n for n in statistics if n not in names]))
        if not names or quantity in NAMES and not any(
                statistics[name][0][quantity][0].runs for name in names):
            continue  # nothing to show: every run stopped at a goal, or none drew landscapes
        sections.append(quantity_table(quantity, title, digits, names, dict(configs),
                                       statistics, seen, when(quantity, budgets, seen)))
    sections.append(goal_table(statistics, budgets))
    if len(statistics) > 1 and baseline in statistics:
        sections.append(improvement_table(statistics, baseline))
        if any('differences' in found for found, _ in statistics.values()):
            sections.append(differences_table(statistics, baseline, seen.get('episode')))
    lacking = ['- {} {}'.format(name, line) for name, (_, missing) in statistics.items()
               for line in missing]
    if lacking:
        sections.append('Not averaged in: these runs have no score.\n\n' + '\n'.join(lacking))
    few = too_few(statistics)
    if few:  # the points stand alone: said once, first
        sections.insert(0, few[0].upper() + few[1:] + '.')
    return '\n\n'.join(sections)


def quantity_table(quantity, title, digits, names, flags, statistics, seen, point):
    """One quantity's table: per configuration its runs, IQM, median and mean (with 95%
    intervals where there are enough runs), and each run's value, high to low."""
    shown = any(row.interval[1] is not None for name in names
                for row in statistics[name][0][quantity])  # too few runs: points alone
    lines = ['**{}**{}; {}{}:'.format(
        title[0].upper() + title[1:], seen['protocol'] if quantity == 'actor_score' else '',
        point, ' (95% confidence intervals)' if shown else ''), '',
        '| configuration | flags | runs | IQM | median | mean | each run, high to low |',
        '|---|---|---|---|---|---|---|']
    for name in names:
        found = statistics[name][0][quantity]
        cells = {row.statistic: estimate_text(*row.interval, digits=digits) for row in found}
        lines.append('| {} | {} | {} | {} | {} | {} | {} |'.format(
            name, flags_text(flags[name]), found[0].runs,
            *(cells[s] for s in estimates.AGGREGATES), ', '.join('{:.{}f}'.format(
                value, digits) for value in sorted(seen['values'].get((name, quantity), ()),
                                                   reverse=True))))
    if quantity == 'actor_score' and seen.get('optimum') is not None:
        lines.append('| optimum | for reference: the greedy policy of V* for gamma 0.99, by '
                     "value iteration on the environment's dynamics | 1 policy | {0:.1f} | "
                     '{0:.1f} | {0:.1f} | {0:.1f} |'.format(seen['optimum']))
    return '\n'.join(lines)


def when(quantity, budgets, seen):
    """At which point of each run's training a quantity's table compares them."""
    if quantity in NAMES:
        return ('at episode {}, the last at which every run logged its landscapes (so all '
                'had trained as long)'.format(seen.get('episode')))
    if quantity == 'score_avg':
        return 'each run with a fixed budget, at its last episode'
    goals = [math.isfinite(goal) for goal, _ in budgets.values()]
    if all(goals):
        return ('the actor each run saved the moment its 100-episode average passed the goal, '
                'or at its last episode where it never did: runs compared at their goals')
    if not any(goals):
        return 'the actor each run ends with, at its last episode (a fixed budget)'
    return ('with a goal, the actor a run saved when it reached it (else its last); with a '
            'fixed budget, the actor of its last episode')


def stopped_at_goal(names):
    return ('The 100-episode average of the training scores is left out for {}: each of '
            'their runs stops the moment that average passes its goal, so the stopping rule, '
            'not the configuration, sets it.'.format(', '.join(names)))


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
    lines = ['**Against {b}**, the saved actors: the probability of improvement, the share '
             'of pairings of one run of the configuration with one run of {b} in which the '
             "configuration's actor scores better (ties count half), and the IQM difference, "
             'its IQM less that of {b}, in return (95% intervals); and, these runs taken as a '
             'pilot, about how many seeds a side would decide it at 80% power:'.format(
                 b=baseline), '',
             '| configuration | P(a run beats a run of {}) | IQM difference | seeds a side |'
             .format(baseline), '|---|---|---|---|']
    for name, (found, _) in statistics.items():
        if name != baseline:
            p, difference, seeds, _ = found['improvement']
            lines.append('| {} | {} | {} | {} |'.format(
                name, estimate_text(*p.interval, digits=2), estimate_text(*difference.interval),
                '-' if seeds.value is None else '{:.0f}'.format(seeds.value)))
    return '\n'.join(lines + [''] + verdicts(statistics, baseline))


def differences_table(statistics, baseline, episode):
    """Each configuration's numbers against the truth less the baseline's, at the common
    episode: IQM differences with 95% intervals."""
    lines = ['**Against {b}, against the truth** at episode {e}: each configuration\'s IQM '
             'less that of {b} (95% intervals; one that holds 0 cannot tell them apart):'
             .format(b=baseline, e=episode), '',
             "| configuration | critic's bias | critic's error | regret | actor's distance (N m) |",
             '|---|---|---|---|---|']
    for name, (found, _) in statistics.items():
        if 'differences' in found:
            cells = {row.quantity: estimate_text(*row.interval, digits=dict(
                (q, d) for q, _, d in GAPS)[row.quantity]) for row in found['differences']}
            lines.append('| {} | {} |'.format(name, ' | '.join(cells.get(q, '-') for q in NAMES)))
    return '\n'.join(lines)


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
    episode, rows = at_common_episode(out, rows)  # the landscapes' numbers: one budget
    statistics = study_statistics(configs, rows, budgets, baseline)
    seen = {'protocol': protocol, 'episode': episode, 'optimum': optimum_score(rows, args),
            'values': {(name, quantity): values_of(rows, quantity, name)
                       for name, _ in configs for quantity, _, _ in QUANTITIES + GAPS}}
    text = tables(configs, statistics, budgets, baseline, seen) if statistics else (
        'No trial has finished.')
    groups, left_out = curve_runs(out, rows, args.x)
    if left_out:  # a log deleted or cut short: the curves go on without it, and say so
        text += '\n\ncurves.png leaves out {} run(s) whose logs lack {}: {}'.format(
            len(left_out), ', '.join(sorted(needed_tags(args.x))), ', '.join(left_out))
    written = [inside(out, os.path.join(out, name)) for name in ('statistics.csv', 'summary.md')]
    atomic_write(written[0], lambda f: f.write(statistics_csv(statistics).encode()))
    atomic_write(written[1], lambda f: f.write('{}\n\n{}\n'.format(header, text).encode()))
    colors = {name: 'C{}'.format(i % 10) for i, (name, _) in enumerate(configs)}
    scores = {name: seen['values'][name, 'actor_score'] for name in statistics
              if seen['values'][name, 'actor_score']}
    improvements = {name: found['improvement'][0].interval  # an interval, or none drawn
                    for name, (found, _) in statistics.items()
                    if 'improvement' in found and found['improvement'][0].low is not None}
    if groups:
        written.append(inside(out, os.path.join(out, 'curves.png')))
        gaps = tuple(tag for tag in GAP_TAGS if all(tag in run for runs in groups.values()
                                                    for run in runs))
        goals = sorted({goal for goal, _ in budgets.values() if math.isfinite(goal)})
        figures.curves_png(written[-1], groups, CURVE_TAGS + gaps, args.x, colors, goals)
    if scores:
        written.append(inside(out, os.path.join(out, 'profiles.png')))
        figures.profiles_png(written[-1], scores, protocol, colors)
    if improvements:
        written.append(inside(out, os.path.join(out, 'improvement.png')))
        figures.improvement_png(written[-1], improvements, baseline, colors)
    return text, written


def optimum_score(rows, args):
    """On Pendulum-v1, the optimum's mean score on the study's scoring starts (its greedy
    policy for gamma 0.99, as test.py prints it): a reference for the saved actors."""
    names = {row.get('env_name') for row in rows} - {None}  # (a diverged trial may name none)
    if names != {'Pendulum-v1'}:
        return None
    from ddpg_extras.run.evaluation import optimum_scores
    from ddpg_extras.run.optimum import optimum
    seeds = list(range(args.score_seed, args.score_seed + args.score_episodes))
    return sum(optimum_scores(optimum(0.99), seeds)) / len(seeds)


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
