"""Plot TensorBoard scalars of one or more train.py runs into a PNG (not in the deck).

    python plot.py logs/Pendulum-v1_seed500_*                       # learning curves
    python plot.py logs/run_a logs/run_b --labels healthy collapsing \\
        --tags log/score_avg actor/out_of_bounds train/critic_grad_norm \\
        --symlog train/critic_grad_norm -o runs.png

Reads the event files with TensorBoard's own reader; one panel per tag, one line per run.
"""
import argparse
import os

import matplotlib
matplotlib.use('Agg')  # files only: works without a display
import matplotlib.pyplot as plt  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from utils import atomic_write, fail  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
parser.add_argument('runs', nargs='+', help='run folders written by train.py (under --logdir)')
parser.add_argument('--tags', nargs='+', default=['log/score', 'log/score_avg'],
                    help='scalar tags to plot, one panel each')
parser.add_argument('--symlog', nargs='+', default=[], metavar='TAG',
                    help='tags to draw on a symmetric log scale (for values that explode)')
parser.add_argument('--labels', nargs='+', help='a legend label per run (default: folder names)')
parser.add_argument('-o', '--output', default='learning_curve.png', help='the PNG to write')


def read_scalars(run, tags):
    """{tag: (episodes, values)} of one run folder."""
    if not os.path.isdir(run):
        fail('no run folder at {}; runs are the sub-folders of --logdir (./logs)'.format(run))
    events = EventAccumulator(run, size_guidance={'scalars': 0})  # 0: keep every point
    events.Reload()
    found = events.Tags()['scalars']
    if not found:
        fail('{} holds no TensorBoard scalars; point at a folder train.py wrote'.format(run))
    missing = [tag for tag in tags if tag not in found]
    if missing:
        fail('{} has no tag {}; it has: {}'.format(run, ', '.join(missing), ', '.join(found)))
    return {tag: ([e.step for e in events.Scalars(tag)], [e.value for e in events.Scalars(tag)])
            for tag in tags}


def main(argv=None):
    args = parser.parse_args(argv)
    labels = args.labels or [os.path.basename(os.path.normpath(run)) for run in args.runs]
    if len(labels) != len(args.runs):
        parser.error('--labels needs one label per run ({} runs, {} labels)'.format(
            len(args.runs), len(labels)))
    if not args.output.endswith('.png'):
        parser.error('--output must be a .png file')
    data = [read_scalars(run, args.tags) for run in args.runs]
    figure, axes = plt.subplots(len(args.tags), 1, sharex=True, squeeze=False,
                                figsize=(8, 2.4 * len(args.tags) + 0.6))
    for ax, tag in zip(axes[:, 0], args.tags):
        for run, label in zip(data, labels):
            ax.plot(*run[tag], label=label, linewidth=1)
        ax.set_ylabel(tag)
        if tag in args.symlog:
            ax.set_yscale('symlog', linthresh=1)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize='small')
    axes[-1, 0].set_xlabel('episode')
    figure.tight_layout()
    atomic_write(args.output, lambda f: figure.savefig(f, format='png', dpi=100))
    print('wrote {}'.format(args.output))


if __name__ == '__main__':
    main()
