"""At a terminal, one line that tells the truth: where training is (the episode, the
100-episode average beside the goal, steps per second) and, once it has ended, how it
ended (the goal, its last episode, a stop, a divergence). No percentage: a run usually
ends at its goal long before --max_iter_num, and a bar frozen part-way looks like a
hang. In a log file, the deck's plain lines only."""
import os
import sys
import time

from tqdm import tqdm


def live():
    """Whether stdout is a terminal that can show the line: one that reports no width
    (some pseudo-terminals report 0 columns) gets the plain lines, as a log file does."""
    try:
        return sys.stdout.isatty() and os.get_terminal_size(sys.stdout.fileno()).columns > 0
    except (OSError, ValueError):
        return False


class Progress:
    def __init__(self, steps):
        self.bar = tqdm(file=sys.stdout, dynamic_ncols=True, disable=not live(),
                        bar_format='{desc} [{elapsed}]')
        self.start, self.start_steps = time.time(), steps

    def show(self, text, steps):
        """Where training is, with the steps per second since this process began."""
        rate = (steps - self.start_steps) / max(time.time() - self.start, 1e-9)
        self.bar.set_description_str('{} | {:.0f} steps/s'.format(text, rate), refresh=False)
        self.bar.update(0)  # redrawn at most ten times a second

    def end(self, text):
        """How training ended: the line's last state, left on the screen."""
        self.bar.set_description_str(text)

    def print(self, line):
        if self.bar.disable:
            print(line, flush=True)
        else:
            self.bar.write(line, file=sys.stdout)  # above the line, not through it

    def close(self):
        self.bar.close()
