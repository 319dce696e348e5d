"""SIGTERM and SIGHUP (and Ctrl-C) to a study's or a tuning's driver, at every phase of
its life, real signals: while Ray starts, while the trials run (tests/test_study.py,
tests/test_handed_over.py), while the statistics and figures are written, and a second
one while the trials save. Each ends with 128 + the signal's number, the command that
finishes it last, the lock let go, and no process of its Ray left."""
import os
import signal

import pytest
from test_study import SHORT, ray_processes, start_study, tagged, train_log, wait_until

from conftest import run_script_after

pytest.importorskip('ray', reason='pip install -r requirements/study.txt')
pytest.importorskip('optuna', reason='pip install -r requirements/study.txt')

STUDY = ['--config', 'a=--max_iter_num 2 --landscape_interval 0', '--seeds', 500, *SHORT]
TUNING = ['--tune', 1, '--search', 'tau=log(0.001,0.01)', '--seeds', 500, '--config',
          'base=--max_iter_num 2 --landscape_interval 0', '--workers', 1, '--confirm_seeds',
          600, *SHORT]
# the signal, from another thread, once ray.init has begun (it takes seconds)
WHILE_RAY_STARTS = '''import os, signal, threading, ray
start = ray.init
def init(*args, **kwargs):
    threading.Timer(0.3, os.kill, (os.getpid(), signal.{})).start()
    return start(*args, **kwargs)
ray.init = init'''
# the signal as the driver begins writing its tables and figures, after its trials
WHILE_WRITING = '''import os, signal, {module} as module
write = module.{function}
def first_the_signal(*args, **kwargs):
    os.kill(os.getpid(), signal.{signal})
    return write(*args, **kwargs)
module.{function} = first_the_signal'''


def ended(result, out, signum, tag):
    """The driver ended as a stop must end it: its status, its last line, no lock, no Ray."""
    name = signal.Signals(signum).name
    assert result.returncode == 128 + signum, result.stdout + result.stderr
    assert 'Traceback' not in result.stderr and '*** SIG' not in result.stderr, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        '{}: stopped; finish it with: python study.py --out {}'.format(name, out))
    assert not os.path.exists(os.path.join(out, 'study.lock'))
    assert ray_processes(tag) == set()


@pytest.mark.slow
@pytest.mark.parametrize('flags, signum', [(STUDY, signal.SIGTERM), (TUNING, signal.SIGHUP)])
def test_a_signal_while_ray_starts(tmp_path, flags, signum):
    out = tmp_path / 'study'
    tag, env = tagged(tmp_path)
    result = run_script_after(WHILE_RAY_STARTS.format(signal.Signals(signum).name), 'study.py',
                              *flags, '--out', out, env=env, timeout=300)
    ended(result, out, signum, tag)
    assert not os.path.exists(out / 'trials')  # no trial began


@pytest.mark.slow
@pytest.mark.parametrize('flags, module, function, signum', [
    (STUDY, 'ddpg_extras.study.summary', 'write_report', signal.SIGTERM),
    (TUNING, 'ddpg_extras.study.tuning', 'write_tuning', signal.SIGHUP)])
def test_a_signal_while_the_tables_and_figures_are_written(tmp_path, flags, module, function,
                                                           signum):
    out = tmp_path / 'study'
    tag, env = tagged(tmp_path)
    prelude = WHILE_WRITING.format(module=module, function=function,
                                   signal=signal.Signals(signum).name)
    result = run_script_after(prelude, 'study.py', *flags, '--out', out, env=env, timeout=300)
    ended(result, out, signum, tag)
    assert not {'summary.md', 'tuning.csv'} & set(os.listdir(out))  # none half-written


@pytest.mark.slow
def test_a_second_signal_while_the_trials_save_quits_at_once(tmp_path):
    out = tmp_path / 'study'
    tag, env = tagged(tmp_path)
    study = start_study('--config', 'a=--max_iter_num 300 --log_interval 1', '--seeds', 500,
                        '--out', out, *SHORT, env=env)
    try:
        wait_until(lambda: '2 episode |' in train_log(out, 'a', 500), study)
        worker = int((out / 'trials' / 'a' / 'seed500' / 'attempts').read_text().split()[-1])
        os.kill(worker, signal.SIGSTOP)  # a trial that cannot save while it is held
        study.send_signal(signal.SIGTERM)
        for line in study.stdout:  # the first is seen: the trials are told to save
            if line.startswith('SIGTERM: stopping the study'):
                break
        study.send_signal(signal.SIGTERM)
        stdout, stderr = study.communicate(timeout=120)
    finally:
        if study.poll() is None:
            os.killpg(study.pid, signal.SIGKILL)
    assert study.returncode == 143, stderr
    assert 'Traceback' not in stderr
    assert stderr.strip().splitlines()[-1] == (
        'SIGTERM again: quitting without waiting for the trials')
    assert stdout.strip().splitlines()[-1] == (
        '0 of 1 trials finished; finish the study with: python study.py --out {}'.format(out))
    assert not os.path.exists(out / 'study.lock') and ray_processes(tag) == set()
    wait_until(lambda: not alive(worker), study, 30)  # the held trial went with its Ray


def alive(pid):
    """Whether the process pid runs, or is held (not a zombie, nor gone)."""
    try:
        with open('/proc/{}/stat'.format(pid)) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False
