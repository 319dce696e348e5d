"""What a training process does once, whether it trains one run (train.py) or K seeds
(train_seeds.py): the checks of the flags together, threads, the display, the folders,
Ctrl-C and the progress bar. Each run's own part is a Run (run.py)."""
import torch

from ddpg_extras.run.checks import check_device, check_writable, fail
from ddpg_extras.run.environments import has_display
from ddpg_extras.run.landscape import check_landscapes
from ddpg_extras.run.progress import Progress
from ddpg_extras.run.signals import StopSignals


class Session:
    def __init__(self, args, usage_error, in_cohort=False):
        """Check the flags before anything is made, and say what is wrong in one line.
        usage_error: the parser's error(), for argparse's usage line; in_cohort:
        train_seeds.py's."""
        self.device = check_flags(args, usage_error, in_cohort)
        # One thread unless --threads: PyTorch's default, one per core, only burns CPU on
        # these small operations (benchmarks/bench.py threads; docs/speed.md, "Threads")
        torch.set_num_threads(args.threads or 1)
        if args.render and not has_display():
            fail('--render needs a display and there is none; train without it, then '
                 'watch the actor with: python test.py')
        check_writable(args.save_path, '--save_path')  # now, not after an hour of training
        check_writable(args.logdir, '--logdir')
        self.signals, self.progress = StopSignals(), None

    def start(self, steps):
        """Training begins: the progress line (steps: those done before) and Ctrl-C."""
        self.progress = Progress(steps)
        self.signals.install()

    @property
    def stopped(self):
        """Whether Ctrl-C, SIGTERM or SIGHUP asked the process to stop."""
        return bool(self.signals.received)

    def print(self, line):
        self.progress.print(line)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """However training ends: the progress bar closed, Ctrl-C's handler put back."""
        if self.progress is not None:
            self.progress.close()
        self.signals.uninstall()


def check_flags(args, usage_error, in_cohort=False):
    """The checks of train.py's flags that argparse cannot make one flag at a time;
    returns the device. usage_error: the parser's error(), argparse's usage line.
    in_cohort: train_seeds.py's, which draws no landscapes unless asked."""
    if args.replay_buffer_size < args.batch_size:
        usage_error('--replay_buffer_size ({}) must hold at least one batch (--batch_size '
                     '{})'.format(args.replay_buffer_size, args.batch_size))
    check_landscapes(args, usage_error, in_cohort)  # a picture that cannot be drawn
    return check_device(usage_error, args.device)
