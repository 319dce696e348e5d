"""study.py: seed studies on Ray. Real Ray (requirements/study.txt), real train.py runs,
real kills; a two-node cluster simulated on this machine."""
import csv
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import train
from conftest import ROOT, assert_clean_error, run_script, run_script_after, script_env

ray = pytest.importorskip('ray', reason='pip install -r requirements/study.txt')

SHORT = ['--score_episodes', 2]  # the saved actors' scores: 2 episodes, not 100


def results(out):
    with open(os.path.join(out, 'results.csv')) as f:
        return list(csv.DictReader(f))


def logged_scores(out, row):
    events = EventAccumulator(os.path.join(out, row['run_dir']))
    events.Reload()
    return [e.value for e in events.Scalars('log/score')]


def checkpoint_scores(out, config, seed):
    """Every episode's score, as the trial's last checkpoint holds them (float64)."""
    path, = glob.glob(os.path.join(out, 'trials', config, 'seed{}'.format(seed), 'save_model',
                                   '*.checkpoint.pth'))
    return torch.load(path, weights_only=True)['scores']


def single_run(tmp_path, flags, seed):
    """The same configuration and seed as one plain train.py run in this process."""
    folder = tmp_path / 'single_{}'.format(seed)
    return train.main([*flags, '--seed', str(seed), '--save_path', str(folder),
                       '--logdir', str(folder / 'logs')])


def ray_processes(tag):
    """The pids of the Ray processes that a study run with TAG in its environment
    started (tagged(): they inherit it), alive on this machine: raylets, GCS servers and
    their agents (a study's workers end with its raylet). Other tests' Rays, running
    beside it, are not its."""
    found = set()
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/{}/cmdline'.format(pid), 'rb') as f:
                command = f.read().replace(b'\0', b' ').decode(errors='replace')
            with open('/proc/{}/environ'.format(pid), 'rb') as f:
                environment = f.read().split(b'\0')
        except OSError:
            continue
        if (re.search(r'/raylet |/gcs_server |^ray::(DashboardAgent|RuntimeEnvAgent)', command)
                and 'DDPG_TEST_TAG={}'.format(tag).encode() in environment):
            found.add(int(pid))
    return found


def tagged(tmp_path):
    """(a tag, an environment that carries it) for ray_processes: the test's own folder,
    whole (its name alone repeats across pytest-xdist's workers)."""
    tag = str(tmp_path)
    return tag, dict(script_env(), DDPG_TEST_TAG=tag)


@pytest.mark.slow
def test_a_study_runs_each_trial_as_train_py_and_writes_its_results(tmp_path):
    out = tmp_path / 'study'
    tag, env = tagged(tmp_path)
    result = run_script('study.py', '--config', 'a=--max_iter_num 2', '--config',
                        'b=--max_iter_num 3 --tau 0.005', '--config', 'c=--critic_lr 1e5',
                        '--seeds', '500-501', '--out', out, *SHORT, env=env)
    assert result.returncode == 0, result.stderr
    rows = results(out)
    assert [(r['config'], r['seed'], r['episodes']) for r in rows] == [
        ('a', '500', '2'), ('a', '501', '2'), ('b', '500', '3'), ('b', '501', '3'),
        ('c', '500', ''), ('c', '501', '')]
    for row in rows[4:]:  # a run that diverges is a finished trial, with its one line
        assert row['error'].startswith('error: training diverged in episode 0')
        assert row['actor_score'] == '' and row['reached_goal'] == 'False'
    assert re.search(r'^c seed 500: error: training diverged in episode 0', result.stdout, re.M)
    rows = rows[:4]
    for row in rows:
        assert row['env_name'] == 'Pendulum-v1' and row['reached_goal'] == 'False'
        assert row['attempts'] == '1' and len(row['node']) == 56 and row['node_ip']
        assert float(row['actor_score']) < 0 and float(row['seconds']) > 0
        assert float(row['critic_error']) > 0 and 0 <= float(row['actor_gap']) <= 4
        assert float(row['regret']) > -1  # V* - V^mu: no actor beats the optimum
    # Each trial is the train.py run of its flags and seed, bit for bit.
    single = single_run(tmp_path, ['--max_iter_num', '3', '--tau', '0.005'], 501)
    assert checkpoint_scores(out, 'b', 501) == single['scores']
    assert float(rows[3]['score_avg']) == single['score_avg']
    assert logged_scores(out, rows[3]) == pytest.approx(single['scores'])  # float32 there
    summary = (out / 'summary.md').read_text()
    assert '6 of 6 trials finished; seeds 500,501.' in summary
    assert '| c | `--critic_lr 1e5` | 0 | - | - | - |' in summary  # no actor to score
    assert '- c seed 500: no actor_score (training diverged in episode 0' in summary
    assert '| b | `--max_iter_num 3 --tau 0.005` | 2 | -' in summary
    assert '| b | -300 | 0/2, 0.00 (0.00 to 0.66) | 3 |' in summary  # 2 runs: no interval
    assert "**Critic's bias" in summary  # which critic overestimates its actor
    assert '| c | `--critic_lr 1e5` | 0 | - | - | - |' in summary.split("**Critic's bias")[1]
    # at one episode for all: a's runs ended at episode 1, b's at 2; both drew episode 0
    assert 'in return (above 0: it overestimates its actor)**; at episode 0, the last at ' \
           'which every run logged its landscapes' in summary
    assert ('The 100-episode average of the training scores is left out for a, b, c: each of '
            'their runs stops the moment that average passes its goal') in summary
    assert re.search(r"^\| b \| -?\d+\.\d \| -?\d+\.\d \| -?\d+\.\d\d \| -?\d\.\d\d \|$",
                     summary.split('**Against a, against the truth** at episode 0')[1], re.M)
    assert re.search(r'^\| optimum \| for reference: the greedy policy of V\* for gamma 0\.99.* '
                     r'\| 1 policy \| -\d+\.\d \|', summary, re.M)
    for name in ('curves.png', 'profiles.png'):
        assert (out / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert not (out / 'improvement.png').exists()  # 2 runs a side: too few to compare
    assert 'results: {}/results.csv'.format(out) in result.stdout
    assert re.search(r'^b seed 501: no goal after 3 episodes .* attempt 1$', result.stdout, re.M)
    assert ray_processes(tag) == set()  # the Ray it started is gone, all of it
    # Run again: everything is read from disk, nothing is trained.
    again = run_script('study.py', '--out', out, *SHORT)
    assert again.returncode == 0 and '0 of 6 trials to run' in again.stdout
    assert results(out)[:4] == rows


@pytest.mark.slow
def test_seeds_per_trial_trains_seeds_together_with_one_row_each(tmp_path):
    out = tmp_path / 'study'
    result = run_script('study.py', '--config', 'a=--max_iter_num 3', '--seeds', '500-502',
                        '--seeds_per_trial', 2, '--out', out, *SHORT)
    assert result.returncode == 0, result.stderr
    assert '3 of 3 trials to run, 2 seeds together in each process' in result.stdout
    rows = results(out)
    assert [(r['seed'], r['episodes'], r['steps']) for r in rows] == [
        ('500', '3', '600'), ('501', '3', '600'), ('502', '3', '600')]
    assert sorted(os.listdir(out / 'trials' / 'a')) == [
        'seed500', 'seed501', 'seed502', 'seeds500-501', 'seeds502']
    # Each row is its seed's run in train_seeds.py, whichever seeds shared the process.
    import train_seeds
    alone = train_seeds.main(['--seeds', '502,500', '--max_iter_num', '3', '--save_path',
                              str(tmp_path / 'alone'), '--logdir', str(tmp_path / 'logs')])
    for row, seed in zip(rows, (500, 501, 502)):
        if seed != 501:
            mine = next(r for r in alone if r['seed'] == seed)
            assert float(row['score_avg']) == mine['score_avg']
        assert float(row['actor_score']) < 0 and row['run_dir'].startswith('trials/a/seeds')
    again = run_script('study.py', '--out', out, '--seeds_per_trial', 3, *SHORT)
    assert_clean_error(again, 'a study with --seeds_per_trial 2', 'drop --seeds_per_trial')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.parametrize('flags, fragments', [
    (['--config', 'recipe'], ["--config 'recipe' is not NAME=FLAGS"]),
    (['--config', 'a=--tau 0'], ['--config a: argument --tau: 0 is not in (0, 1]']),
    (['--config', 'a=--no_such_flag'], ['--config a: unrecognized arguments: --no_such_flag']),
    (['--config', 'a=--env_name CartPole-v1'], ['--config a: CartPole-v1 has Discrete actions']),
    (['--config', 'a=--batch_size 100 --replay_buffer_size 50'],
     ['--config a: --replay_buffer_size (50) must hold at least one batch']),
    (['--config', 'a=--seed 3'], ['--config a: --seed is set by the study']),
    (['--config', 'a=--threads=2'], ['--config a: --threads is set by the study']),
    (['--config', 'a=', '--config', 'a=--tau 0.01'], ['--config a is given twice']),
    (['--seeds', '500-'], ["--seeds '500-' is not a list of seeds and ranges"]),
    (['--seeds', '509-500'], ["--seeds '509-500' is not a list"]),
    (['--seeds', '500,500'], ['names a seed twice']),
    (['--address', '127.0.0.1:{port}'], ['cannot reach a Ray cluster at --address 127.0.0.1:',
                                          'ray start --head']),
    (['--address', 'nowhere'], ["--address 'nowhere' is not host:port"]),
    (['--baseline', 'recipe'], ['--baseline recipe is not a configuration', 'one of: defaults']),
    (['--seeds', '10005'], ['reset seeds 10000-10099, which holds training seed 10005',
                            '--score_seed']),
    (['--config', 'a=--deck_loop --seeds_per_trial 2'], ["--deck_loop runs the deck's own loop"]),
    (['--config', 'a=--seeds_per_trial 0'],
     ['argument --seeds_per_trial: 0 is not a positive whole number']),
])
def test_bad_input_gets_one_line_and_starts_nothing(tmp_path, flags, fragments):
    import study  # in this process: the same checks as the script's, without its start-up
    flags = [flag.format(port=free_port()) for flag in flags]
    with pytest.raises(SystemExit) as exit:
        study.main(flags + ['--out', str(tmp_path / 'study')])
    line = str(exit.value.code)
    assert line.startswith('error: ') and '\n' not in line
    for fragment in fragments:
        assert fragment in line, line
    assert not (tmp_path / 'study').exists()


def test_bad_input_from_the_command_line_gets_one_line_and_no_traceback(tmp_path):
    result = run_script('study.py', '--config', 'a=--tau 0', '--out', tmp_path / 'study')
    assert_clean_error(result, '--config a: argument --tau: 0 is not in (0, 1]')
    assert result.stdout == '' and not (tmp_path / 'study').exists()


def test_without_ray_one_line_names_the_requirements_file(tmp_path):
    result = run_script_after("import sys; sys.modules['ray'] = None", 'study.py', '--out',
                              tmp_path / 'study')
    assert_clean_error(result, 'Ray is not installed', 'pip install -r requirements/study.txt')
    assert not (tmp_path / 'study').exists()


def test_another_study_in_an_existing_folder_is_refused(tmp_path):
    out = tmp_path / 'study'
    out.mkdir()
    (out / 'study.json').write_text(json.dumps({'configs': [['a', []]], 'seeds': [500]}))
    result = run_script('study.py', '--out', out, '--seeds', '500-501')
    assert_clean_error(result, 'is a study of other configurations or seeds (a; seeds 500)')


def wait_until(condition, process, seconds=120):
    """Poll condition() until it holds; fail if the process ended first or time ran out."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.05)


def train_log(out, config, seed):
    path = os.path.join(out, 'trials', config, 'seed{}'.format(seed), 'train.log')
    return open(path).read() if os.path.exists(path) else ''


def start_study(*args, env=None):
    return subprocess.Popen([sys.executable, os.path.join(ROOT, 'study.py'), *map(str, args)],
                            cwd=ROOT, env=env or script_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def worker_of(out, config, seed):
    """The pid of the Ray worker that runs the trial now (its attempts file's last line)."""
    path = os.path.join(out, 'trials', config, 'seed{}'.format(seed), 'attempts')
    return int(open(path).read().split()[-1])


def hold_each_under_way(out, seeds, study):
    """Wait until each seed's trial of configuration a has logged episode 5, and stop
    (SIGSTOP) its worker there: no trial ends while another is still starting (on a busy
    machine one can lag by 15 episodes). Returns the workers' pids."""
    workers = []
    for seed in seeds:
        wait_until(lambda seed=seed: '5 episode |' in train_log(out, 'a', seed), study)
        workers.append(worker_of(out, 'a', seed))
        os.kill(workers[-1], signal.SIGSTOP)
    return workers


LONG = '--max_iter_num 20 --checkpoint_interval 4 --log_interval 1'


@pytest.mark.slow
def test_ctrl_c_saves_every_running_trial_and_a_second_run_finishes_the_study(tmp_path):
    out = tmp_path / 'study'
    tag, env = tagged(tmp_path)
    study = start_study('--config', 'a=' + LONG, '--seeds', '500-501', '--workers', 2,
                        '--out', out, *SHORT, env=env)
    for worker in hold_each_under_way(out, (500, 501), study):
        os.kill(worker, signal.SIGCONT)
    os.killpg(study.pid, signal.SIGINT)  # Ctrl-C at a terminal: the whole process group
    stdout, stderr = study.communicate(timeout=120)
    assert study.returncode == 130, stderr
    assert 'SIGINT: stopping the study; each running trial saves its checkpoint' in stdout
    assert 'finish the study with: python study.py --out {}'.format(out) in stdout
    assert 'Traceback' not in stderr
    for seed in (500, 501):
        assert 'stopped by SIGINT in episode' in train_log(out, 'a', seed)
        assert 5 <= len(checkpoint_scores(out, 'a', seed)) < 20
    assert ray_processes(tag) == set()

    again = run_script('study.py', '--out', out, *SHORT)
    assert again.returncode == 0, again.stderr
    assert '2 of 2 trials to run' in again.stdout
    rows = results(out)
    assert [row['attempts'] for row in rows] == ['2', '2']
    single = single_run(tmp_path, LONG.split(), 501)
    assert checkpoint_scores(out, 'a', 501) == single['scores']  # bit for bit
    assert logged_scores(out, rows[1]) == pytest.approx(single['scores'])  # each episode once


@pytest.mark.slow
def test_a_killed_worker_is_retried_and_the_trial_resumes_from_its_checkpoint(tmp_path):
    out = tmp_path / 'study'
    study = start_study('--config', 'a=' + LONG, '--seeds', 500, '--out', out, *SHORT)
    wait_until(lambda: '9 episode |' in train_log(out, 'a', 500), study)  # past episode 8's
    os.kill(worker_of(out, 'a', 500), signal.SIGKILL)
    stdout, stderr = study.communicate(timeout=300)
    assert study.returncode == 0, stderr
    row, = results(out)
    assert row['attempts'] == '2' and row['episodes'] == '20'
    assert 'resuming Pendulum-v1_seed500_' in train_log(out, 'a', 500)
    single = single_run(tmp_path, LONG.split(), 500)
    assert checkpoint_scores(out, 'a', 500) == single['scores']  # bit for bit
    assert logged_scores(out, row) == pytest.approx(single['scores'])  # each episode once


@pytest.fixture
def cluster():
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, head_node_args={'num_cpus': 1,
                                                            'include_dashboard': False})
    cluster.add_node(num_cpus=1)
    yield cluster
    cluster.shutdown()


@pytest.mark.slow
def test_a_study_on_a_two_node_cluster_uses_both_nodes(tmp_path, cluster):
    out = tmp_path / 'study'
    result = run_script('study.py', '--address', cluster.address, '--config',
                        'a=--max_iter_num 5', '--seeds', '500-501', '--out', out, *SHORT)
    assert result.returncode == 0, result.stderr
    nodes = {node.node_id for node in cluster.list_all_nodes()}
    assert len(nodes) == 2
    assert {row['node'] for row in results(out)} == nodes  # one trial on each node


@pytest.mark.slow
def test_a_trial_on_a_node_that_disappears_resumes_on_another(tmp_path, cluster):
    out = tmp_path / 'study'
    head, = (node for node in cluster.list_all_nodes() if node.is_head())
    other, = (node for node in cluster.list_all_nodes() if not node.is_head())
    study = start_study('--address', cluster.address, '--config', 'a=' + LONG, '--seeds',
                        '500-501', '--out', out, *SHORT)

    def on_the_other_node():
        for seed in (500, 501):
            path = os.path.join(out, 'trials', 'a', 'seed{}'.format(seed), 'attempts')
            if os.path.exists(path) and open(path).read().startswith(other.node_id):
                return seed
    wait_until(on_the_other_node, study)
    seed = on_the_other_node()
    wait_until(lambda: '5 episode |' in train_log(out, 'a', seed), study)  # past episode 4's
    cluster.remove_node(other)
    stdout, stderr = study.communicate(timeout=300)
    assert study.returncode == 0, stderr
    row, = (row for row in results(out) if row['seed'] == str(seed))
    assert row['attempts'] == '2' and row['node'] == head.node_id
    single = single_run(tmp_path, LONG.split(), seed)
    assert checkpoint_scores(out, 'a', seed) == single['scores']  # bit for bit


@pytest.mark.slow
def test_a_killed_study_finishes_when_run_again(tmp_path):
    out = tmp_path / 'study'
    study = start_study('--config', 'a=' + LONG, '--seeds', '500-501', '--workers', 2,
                        '--out', out, *SHORT)
    workers = hold_each_under_way(out, (500, 501), study)
    # kill -9, all at once: the driver and the Ray it started, and each worker's own group
    for group in [study.pid] + [os.getpgid(worker) for worker in workers]:
        os.killpg(group, signal.SIGKILL)
    study.communicate(timeout=60)
    again = run_script('study.py', '--config', 'a=' + LONG, '--seeds', '500-501', '--out', out,
                       *SHORT)
    assert again.returncode == 0, again.stderr
    assert '2 of 2 trials to run' in again.stdout
    logs = {seed: train_log(out, 'a', seed) for seed in (500, 501)}
    # Each went on from its checkpoint of episode 4 in 11 of 12 runs with two more beside
    # it on 2 cores; in one, one seed started over (cause not found: its log says how)
    assert any('resuming Pendulum-v1_seed' in log for log in logs.values()), logs
    for seed in (500, 501):  # and each ends as its single train.py run, bit for bit
        single = single_run(tmp_path, LONG.split(), seed)
        assert checkpoint_scores(out, 'a', seed) == single['scores'], logs[seed]
