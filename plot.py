"""Plot TensorBoard scalars of one or more train.py runs into a PNG (not in the deck),
or what a model has learned over Pendulum's state plane.

    python plot.py logs/Pendulum-v1_seed500_*                       # learning curves
    python plot.py logs/Pendulum-v1_seed50[0-4]_* --mean            # 5 seeds as one band
    python plot.py logs/run_a logs/run_b --labels healthy collapsing \\
        --tags log/score_avg policy/out_of_bounds train/critic_grad_norm \\
        --symlog train/critic_grad_norm -o runs.png
    python plot.py save_model/model.pth --landscape                 # beside the optimum
    python plot.py logs/Pendulum-v1_seed500_* --landscape           # as it trained

Reads the event files with TensorBoard's own reader; one panel per tag, one line per run
(or, with --mean, per group of runs).
"""
import argparse
import os

import matplotlib
import numpy as np

matplotlib.use('Agg')  # files only: works without a display
import matplotlib.pyplot as plt  # noqa: E402

from ddpg_extras.run.checks import HelpFormatter, check_writable, fail  # noqa: E402
from ddpg_extras.run.files import atomic_write  # noqa: E402
from ddpg_extras.run.writer import logged_flags, scalars, tag_name  # noqa: E402

parser = argparse.ArgumentParser(description=' '.join(__doc__.split('\n\n')[0].split()),
                                 formatter_class=HelpFormatter, allow_abbrev=False)
parser.add_argument('runs', nargs='+', help='run folders written by train.py (under --logdir); '
                                          'with --landscape, one run folder or model file')
parser.add_argument('--tags', nargs='+', default=['log/score', 'log/score_avg'],
                    help='scalar tags to plot, one panel each')
parser.add_argument('--symlog', nargs='+', default=[], metavar='TAG',
                    help='tags to draw on a symmetric log scale (for values that explode)')
parser.add_argument('--labels', nargs='+',
                    help='a legend label per run (default: folder names); with --mean, one '
                         'label names all the runs')
parser.add_argument('--mean', action='store_true',
                    help='draw the runs that share a label (all runs, without --labels) as '
                         'their mean at each episode, shaded from the lowest to the highest')
parser.add_argument('--span', nargs=3, action='append', default=[],
                    metavar=('FIRST', 'LAST', 'TEXT'),
                    help='shade episodes FIRST to LAST in every panel, with TEXT in the legend')
parser.add_argument('--landscape', action='store_true',
                    help="Pendulum: a checkpoint's actor and critic over the state plane beside "
                         "the optimal ones, with a few episodes' paths (an actor file: the "
                         "policies alone); or the pictures a run folder logged as it trained")
parser.add_argument('-o', '--output', default=None,
                    help="the PNG to write (default: in the first run's folder, beside its logs: "
                         'curves.png, or curves_and_<N>_more.png for more runs, or '
                         'landscape.png; beside a model file: <model>.landscape.png). A figure '
                         'already there is replaced, and the last line says so: unlike a '
                         'recording, it is drawn again from what it shows')


def read_scalars(run, tags):
    """{tag: (episodes, values)} of one run folder."""
    if not os.path.isdir(run):
        fail('no run folder at {}; runs are the sub-folders of --logdir (./logs)'.format(run))
    found = scalars(run)
    if not found:
        fail('{} holds no TensorBoard scalars; point at a folder train.py wrote'.format(run))
    missing = [tag for tag in tags if tag_name(tag) not in found]  # older names work too
    if missing:
        fail('{} has no tag {}; it has: {}'.format(run, ', '.join(missing), ', '.join(found)))
    return {tag: found[tag_name(tag)] for tag in tags}


def mean_band(curves):
    """(episodes, mean, lowest, highest) over curves, each (episodes, values); an
    episode that only some runs reached is averaged over those."""
    tables = [dict(zip(*curve)) for curve in curves]
    episodes = sorted(set().union(*tables))
    rows = [[table[e] for table in tables if e in table] for e in episodes]
    return (episodes, [float(np.mean(row)) for row in rows], [min(row) for row in rows],
            [max(row) for row in rows])


def run_goals(runs):
    """The runs' goals (--goal_score, as each logged it), each once; none for inf."""
    goals = []
    for run in runs:
        try:
            goal = float(logged_flags(run).get('goal_score', 'inf'))
        except ValueError:
            continue
        if np.isfinite(goal) and goal not in goals:
            goals.append(goal)
    return goals


def beside(runs):
    """Where the figure goes without -o: with the first run's event files, never in the
    project's folder, nor where `python plot.py logs/*` would take it for a run."""
    more = len(runs) - 1
    return os.path.join(runs[0], 'curves_and_{}_more.png'.format(more) if more else 'curves.png')


def landscape(args):
    """plot.py --landscape: one run folder's or model file's landscapes."""
    from ddpg_extras.run.pictures import landscape_figure
    if len(args.runs) != 1:
        parser.error('--landscape draws one run folder or model file; give one')
    path = args.runs[0]
    output = checked_output(args.output or (
        os.path.join(path, 'landscape.png') if os.path.isdir(path)
        else os.path.splitext(path)[0] + '.landscape.png'))
    figure = landscape_figure(path)
    check_writable(os.path.dirname(output) or '.', '--output')
    write(figure, output)


def checked_output(output):
    """The figure's file, once it can be one: a .png, not a folder (before drawing)."""
    if not output.endswith('.png'):
        parser.error('--output must be a .png file')
    if os.path.isdir(output):
        fail('--output {} is a folder; give the figure a file name, e.g. {}'.format(
            output, os.path.join(output, 'curves.png')))
    return output


def write(figure, output):
    """The figure as a PNG at output, atomically; the last line says what was written,
    and whether a figure that was there was replaced."""
    replaced = os.path.exists(output)
    atomic_write(output, lambda f: figure.savefig(f, format='png', dpi=100))
    print('wrote {}{}'.format(output, ' (it replaces the figure that was there)' if replaced
                              else ''))


def main(argv=None):
    args = parser.parse_args(argv)
    if args.landscape:
        return landscape(args)
    labels = args.labels or [os.path.basename(os.path.normpath(run)) for run in args.runs]
    if args.mean and len(args.labels or ['all runs']) == 1:  # all runs are one group
        labels = (args.labels or ['all runs']) * len(args.runs)
    if len(labels) != len(args.runs):
        parser.error('--labels needs one label per run ({} runs, {} labels)'.format(
            len(args.runs), len(labels)))
    output = checked_output(args.output or beside(args.runs))
    try:
        spans = [(float(first), float(last), text) for first, last, text in args.span]
    except ValueError:
        parser.error('--span needs two episode numbers, then a text')
    groups = {}  # label: the runs that share it, in the order given
    for run, label in zip(args.runs, labels):
        groups.setdefault(label, []).append(read_scalars(run, args.tags))
    check_writable(os.path.dirname(output) or '.', '--output')  # made, as test.py makes its
    goals = run_goals(args.runs)
    figure, axes = plt.subplots(len(args.tags), 1, sharex=True, squeeze=False,
                                figsize=(8, 2.4 * len(args.tags) + 0.6))
    for ax, tag in zip(axes[:, 0], args.tags):
        for label, runs in groups.items():
            if not args.mean:
                for run in runs:
                    ax.plot(*run[tag], label=label, linewidth=1)
                continue
            episodes, mean, low, high = mean_band([run[tag] for run in runs])
            line, = ax.plot(episodes, mean, linewidth=1.2, label='{}: mean of {}, shaded from '
                            'lowest to highest'.format(label, len(runs)))
            ax.fill_between(episodes, low, high, color=line.get_color(), alpha=0.25, lw=0)
        for first, last, text in spans:
            ax.axvspan(first, last, color='grey', alpha=0.2, lw=0, label=text)
        if tag_name(tag) in ('log/score', 'log/score_avg'):  # in the scores' units
            for goal in goals:
                ax.axhline(goal, color='black', linestyle='--', linewidth=0.9,
                           label='goal: {:g} (--goal_score, which the 100-episode average '
                                 'must pass)'.format(goal))
        ax.set_ylabel(tag)
        if tag in args.symlog:
            ax.set_yscale('symlog', linthresh=1)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize='small')
    axes[-1, 0].set_xlabel('episode')
    figure.tight_layout()
    write(figure, output)


if __name__ == '__main__':
    main()
