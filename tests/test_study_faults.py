"""study.py when things go wrong: one driver per study folder, damaged files found and
redone, a full disk said last, and a real Ray cluster started with Ray's own command
line, its token authentication on."""
import glob
import json
import os
import re
import secrets
import signal
import subprocess
import sys

import pytest
import torch
from test_study import SHORT, free_port, results, start_study, train_log, wait_until, worker_of

from conftest import assert_clean_error, fill, run_script, script_env

pytest.importorskip('ray', reason='pip install -r requirements/study.txt')

QUICK = ['--config', 'a=--max_iter_num 3', '--seeds', '500-501']


def folder_state(out):
    """Every file under out with its bytes: to see that nothing changed."""
    state = {}
    for where, _, names in os.walk(out):
        for name in names:
            path = os.path.join(where, name)
            state[os.path.relpath(path, out)] = open(path, 'rb').read()
    return state


@pytest.mark.slow
def test_a_second_driver_on_a_live_study_starts_nothing_and_a_dead_ones_folder_is_taken_over(
        tmp_path):
    out = tmp_path / 'study'
    config = 'a=--max_iter_num 12 --checkpoint_interval 4 --log_interval 1'
    first = start_study('--config', config, '--seeds', 500, '--out', out, *SHORT)
    wait_until(lambda: '5 episode |' in train_log(out, 'a', 500), first)
    worker = worker_of(out, 'a', 500)
    os.kill(worker, signal.SIGSTOP)  # its trial frozen, unfinished, however slow the next
    second = run_script('study.py', '--config', config, '--seeds', 500, '--out', out, *SHORT)
    assert_clean_error(second, '{} is in use by another study driver: host {}, process {}, '
                               'since '.format(out, os.uname().nodename, first.pid),
                       'kill {}'.format(first.pid))
    assert second.stdout == ''
    os.killpg(first.pid, signal.SIGKILL)  # the driver dies, and its lock stays behind
    os.kill(worker, signal.SIGKILL)  # (a frozen worker cannot see its Ray end)
    first.communicate(timeout=60)
    assert os.path.exists(out / 'study.lock')
    third = run_script('study.py', '--out', out, *SHORT)
    assert third.returncode == 0, third.stderr
    assert 'took over {} from a study driver that died: host'.format(out) in third.stdout
    row, = results(out)
    assert row['episodes'] == '12' and row['error'] == '' and row['attempts'] == '2', (
        row, third.stdout)  # (it failed once in a full run of main, seed unknown: say why)
    assert len(os.listdir(out / 'trials' / 'a' / 'seed500' / 'logs')) == 1  # one run folder
    assert not os.path.exists(out / 'study.lock')  # let go at its end


@pytest.mark.slow
def test_a_study_owned_on_another_host_is_refused_until_taken_over(finished_study, tmp_path):
    out = copy_of(finished_study, tmp_path)
    owner = {'host': 'elsewhere', 'pid': 4242, 'since': '2026-11-30 08:00:00 +0000'}
    (out / 'study.lock').write_text(json.dumps(owner))
    before = folder_state(out)
    refused = run_script('study.py', *QUICK, '--out', out, *SHORT)
    assert_clean_error(refused, 'is in use by a study driver on another host: host elsewhere, '
                                'process 4242, since 2026-11-30 08:00:00 +0000',
                       'if that driver is gone', 'python study.py --out {} --take_over'.format(out))
    assert folder_state(out) == before
    taken = run_script('study.py', *QUICK, '--out', out, '--take_over', *SHORT)
    assert taken.returncode == 0, taken.stderr
    assert 'took over {} from host elsewhere, process 4242'.format(out) in taken.stdout
    assert len(results(out)) == 2 and not os.path.exists(out / 'study.lock')


@pytest.fixture(scope='session')
def finished_study(made_once):
    """A study of two finished trials (seeds 500 and 501, 3 episodes each), made once."""
    def build(folder):
        result = run_script('study.py', *QUICK, '--out', folder / 'study', *SHORT)
        assert result.returncode == 0, result.stderr
    return made_once('finished_study', build) / 'study'


def copy_of(study, tmp_path):
    subprocess.run(['cp', '-a', str(study), str(tmp_path / 'study')], check=True)
    return tmp_path / 'study'


def trial(out, seed, name):
    return out / 'trials' / 'a' / 'seed{}'.format(seed) / name


@pytest.mark.slow
@pytest.mark.parametrize('damage, note', [
    ('result', r'a seed 500: .*seed500/result\.json is damaged \(Expecting value: line 1 '
               r'column 10 \(char 9\)\); its saved actor is scored again'),
    ('trained', r'a seed 500: .*seed500/trained\.json is empty; it goes on from its '
                r'checkpoint .*\.checkpoint\.pth'),
    ('checkpoint', r'a seed 500: cannot read \S+/seed500/save_model/\S+\.checkpoint\.pth: it '
                   r'is not a PyTorch model file, or it is truncated \(\w+\); it starts over, '
                   r'and keeps the damaged file aside'),
])
def test_a_damaged_trial_is_redone_from_what_reads_back_whole(finished_study, tmp_path, damage,
                                                              note):
    out = copy_of(finished_study, tmp_path)
    before = results(out)
    checkpoint, = (trial(out, 500, 'save_model') / name
                   for name in os.listdir(trial(out, 500, 'save_model'))
                   if name.endswith('.checkpoint.pth'))
    if damage == 'result':
        trial(out, 500, 'result.json').write_text('{"seed": ')  # a full disk, a power cut
    else:  # (the trial then counts from its training, and is scored again)
        os.remove(trial(out, 500, 'result.json'))
        if damage == 'trained':
            trial(out, 500, 'trained.json').write_text('')
        else:
            os.remove(trial(out, 500, 'trained.json'))
            checkpoint.write_bytes(checkpoint.read_bytes()[:30_000])
    again = run_script('study.py', '--out', out, *SHORT)
    assert again.returncode == 0, again.stderr
    assert re.search(note, again.stdout), again.stdout
    assert '1 of 2 trials to run' in again.stdout
    after = results(out)
    for row, old in zip(after, before):  # the same trials, the same results
        assert {k: row[k] for k in ('seed', 'episodes', 'steps', 'score_avg', 'error')} == {
            k: old[k] for k in ('seed', 'episodes', 'steps', 'score_avg', 'error')}
    assert after[0]['attempts'] == '2' and after[1] == before[1]
    now, = glob.glob(str(trial(out, 500, 'save_model') / '*.checkpoint.pth'))
    assert torch.load(now, weights_only=True)['episode'] == 3  # not trained past its end
    log = open(trial(out, 500, 'train.log')).read()
    assert 'resuming' not in log and 'has ended' not in log  # nothing trained on
    if damage == 'checkpoint':
        assert os.path.exists(str(checkpoint) + '.damaged')  # kept, not lost


@pytest.mark.slow
def test_a_trial_of_seeds_together_that_ended_is_finished_not_an_error(tmp_path):
    out = tmp_path / 'study'
    first = run_script('study.py', *QUICK, '--seeds_per_trial', 2, '--out', out, *SHORT)
    assert first.returncode == 0, first.stderr
    before = results(out)
    os.remove(out / 'trials' / 'a' / 'seeds500-501' / 'trained.json')  # killed before it
    for seed in (500, 501):
        os.remove(trial(out, seed, 'result.json'))
    again = run_script('study.py', '--out', out, *SHORT)
    assert again.returncode == 0, again.stderr
    after = results(out)
    assert [(r['seed'], r['episodes'], r['score_avg'], r['error']) for r in after] == [
        (r['seed'], r['episodes'], r['score_avg'], r['error']) for r in before]


@pytest.mark.slow
@pytest.mark.parametrize('name, text, fragments', [
    ('study.json', '{"configs": [["a", ', ['study.json is damaged (Expecting value',
                                           'nothing was changed', 'Restore it from a copy']),
    ('results.csv', 'config,seed\na,500,3\n', ['results.csv does not parse (line 2 has 3 '
                                               'fields, and the header 2)', 'move it away']),
])
def test_a_damaged_study_file_gets_one_line_and_nothing_changes(finished_study, tmp_path, name,
                                                                 text, fragments):
    out = copy_of(finished_study, tmp_path)
    (out / name).write_text(text)
    before = folder_state(out)
    result = run_script('study.py', '--out', out, *SHORT)
    assert_clean_error(result, str(out / name), *fragments)
    assert folder_state(out) == before


@pytest.mark.slow
def test_a_full_disk_leaves_the_trial_unfinished_and_says_so_last(tmp_path, small_disk):
    # Room for the study's small files and the actor, not for the trial's checkpoint.
    out = small_disk / 'study'
    fill(small_disk, 120_000)
    full = run_script('study.py', '--config', 'a=--max_iter_num 2', '--seeds', 500, '--out', out,
                      *SHORT, merged=True)
    assert full.returncode == 1 and 'Traceback' not in full.stdout
    last = full.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r'error: could not write the checkpoint \S+/trials/a/seed500/save_model/'
                        r'\S+\.checkpoint\.pth \(No space left on device\).*; 0 of 1 trials '
                        r'finished; finish the study with: python study\.py --out \S+', last)
    os.remove(small_disk / 'filler')  # room again: the study finishes, the trial no error
    again = run_script('study.py', '--out', out, *SHORT)
    assert again.returncode == 0, again.stderr
    assert '1 of 1 trials to run' in again.stdout
    row, = results(out)
    assert row['episodes'] == '2' and row['error'] == ''


@pytest.mark.parametrize('flags', [['--seeds', ''], ['--seeds', '  ']])
def test_empty_seeds_are_refused(tmp_path, flags):
    result = run_script('study.py', *flags, '--out', tmp_path / 'study')
    assert_clean_error(result, 'is empty; give the seeds')
    assert not (tmp_path / 'study').exists()


@pytest.fixture
def ray_cluster(tmp_path):
    """A head and a second node on this machine, each started with `ray start`, with
    token authentication on; (its address, the environment that holds its token)."""
    ray = os.path.join(os.path.dirname(sys.executable), 'ray')
    env = dict(script_env(), RAY_AUTH_MODE='token', RAY_AUTH_TOKEN=secrets.token_hex(32))
    started = []

    def start(*flags):
        node = subprocess.Popen([ray, 'start', '--num-cpus', '1', '--disable-usage-stats',
                                 '--block', *flags], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        started.append(node)
        for line in node.stdout:
            if '--address=' in line:
                return re.search(r"--address='([^']+)'", line).group(1)
            if 'Ray runtime started' in line and '--head' not in flags:
                return None
        raise AssertionError('ray start ended: {}'.format(node.wait()))
    try:
        address = start('--head', '--port', str(free_port()), '--include-dashboard=false')
        start('--address=' + address)
        yield address, env
    finally:  # the cluster stops with its `ray start` processes, and all they started
        for node in started:  # SIGKILL: every process of it at once (Ray's own SIGTERM
            os.killpg(node.pid, signal.SIGKILL)  # shutdown takes half a minute)
            node.wait(timeout=60)


@pytest.mark.slow
def test_a_cluster_started_with_rays_command_line_runs_a_study_on_both_nodes(tmp_path,
                                                                          ray_cluster):
    address, env = ray_cluster
    without = {k: v for k, v in env.items() if not k.startswith('RAY_AUTH')}
    refused = subprocess.run([sys.executable, 'study.py', '--address', address, *QUICK,
                              '--out', str(tmp_path / 'refused'), *map(str, SHORT)],
                             env=without, capture_output=True, text=True, timeout=300)
    assert_clean_error(refused, 'the Ray cluster at --address {} asks for a token'.format(address),
                       'RAY_AUTH_MODE=token', '~/.ray/auth_token', 'RAY_AUTH_TOKEN')
    assert refused.stdout == '' and not (tmp_path / 'refused').exists()

    out = tmp_path / 'study'
    study = subprocess.run([sys.executable, 'study.py', '--address', address, *QUICK,
                            '--out', str(out), *map(str, SHORT)], env=env, capture_output=True,
                           text=True, timeout=600)
    assert study.returncode == 0, study.stderr
    assert len({row['node'] for row in results(out)}) == 2  # a trial on each node
