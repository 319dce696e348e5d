"""Shared helpers: the project's root on sys.path, and running its scripts as a user does."""
import os
import signal
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def script_env(display=False):
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS='1')
    if not display:
        env.pop('DISPLAY', None)
        env.pop('WAYLAND_DISPLAY', None)
    return env


def run_script(script, *args, cwd=None, display=False, merged=False, env=None, timeout=900,
               **kwargs):
    """Run `python script args...` in a fresh process, as a user would, without a
    display unless asked (so test.py records a video instead of opening a window).
    merged: its stderr in its stdout, in the order a terminal shows them."""
    output = (dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT) if merged
              else dict(capture_output=True))
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *map(str, args)],
                          cwd=cwd or ROOT, env=env or script_env(display), text=True,
                          timeout=timeout, **output, **kwargs)


def run_script_after(prelude, script, *args, env=None, timeout=900):
    """Run `python script args...` as run_script does, after the Python lines of prelude
    in the same process (a module made missing, a function replaced)."""
    code = '{}\nimport runpy, sys\nsys.argv = [{!r}] + sys.argv[1:]\nrunpy.run_path({!r}, ' \
        'run_name="__main__")'.format(prelude, script, script)
    return subprocess.run([sys.executable, '-c', code, *map(str, args)], cwd=ROOT,
                          env=env or script_env(), capture_output=True, text=True,
                          timeout=timeout)


def start_script(script, *args):
    """Start `python script args...` and return the process, its output a text pipe."""
    return subprocess.Popen([sys.executable, os.path.join(ROOT, script), *map(str, args)],
                            cwd=ROOT, env=script_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def assert_clean_error(result, *fragments):
    """A user's mistake: non-zero exit, one line on stderr naming the problem, no traceback."""
    assert result.returncode != 0, result.stdout
    assert 'Traceback' not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def in_a_window(folder, *args, look):
    """Run `python test.py args...` on a new Xvfb screen kept as a file in folder, call
    look(pixels) on what the screen shows until it ends, and return its
    (returncode, stdout, stderr)."""
    # -displayfd: Xvfb picks a free display and names it once it is ready.
    xvfb = subprocess.Popen(['Xvfb', '-displayfd', '1', '-screen', '0', '640x480x24', '-fbdir',
                             str(folder), '-nolisten', 'tcp'], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    shown = None
    try:
        display = ':' + xvfb.stdout.readline().strip()
        shown = subprocess.Popen([sys.executable, os.path.join(ROOT, 'test.py'), *map(str, args)],
                                 env=dict(script_env(display=True), DISPLAY=display),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while shown.poll() is None:
            look(screen(folder))
            try:
                shown.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
        out, err = shown.communicate()
        return shown.returncode, out, err
    finally:
        if shown and shown.poll() is None:
            shown.kill()
        xvfb.terminate()
        xvfb.wait(timeout=30)


def screen(folder):
    """What Xvfb's screen shows, as (height, width, BGRX) pixels, read from its XWD file."""
    import struct

    import numpy as np
    data = open(os.path.join(folder, 'Xvfb_screen0'), 'rb').read()
    fields = struct.unpack('>25I', data[:100])
    header, width, height, bytes_per_line, colors = (fields[0], fields[4], fields[5],
                                                      fields[12], fields[19])
    pixels = np.frombuffer(data, np.uint8, count=height * bytes_per_line,
                           offset=header + 12 * colors).reshape(height, bytes_per_line)
    return pixels[:, :width * 4].reshape(height, width, 4)  # 24-bit depth: B, G, R, unused


@pytest.fixture
def small_disk(tmp_path):
    """A real file system of 4 MB (tmpfs) to fill up; skipped where none can be mounted."""
    disk = tmp_path / 'disk'
    disk.mkdir()
    mounted = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip('no tmpfs can be mounted here: ' + mounted.stderr.strip())
    yield disk
    subprocess.run(['umount', '-l', str(disk)], check=True)


def fill(disk, leave):
    """Fill the file system at disk but for about `leave` bytes."""
    stat = os.statvfs(disk)
    with open(os.path.join(disk, 'filler'), 'wb') as f:
        f.write(b'\0' * (stat.f_bavail * stat.f_frsize - leave))


@pytest.fixture(scope='session')
def made_once(tmp_path_factory):
    """made_once(name, build): a folder that build(folder) fills once for the whole run,
    whichever pytest-xdist worker asks first; the others wait for it (xdist's own recipe
    for a set-up shared by workers). The tests only read what it holds, or copy it."""
    from filelock import FileLock
    root = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        root = root.parent  # this run's folder, shared by its workers

    def make(name, build):
        folder, done, failed = (root / (name + end) for end in ('', '.done', '.failed'))
        with FileLock(str(root / (name + '.lock'))):
            if failed.exists():  # once is enough: the others fail at once, not each again
                pytest.fail('the set-up {!r} failed for an earlier test: {}'.format(
                    name, failed.read_text()))
            if not done.exists():
                folder.mkdir()
                try:
                    build(folder)
                except BaseException as e:
                    failed.write_text('{}: {}'.format(type(e).__name__, e)[:2000])
                    raise
                done.touch()
        return folder
    return make


SHARED = ('tuned', 'finished_study', 'stopped_batch', 'a_run', 'checkpoint')  # made_once's,
# longest to build first


@pytest.hookimpl(trylast=True)  # after pytest-randomly's shuffle: random within each tier
def pytest_collection_modifyitems(items):
    """The slow tests first: with pytest-xdist's --dist load, each worker takes the next
    test as it finishes one, and the long ones, started early, do not end the run alone.
    Of the tests that read a set-up made once (SHARED), one starts first, to build it,
    and the others next: a worker waiting on a set-up's lock leaves the cores to the
    one that builds it, and the tests that read a tuning are among the longest."""
    builders = {}
    for item in items:
        for k, name in enumerate(SHARED):
            if name in item.fixturenames and item.get_closest_marker('slow'):
                builders.setdefault(name, (k, item))

    def tier(item):
        if item.get_closest_marker('slow') is None:
            return (3, 0)
        for k, builder in builders.values():
            if builder is item:
                return (0, k)
        return (1 if set(SHARED) & set(item.fixturenames) else 2, 0)
    items.sort(key=tier)


def pytest_configure(config):
    """The tests send real Ctrl-Cs (SIGINT). A suite started with SIGINT ignored (a
    background job of a shell without job control, `python -m pytest &` in a script)
    would hand that on to every process it starts, and those would never see one: test.py
    recorded on for two minutes after its Ctrl-C. Python's own handler is put back, and
    the tests' processes start as from a terminal."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: three workers for two cores. Part of a slow test's time is spent
    waiting (Ray starting, a trial reaching the episode a test stops it at), and a third
    worker's test fills it; a fourth costs more than it fills (each Ray on the machine
    idles at about 0.13 of a core, and lives longer when the cores are shared). On 2
    cores, 3 workers took 11:58 and 1,301 CPU-seconds, 4 took 13:02 and 1,521."""
    cores = os.cpu_count() or 1
    return cores + cores // 2
