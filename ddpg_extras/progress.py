"""At a terminal, a progress bar (episode, 100-episode average, steps per second); in a
log file, the deck's plain lines only."""
import sys
import time

from tqdm import tqdm


class Progress:
    def __init__(self, total, initial, steps):
        self.bar = tqdm(total=total, initial=initial, unit='episode', file=sys.stdout,
                        dynamic_ncols=True, disable=not sys.stdout.isatty())
        self.start, self.start_steps = time.time(), steps

    def update(self, score_avg, steps):
        self.bar.set_postfix_str('score_avg {:.1f}, {:.0f} steps/s'.format(
            score_avg, (steps - self.start_steps) / (time.time() - self.start)), refresh=False)
        self.bar.update()

    def print(self, line):
        if self.bar.disable:
            print(line, flush=True)
        else:
            self.bar.write(line, file=sys.stdout)  # above the bar, not through it

    def close(self):
        self.bar.close()
