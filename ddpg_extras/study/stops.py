"""A study's driver and the signals that stop it (not in the deck): Ctrl-C (SIGINT),
SIGTERM and SIGHUP (a closed terminal) stop it at any moment with 128 + the signal's
number, its lock released and the Ray it started gone, its last line the command that
finishes it.

How, at each phase of its life:
- while it does its own work (checks, its files, the statistics and figures), a
  signal raises Stopped, a KeyboardInterrupt, which study.py turns into the last line;
- while its trials run, signals are noted (stop_signals) and its loop looks between
  waits: a KeyboardInterrupt raised inside Ray's wait was seen to be lost;
- while its trials save after a stop (stop_tasks), a second signal quits at once;
- while it takes or lets go of its lock, and while Ray starts or stops (held), a signal
  is noted and acted on once that is done: ray.init sets a SIGTERM handler of its own,
  which exits with status 15 and leaves Ray's agents running, and ray.shutdown leaves
  SIGTERM at the system's default, which kills the driver where it stands."""
import contextlib
import signal
import sys
import time

STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # Ctrl-C, kill, a closed terminal


class Stopped(KeyboardInterrupt):
    """A signal while a driver does its own work: it stops as Ctrl-C stops it, with the
    signal's own exit status."""

    def __init__(self, signum):
        super().__init__()
        self.signum = signum


def stop_as_ctrl_c():
    """Ctrl-C, SIGTERM and SIGHUP raise Stopped (Ray's own SIGTERM handler would end the
    process from inside Ray's C++, with a crash dump)."""
    def stopped(signum, frame):
        raise Stopped(signum)
    for signum in STOPS:
        signal.signal(signum, stopped)


def exit_status(stop):
    """A stopped driver's exit status, as shells give it: 130 for Ctrl-C, 143 for SIGTERM,
    129 for SIGHUP."""
    return 128 + getattr(stop, 'signum', signal.SIGINT)


def signal_name(signum):
    return signal.Signals(signum).name


def last_line(stop, words):
    """End a driver stopped by a signal (stop: the KeyboardInterrupt it raised): its
    last line, the signal's name first, then its exit status. Its lock is let go and
    its Ray gone by now: a signal from here on is ignored, lest it cut the line short or
    add a second one."""
    for signum in STOPS:
        signal.signal(signum, signal.SIG_IGN)
    print('{}: stopped; {}'.format(signal_name(exit_status(stop) - 128), words), flush=True)
    raise SystemExit(exit_status(stop)) from None


@contextlib.contextmanager
def held():
    """While the block runs, a signal is only noted, and no one else (Ray) may set a
    handler for one; then the handlers in place before are put back, at the C level
    too, and a signal noted meanwhile is raised again, for them to act on."""
    received, previous = [], {signum: signal.getsignal(signum) for signum in STOPS}
    real = signal.signal
    for signum in STOPS:
        real(signum, lambda signum, frame: received.append(signum))
    signal.signal = lambda signum, handler: (  # ray.init's SIGTERM handler, say: kept out
        signal.getsignal(signum) if signum in STOPS else real(signum, handler))
    try:
        yield
    finally:
        signal.signal = real
        for signum, handler in previous.items():
            real(signum, handler)
    if received:
        signal.raise_signal(received[0])


@contextlib.contextmanager
def stop_signals():
    """While a driver waits on its trials: Ctrl-C, SIGTERM and SIGHUP are noted, never
    raised, and the loop looks. Yields the signals received, the first first."""
    received = []
    previous = {signum: signal.signal(signum, lambda signum, frame: received.append(signum))
                for signum in STOPS}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def stop_tasks(ray, pending, received, wait=300):
    """A stop (received: the signals noted by stop_signals): every running trial gets it,
    saves its checkpoint and returns, for up to wait seconds. A second signal quits at
    once, with its line: the trials are left to Ray's shutdown, and their last
    checkpoints hold them. Returns the signals received."""
    print('\n{}: stopping the study; each running trial saves its checkpoint (send it again, '
          'or press Ctrl-C, to quit at once)'.format(signal_name(received[0])), flush=True)
    for ref in pending:
        ray.cancel(ref, force=False)
    deadline = time.monotonic() + wait
    while pending and len(received) == 1 and time.monotonic() < deadline:
        _, pending = ray.wait(pending, num_returns=len(pending), timeout=0.5)
    if len(received) > 1:
        print('{} again: quitting without waiting for the trials'.format(signal_name(received[1])),
              file=sys.stderr, flush=True)
    return received


def shut_down(ray):
    """ray.shutdown(), whole: a Ray started here stops with all its processes; a
    signal meanwhile is acted on once it has (held)."""
    with held():
        ray.shutdown()
