"""Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed terminal, a lost SSH session): the run
stops after the current step and saves; a second signal quits at once, without saving,
and its last line says what on disk holds the run."""
import contextlib
import signal
import sys


class StopSignals:
    """While installed, a signal is recorded instead of raising KeyboardInterrupt."""

    def __init__(self):
        self.received = []  # the signal that asked the run to stop
        self.handlers = {}
        self.on_disk = None  # what holds the run on disk, in words, for the last line

    def install(self):
        self.handlers = {s: signal.signal(s, self.on_signal)
                         for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}

    @contextlib.contextmanager
    def held(self):
        """Caught again while a run makes its last saves, after its loop has closed the
        session: a second signal then quits with its line, not a KeyboardInterrupt."""
        self.install()
        try:
            yield
        finally:
            self.uninstall()

    def uninstall(self):
        for signum, handler in self.handlers.items():
            signal.signal(signum, handler)
        self.handlers = {}

    def on_signal(self, signum, frame):
        name = signal.Signals(signum).name
        if self.received:  # asked twice: quit now
            sys.stdout.flush()  # this line is the last
            print('{} again: quitting without saving{}'.format(
                name, '; ' + self.on_disk() if self.on_disk else ''), file=sys.stderr,
                flush=True)
            raise SystemExit(128 + signum)
        self.received.append(signum)
        print('\n{}: stopping after this step to save a checkpoint (send it again to quit at '
              'once, without saving)'.format(name), flush=True)

    @property
    def name(self):
        return signal.Signals(self.received[0]).name

    @property
    def exit_status(self):
        return 128 + self.received[0]  # 130: SIGINT, 143: SIGTERM, 129: SIGHUP, as shells do
