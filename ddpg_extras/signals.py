"""Ctrl-C (SIGINT) and SIGTERM: the run stops after the current step and saves; a
second signal quits at once, without saving."""
import signal
import sys


class StopSignals:
    """While installed, a signal is recorded instead of raising KeyboardInterrupt."""

    def __init__(self):
        self.received = []  # the signal that asked the run to stop
        self.handlers = {}

    def install(self):
        self.handlers = {s: signal.signal(s, self.on_signal)
                         for s in (signal.SIGINT, signal.SIGTERM)}

    def uninstall(self):
        for signum, handler in self.handlers.items():
            signal.signal(signum, handler)
        self.handlers = {}

    def on_signal(self, signum, frame):
        name = signal.Signals(signum).name
        if self.received:  # asked twice: quit now
            print('{} again: quitting without saving'.format(name), file=sys.stderr, flush=True)
            raise SystemExit(128 + signum)
        self.received.append(signum)
        print('\n{}: stopping after this step to save a checkpoint (send it again to quit at '
              'once, without saving)'.format(name), flush=True)

    @property
    def name(self):
        return signal.Signals(self.received[0]).name

    @property
    def exit_status(self):
        return 128 + self.received[0]  # 130 for SIGINT, 143 for SIGTERM, as shells do
