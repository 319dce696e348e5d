"""A study's figures (not in the deck), each with its 95% intervals
(ddpg_extras/study/estimates.py): curves.png, the IQM of the training scores over episodes or
steps; profiles.png, the performance profiles of the saved actors; improvement.png, the
probability of improvement over the baseline."""

import matplotlib
import numpy as np

matplotlib.use('Agg')  # files only: works without a display
import matplotlib.pyplot as plt  # noqa: E402

from ddpg_extras.run.files import atomic_write  # noqa: E402
from ddpg_extras.study import estimates  # noqa: E402

TAG_TITLES = {'log/score': "episode score (log/score)",
              'log/score_avg': 'average of the last 100 episodes (log/score_avg)',
              'truth/critic_bias': "the critic's bias, mean Q - V^mu (truth/critic_bias)",
              'truth/critic_error': "the critic's error, mean |Q - V^mu| (truth/critic_error)",
              'truth/regret': "the actor's regret, mean V* - V^mu over the starts "
                              '(truth/regret)',
              'truth/actor_gap': "the actor's distance from the optimum, mean |mu - mu*| "
                                 '(truth/actor_gap)',
              'truth/critic_gap': "the critic's distance from V*, mean |Q - V*| (runs from "
                                  'before truth/critic_error; truth/critic_gap)'}
UNITS = {'truth/actor_gap': 'N m', 'truth/critic_bias': 'return', 'truth/critic_error': 'return',
         'truth/regret': 'return', 'truth/critic_gap': 'return'}
POINTS = 300  # at most, along a curve's x axis


def save(figure, path):
    if figure.get_layout_engine() is None:  # (a figure with a suptitle lays itself out)
        figure.tight_layout()
    atomic_write(path, lambda f: figure.savefig(f, format='png', dpi=110))
    plt.close(figure)


def held(x, y, grid):
    """A run's values at each grid point: the last one logged at or before it, so a run
    that has ended holds its last value; nan before its first."""
    index = np.searchsorted(np.asarray(x), grid, side='right') - 1
    values = np.asarray(y, dtype=float)[np.clip(index, 0, None)]
    values[index < 0] = np.nan
    return values


def run_x(run, tag, x):
    """A run's x values for tag: its episodes, or its steps at the end of each (log/steps)."""
    episodes = run[tag][0]
    if x == 'episodes':
        return np.asarray(episodes, dtype=float)
    steps = dict(zip(*run['log/steps']))
    return np.asarray([steps[episode] for episode in episodes], dtype=float)


def band(low):
    """The legend's word for a configuration's band: its interval, or why none."""
    return ('95% interval' if low is not None else
            'too few for an interval (at least {})'.format(estimates.MIN_RUNS))


def curves_png(path, groups, tags, x='episodes', colors=None, goals=()):
    """One panel per tag and a panel of how many runs still train; per configuration
    (groups: {name: [each run's scalars]}), the IQM over its runs and a 95% band. colors:
    {name: a matplotlib color}, the same in each of a study's figures; goals: the
    configurations' finite goals, drawn on the score panels."""
    colors = colors or {}
    figure, axes = plt.subplots(len(tags) + 1, 1, sharex=True, figsize=(8, 2.8 * len(tags) + 1.8),
                                gridspec_kw={'height_ratios': [3] * len(tags) + [1]},
                                layout='constrained')
    for ax, tag in zip(axes, tags):
        for name, runs in groups.items():
            xs = [run_x(run, tag, x) for run in runs]
            grid = np.unique(np.linspace(max(r[0] for r in xs), max(r[-1] for r in xs),
                                         POINTS).round())
            matrix = np.stack([held(r, run[tag][1], grid) for r, run in zip(xs, runs)])
            grid, matrix = grid[~np.isnan(matrix).any(0)], matrix[:, ~np.isnan(matrix).any(0)]
            iqm, low, high = estimates.iqm_curve(matrix)
            line, = ax.plot(grid, iqm, linewidth=1.3, color=colors.get(name),
                            label='{}: IQM of {} runs, {}'.format(name, len(runs), band(low)))
            if low is not None:  # too few runs for an interval: the line alone
                ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.25, lw=0)
            if ax is axes[0]:
                axes[-1].step(grid, [sum(r[-1] >= g for r in xs) for g in grid], where='post',
                              color=line.get_color(), linewidth=1.2)
        ax.set_ylabel(UNITS.get(tag, 'score'))
        if UNITS.get(tag) == 'return':  # from about 800 at first to tens: both readable
            ax.set_yscale('symlog', linthresh=10)
        if tag in ('log/score', 'log/score_avg'):
            for goal in goals:
                ax.axhline(goal, color='black', linestyle='--', linewidth=0.9, label='goal: '
                           '{:g} (for the 100-episode average)'.format(goal))
        ax.set_title(TAG_TITLES.get(tag, tag), fontsize='medium')
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize='small', loc='lower right')
    axes[-1].set_ylabel('runs\ntraining')
    axes[-1].set_ylim(0, max(len(runs) for runs in groups.values()) + 0.5)
    axes[-1].grid(alpha=0.3)
    axes[-1].set_xlabel('episode' if x == 'episodes' else 'environment steps')
    figure.suptitle('The IQM of each configuration\'s runs; a run that has ended (its goal, '
                    'budget, a divergence) holds its last value',
                    fontsize='medium')
    save(figure, path)


def profiles_png(path, scores, protocol, colors=None):
    """Performance profiles: per configuration ({name: its runs' scores}), the fraction
    of runs whose saved actor scores above tau, over tau, with a 95% band."""
    every = np.concatenate([np.asarray(s, dtype=float) for s in scores.values()])
    low = min(axis_start(np.asarray(s, dtype=float)) for s in scores.values())
    span = max(every.max() - low, 1.0)
    taus = np.linspace(low - 0.05 * span, every.max() + 0.05 * span, 101)
    figure, ax = plt.subplots(figsize=(8, 4.5))
    below = every < taus[0]  # far below the rest: off the axis, said, not stretching it
    off = '\n({} run(s) below {:.0f}, off the axis; the lowest: {:.0f})'.format(
        below.sum(), taus[0], every.min()) if below.any() else ''
    for name, runs in scores.items():
        fraction, low, high = estimates.profile(runs, taus)
        line, = ax.plot(taus, fraction, linewidth=1.3, color=(colors or {}).get(name),
                        label='{} ({} runs, {})'.format(name, len(runs), band(low)))
        if low is not None:
            ax.fill_between(taus, low, high, color=line.get_color(), alpha=0.2, lw=0)
    ax.set_xlabel("tau: the saved actor's noiseless score{}".format(protocol))
    ax.set_ylabel('fraction of runs scoring above tau')
    ax.set_ylim(-0.02, 1.02)
    ax.set_title('Performance profiles, with 95% intervals' + off, fontsize='medium')
    ax.grid(alpha=0.3)
    ax.legend(fontsize='small', loc='lower left')
    save(figure, path)


def axis_start(values):
    """Where a score axis starts for one configuration's runs: the lowest, or where one
    far below the rest would stretch the axis, Tukey's lower fence (the lower quartile
    less 1.5 interquartile ranges), so the region where configurations differ keeps its
    width. (Each configuration's own: runs that differ from another's are not cut.)"""
    q1, q3 = np.percentile(values, [25, 75])
    return max(values.min(), q1 - 1.5 * (q3 - q1))


def improvement_png(path, improvements, baseline, colors=None):
    """The probability of improvement of each configuration over the baseline
    ({name: (point, low, high)}), with its 95% interval."""
    names = list(improvements)
    figure, ax = plt.subplots(figsize=(8, 2 + 0.5 * len(names)))
    for row, name in enumerate(names):
        point, low, high = improvements[name]
        ax.errorbar(point, row, xerr=[[point - low], [high - point]], fmt='o', capsize=4,
                    color=(colors or {}).get(name))
    ax.axvline(0.5, color='grey', linestyle='--', linewidth=1, label='0.5: no better, no worse')
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.4, -0.6)  # the first configuration at the top
    ax.set_xlim(0, 1)
    ax.set_xlabel('P(a run of the configuration saves a better actor than a run of {})'.format(
        baseline))
    ax.set_title('Probability of improvement over {}, with 95% intervals'.format(baseline),
                 fontsize='medium')
    ax.grid(alpha=0.3, axis='x')
    ax.legend(fontsize='small', loc='lower right')
    save(figure, path)
