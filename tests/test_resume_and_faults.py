"""Robust training: resuming from checkpoints, surviving signals, full disks and
divergence, and one clear line for every bad input."""
import glob
import os
import re
import resource
import shutil
import signal

import gymnasium as gym
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import train
from conftest import assert_clean_error, fill, run_script, start_script
from ddpg_extras.run import environments, files
from model import Actor


def logged(run_dir, tag='log/score'):
    """(steps, values) of a tag, as TensorBoard's own reader shows them."""
    events = EventAccumulator(str(run_dir))
    events.Reload()
    found = events.Scalars(tag)
    return [e.step for e in found], [e.value for e in found]


def wait_for(process, text):
    """Read the process's output until a line holds text."""
    for line in process.stdout:
        if text in line:
            return
    raise AssertionError('{!r} never printed; stderr: {}'.format(text, process.stderr.read()))


def only(pattern):
    found = glob.glob(str(pattern))
    assert len(found) == 1, found
    return found[0]


def load(path):
    return torch.load(path, weights_only=True)


@pytest.mark.slow
def test_a_run_stopped_and_resumed_scores_exactly_as_one_that_was_not(tmp_path):
    flags = ['--max_iter_num', 12, '--log_interval', 1, '--checkpoint_interval', 4]
    whole = run_script('train.py', *flags, '--save_path', tmp_path / 'a',
                       '--logdir', tmp_path / 'a_logs')
    assert whole.returncode == 0, whole.stderr
    where = ['--save_path', tmp_path / 'b', '--logdir', tmp_path / 'b_logs']

    # Ctrl-C during episode 5 (or soon after): the run stops after that step and saves.
    first = start_script('train.py', *flags, *where)
    wait_for(first, '4 episode |')
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    assert 'SIGINT: stopping after this step' in out and 'Traceback' not in err
    checkpoint = re.search(r'resume with: python train\.py --load_model (\S+)', out).group(1)
    stopped_at = load(checkpoint)['episode']
    assert 5 <= stopped_at < 8

    # Killed outright, with no chance to save: the checkpoint of episode 8 remains.
    second = start_script('train.py', *flags, *where, '--load_model', checkpoint)
    wait_for(second, '9 episode |')
    second.kill()
    second.communicate(timeout=60)
    assert load(checkpoint)['episode'] == 8

    third = run_script('train.py', *flags, *where, '--load_model', checkpoint)
    assert third.returncode == 0, third.stderr
    assert 'resuming Pendulum-v1_seed500_' in third.stdout and 'after 8 episodes' in third.stdout

    # One curve in one run folder, each episode once, equal to the uninterrupted run's.
    a_steps, a_scores = logged(only(tmp_path / 'a_logs' / '*'))
    b_steps, b_scores = logged(only(tmp_path / 'b_logs' / '*'))
    assert a_steps == b_steps == list(range(12))
    assert a_scores == b_scores
    a, b = load(only(tmp_path / 'a' / '*.checkpoint.pth')), load(checkpoint)
    assert a['scores'] == b['scores'] and a['steps'] == b['steps'] == 2400
    for name in ('actor', 'critic', 'target_actor', 'target_critic'):
        for key, value in a[name].items():
            assert torch.equal(value, b[name][key]), (name, key)


class Signaller(gym.Wrapper):
    """A real Pendulum that sends this process a real signal at given steps."""

    def __init__(self, env, at):
        super().__init__(env)
        self.at, self.t = at, 0

    def step(self, action):
        self.t += 1
        for signum in self.at.get(self.t, ()):
            signal.raise_signal(signum)
        return self.env.step(action)


def train_in(tmp_path, *flags, signals=None, monkeypatch=None):
    if signals:
        monkeypatch.setattr(train, 'make_env', lambda name, render_mode=None: Signaller(
            environments.make_env(name, render_mode), signals))
    return train.main(['--save_path', str(tmp_path / 'save_model'),
                       '--logdir', str(tmp_path / 'logs'), *map(str, flags)])


@pytest.mark.slow
def test_sigterm_stops_after_the_step_saves_the_last_whole_episode_and_resumes_it(
        tmp_path, monkeypatch, capsys):
    flags = ['--max_iter_num', 6, '--checkpoint_interval', 100]
    whole = train_in(tmp_path / 'whole', *flags)
    # SIGTERM at step 650: in episode 3 (steps 601-800), after updates began.
    with pytest.raises(SystemExit) as exit_:
        train_in(tmp_path, *flags, signals={650: [signal.SIGTERM]}, monkeypatch=monkeypatch)
    assert exit_.value.code == 143
    out = capsys.readouterr().out
    checkpoint = only(tmp_path / 'save_model' / '*.checkpoint.pth')
    assert 'stopped by SIGTERM in episode 3' in out
    assert 'saved the run up to episode 3' in out and checkpoint in out
    saved = load(checkpoint)
    assert saved['episode'] == 3 and saved['steps'] == 600 and len(saved['scores']) == 3
    # The writer was closed: the three whole episodes are logged, the interrupted one is not.
    run_dir = only(tmp_path / 'logs' / '*')
    assert logged(run_dir)[0] == [0, 1, 2]
    # No actor is saved at a stop; the checkpoint holds one that test.py can show.
    assert not glob.glob(str(tmp_path / 'save_model' / '*[0-9].pth'))
    shown = run_script('test.py', '--load_model', checkpoint, '--no_render', '--episodes', 1)
    assert shown.returncode == 0 and 'on Pendulum-v1' in shown.stdout, shown.stderr

    monkeypatch.undo()
    resumed = train_in(tmp_path, *flags, '--load_model', checkpoint)
    assert resumed['scores'] == whole['scores']
    assert resumed['run_dir'] == run_dir and logged(run_dir)[0] == list(range(6))
    for tag in ('log/score_avg', 'train/critic_loss', 'train/q_value_std',
                'train/critic_grad_norm', 'policy/action_mean'):
        assert logged(run_dir, tag) == logged(whole['run_dir'], tag), tag


def test_a_second_signal_quits_at_once_without_saving(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        train_in(tmp_path, '--max_iter_num', 3, signals={100: [signal.SIGINT, signal.SIGINT]},
                 monkeypatch=monkeypatch)
    assert exit_.value.code == 130
    assert 'SIGINT again: quitting without saving' in capsys.readouterr().err
    assert os.listdir(tmp_path / 'save_model') == []


@pytest.mark.slow
def test_resuming_from_an_older_checkpoint_hides_what_was_logged_after_it(tmp_path):
    """What a hard kill leaves: a log that runs past the checkpoint. The resumed part's
    purge_step hides those episodes, and logs them again."""
    whole = train_in(tmp_path / 'whole', '--max_iter_num', 8)
    first = train_in(tmp_path, '--max_iter_num', 4)
    older = tmp_path / 'episode4.pth'
    shutil.copy(first['checkpoint'], older)
    train_in(tmp_path, '--max_iter_num', 6, '--load_model', first['checkpoint'])
    assert logged(first['run_dir'])[0] == list(range(6))
    last = train_in(tmp_path, '--max_iter_num', 8, '--load_model', older)
    # The run's own checkpoint, further on than the copy, was kept, not overwritten.
    kept = first['checkpoint'][:-len('.pth')] + '.1.pth'
    assert load(kept)['episode'] == 6 and load(first['checkpoint'])['episode'] == 8
    # Three parts, three event files, none overwritten (they may share a second).
    assert len(glob.glob(os.path.join(first['run_dir'], 'events.out.tfevents.*'))) == 3
    steps, scores = logged(first['run_dir'])
    assert steps == list(range(8))
    np.testing.assert_array_equal(scores, np.float32(whole['scores']))
    assert last['scores'] == whole['scores']


def test_a_resumed_run_continues_its_100_episode_window(tmp_path):
    # Any score beats the goal once 100 episodes exist; no updates (fast).
    flags = ['--goal_score', -1e9, '--batch_size', 10 ** 6, '--replay_buffer_size', 10 ** 6]
    first = train_in(tmp_path, *flags, '--max_iter_num', 60)
    assert not first['reached_goal']
    resumed = train_in(tmp_path, *flags, '--max_iter_num', 150, '--load_model',
                       first['checkpoint'])
    assert resumed['reached_goal'] and resumed['episodes'] == 100


@pytest.mark.slow
def test_training_that_diverges_stops_with_one_line(tmp_path):
    # A learning rate this large sends the critic's loss to inf within the first updates.
    result = run_script('train.py', '--critic_lr', 1e5, '--save_path', tmp_path / 'save',
                        '--logdir', tmp_path / 'logs')
    assert_clean_error(result, 'training diverged in episode 0', 'the critic loss is inf',
                       'no checkpoint was saved before it', '--gradient_clip_critic 1.0')
    assert os.listdir(tmp_path / 'save') == []  # no actor of inf and nan


class NanReward(gym.Wrapper):
    """A real Pendulum whose reward turns nan at one step, as a faulty environment's might."""

    def __init__(self, env, at):
        super().__init__(env)
        self.at, self.t = at, 0

    def step(self, action):
        self.t += 1
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, (np.nan if self.t == self.at else reward), terminated, truncated, info


def test_a_nan_stops_the_run_and_the_last_good_checkpoint_stays(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(train, 'make_env', lambda name, render_mode=None: NanReward(
        environments.make_env(name, render_mode), at=450))
    with pytest.raises(SystemExit) as exit_:
        train_in(tmp_path, '--max_iter_num', 10, '--checkpoint_interval', 1)
    message = str(exit_.value.code)
    # The nan transition (episode 2) reaches the loss once a batch samples it.
    found = re.fullmatch(r'error: training diverged in episode (\d) \(step \d+\): the critic '
                         r'loss is nan; the last good checkpoint, (\S+), holds the run up to '
                         r'episode (\d)\. .*', message)
    assert found, message
    episode, checkpoint, kept = found.groups()
    assert int(kept) == int(episode) >= 2
    saved = load(checkpoint)
    assert saved['episode'] == int(kept)
    assert all(torch.isfinite(v).all() for net in ('actor', 'critic') for v in saved[net].values())
    printed = capsys.readouterr()
    assert 'NaN or Inf' not in printed.out + printed.err  # tensorboardX's complaint
    assert not glob.glob(str(tmp_path / 'save_model' / '*[0-9].pth'))  # no actor saved


def test_networks_that_turn_nan_between_updates_stop_the_run(tmp_path, monkeypatch):
    soft_target_update = train.soft_target_update
    calls = []

    def poisoned(actor, *args):  # episode 1's last update leaves a nan in the actor
        soft_target_update(actor, *args)
        calls.append(1)
        if len(calls) == 400 - 64:
            actor.fc1.weight.data[0, 0] = float('nan')
    monkeypatch.setattr(train, 'soft_target_update', poisoned)
    with pytest.raises(SystemExit) as exit_:
        train_in(tmp_path, '--max_iter_num', 5, '--checkpoint_interval', 1)
    assert 'diverged in episode 1 (step 400): the networks hold inf or nan' in str(
        exit_.value.code)
    assert 'holds the run up to episode 1' in str(exit_.value.code)


@pytest.mark.slow
def test_a_failed_save_says_so_in_one_line_and_keeps_the_old_file(tmp_path):
    first = train_in(tmp_path, '--max_iter_num', 2)
    before = open(first['checkpoint'], 'rb').read()

    def small_files():  # a real write failure: files over 100 kB fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    result = run_script('train.py', '--max_iter_num', 4, '--checkpoint_interval', 3,
                        '--load_model', first['checkpoint'],
                        '--save_path', tmp_path / 'save_model', '--logdir', tmp_path / 'logs',
                        preexec_fn=small_files)
    # The checkpoint at episode 3 and the final one fail; training went on between them,
    # and the last line says what could not be written and what on disk holds the run.
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == ['warning: could not write the checkpoint {}: File too large'.format(
        first['checkpoint'])] * 2 + [
        'error: could not write the checkpoint {0} (File too large); the last checkpoint on '
        'disk holds episode 2: {0}'.format(first['checkpoint'])]
    assert 'goal not reached: after 4 episodes' in result.stdout
    assert open(first['checkpoint'], 'rb').read() == before
    assert not glob.glob(str(tmp_path / 'save_model' / '*.tmp*'))
    # The actor is small enough to save.
    assert 'saved the actor to' in result.stdout


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / 'model.pth'
    path.write_bytes(b'the old actor')

    def write_half(f):
        f.write(b'half of a new')
        raise OSError(28, 'No space left on device')
    with pytest.raises(OSError):
        files.atomic_write(str(path), write_half)
    assert path.read_bytes() == b'the old actor' and os.listdir(tmp_path) == ['model.pth']


@pytest.mark.parametrize('flags, fragments', [
    (['--save_path', '{file}/save_model'], ['cannot write to --save_path', 'Not a directory']),
    (['--logdir', '{file}/logs'], ['cannot write to --logdir', 'Not a directory']),
    (['--save_path', '/proc'], ['cannot write to --save_path /proc']),
])
def test_folders_that_cannot_be_written_are_refused_before_training(tmp_path, flags, fragments):
    a_file = tmp_path / 'a_file'
    a_file.write_text('')
    flags = [flag.format(file=a_file) for flag in flags]
    result = run_script('train.py', '--save_path', tmp_path / 'save', '--logdir',
                        tmp_path / 'logs', *flags)
    assert_clean_error(result, *fragments)
    assert result.stdout == ''  # refused before the environment was even made


@pytest.mark.parametrize('flag, value, fragment', [
    ('--gamma', '1.5', '1.5 is not in [0, 1]'),
    ('--gamma', 'nan', 'nan is not in [0, 1]'),
    ('--tau', '0', '0 is not in (0, 1]'),
    ('--tau', '1.01', '1.01 is not in (0, 1]'),
    ('--actor_lr', '0', '0 is not a positive number'),
    ('--critic_lr', '-1e-3', '-1e-3 is not a positive number'),
    ('--critic_lr', 'inf', 'inf is not a positive number'),
    ('--sigma', '-0.2', '-0.2 is not a number >= 0'),
    ('--theta', '-1', '-1 is not a number >= 0'),
    ('--mu', 'inf', 'inf is not a finite number'),
    ('--goal_score', 'nan', 'nan is not a number'),
    ('--hidden_size', '0', '0 is not a positive whole number'),
    ('--batch_size', '-64', '-64 is not a positive whole number'),
    ('--checkpoint_interval', '0', '0 is not a positive whole number'),
    ('--gamma', 'high', 'high is not a number'),
])
def test_hyperparameters_out_of_range_get_argparses_usage_error(flag, value, fragment, capsys):
    with pytest.raises(SystemExit) as exit_:
        train.main([flag + '=' + value])  # '=': argparse reads -1e-3 alone as an option
    assert exit_.value.code == 2
    assert 'argument {}: {}'.format(flag, fragment) in capsys.readouterr().err


def test_the_edges_of_the_ranges_are_accepted():
    args = train.parser.parse_args(['--gamma', '0', '--tau', '1', '--sigma', '0', '--theta',
                                    '0', '--goal_score', 'inf'])
    assert (args.gamma, args.tau, args.sigma, args.theta) == (0, 1, 0, 0)


@pytest.fixture(scope='session')
def checkpoint(made_once):
    """A checkpoint of a run of 2 episodes, made once."""
    def build(folder):
        train.main(['--max_iter_num', '2', '--save_path', str(folder), '--logdir',
                    str(folder / 'logs')])
    return only(made_once('checkpoint', build) / '*.checkpoint.pth')


def damaged(checkpoint, tmp_path, change):
    state = load(checkpoint)
    change(state)
    torch.save(state, tmp_path / 'damaged.pth')
    return tmp_path / 'damaged.pth'


@pytest.mark.parametrize('flags, fragments', [
    (['--tau', '0.005'], ['is a run made with --tau 0.001', 'keeps the flags it started with',
                          'drop --tau 0.005']),
    (['--tanh_actor'], ['made without --tanh_actor', 'drop --tanh_actor']),
    (['--env_name', 'MountainCarContinuous-v0'], ['made with --env_name Pendulum-v1']),
    (['--max_iter_num', '2'], ['has run 2 episodes, and --max_iter_num is 2',
                               'pass a larger --max_iter_num']),
])
def test_a_resumed_run_refuses_flags_that_would_change_it(checkpoint, tmp_path, flags,
                                                          fragments):
    result = run_script('train.py', '--load_model', checkpoint, '--save_path', tmp_path,
                        '--logdir', tmp_path, *flags)
    assert_clean_error(result, checkpoint, *fragments)


def test_a_resumed_run_keeps_its_flags_and_takes_new_ones_that_do_not_change_it(
        checkpoint, tmp_path):
    result = train_in(tmp_path, '--load_model', checkpoint, '--max_iter_num', 3,
                      '--goal_score', -100, '--tau', 0.001)  # the tau it was made with
    assert result['episodes'] == 3 and len(result['scores']) == 3


@pytest.mark.slow
@pytest.mark.parametrize('make, fragments', [
    ('incomplete', ['is an incomplete checkpoint']),
    ('other_buffer', ['does not fit the run it describes', 'replay buffer does not fit',
                      'resume from another checkpoint']),
    ('other_sizes', ['does not fit the run it describes', 'size mismatch']),
    ('truncated', ['cannot read', 'truncated']),
    ('not_a_model', ['cannot read', 'not a PyTorch model file']),
])
def test_a_damaged_checkpoint_gets_one_line(checkpoint, tmp_path, make, fragments):
    if make in ('truncated', 'not_a_model'):
        path = tmp_path / 'file.pth'
        path.write_bytes(open(checkpoint, 'rb').read()[:50_000] if make == 'truncated'
                         else b'notes from the lecture')
    else:
        path = damaged(checkpoint, tmp_path, {
            'incomplete': lambda s: s.pop('replay_buffer'),
            'other_buffer': lambda s: s['replay_buffer'].update(memory=torch.zeros(5, 3)),
            'other_sizes': lambda s: s['critic'].update({'fc1.weight': torch.zeros(64, 5)}),
        }[make])
    result = run_script('train.py', '--load_model', path, '--max_iter_num', 3, '--save_path',
                        tmp_path, '--logdir', tmp_path)  # a checkpoint of 2 episodes of 2
    assert_clean_error(result, *fragments)


@pytest.mark.slow
def test_an_actor_with_nan_weights_is_refused(tmp_path):
    weights = Actor(3, 1).state_dict()
    weights['fc2.bias'][3] = float('nan')
    torch.save(weights, tmp_path / 'nan.pth')
    for command in (['train.py', '--save_path', tmp_path, '--logdir', tmp_path],
                    ['test.py', '--no_render']):
        result = run_script(*command, '--load_model', tmp_path / 'nan.pth')
        assert_clean_error(result, 'holds inf or nan weights')


def test_train_py_refuses_a_model_file_that_would_run_code(tmp_path):
    marker = tmp_path / 'code_ran'

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))
    torch.save({'format': files.CHECKPOINT, 'actor': Payload()}, tmp_path / 'evil.pth')
    result = run_script('train.py', '--load_model', tmp_path / 'evil.pth', '--save_path',
                        tmp_path, '--logdir', tmp_path)
    assert_clean_error(result, 'refused to load', 'would run code')
    assert not marker.exists()


@pytest.mark.slow
def test_the_printed_resume_command_alone_resumes_the_same_run(tmp_path):
    # A run with flags of its own, stopped twice: kill -9 (resumed from its periodic
    # checkpoint) and Ctrl-C (resumed with the command it printed, exactly as printed).
    # Nothing but --load_model is given again, and it ends as the uninterrupted run.
    flags = ['--max_iter_num', 12, '--goal_score', 'inf', '--log_interval', 1,
             '--checkpoint_interval', 4, '--eval_interval', 3, '--eval_episodes', 1,
             '--threads', 2, '--device', 'cpu', '--save_path', tmp_path / 'b',
             '--logdir', tmp_path / 'b_logs']
    whole = run_script('train.py', *flags[:-4], '--save_path', tmp_path / 'a',
                       '--logdir', tmp_path / 'a_logs')
    assert whole.returncode == 0, whole.stderr
    first = start_script('train.py', *flags)
    wait_for(first, '9 episode |')  # past the checkpoint of episode 8
    first.kill()
    first.communicate(timeout=60)
    checkpoint = only(tmp_path / 'b' / '*.checkpoint.pth')
    second = start_script('train.py', '--load_model', checkpoint)
    wait_for(second, '9 episode |')  # every episode printed: --log_interval 1 is the run's
    second.send_signal(signal.SIGINT)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 130, err
    command = re.search(r'resume with: (python train\.py --load_model \S+)$', out, re.M).group(1)
    third = run_script(*command.split()[1:])
    assert third.returncode == 0, third.stderr
    assert re.search(r'^11 episode \|', third.stdout, re.M)
    assert 'goal not reached: after 12 episodes' in third.stdout  # --max_iter_num 12, inf
    a, b = load(only(tmp_path / 'a' / '*.checkpoint.pth')), load(checkpoint)
    assert a['scores'] == b['scores'] and b['episode'] == 12
    for name in ('actor', 'critic', 'target_actor', 'target_critic'):
        for key, value in a[name].items():
            assert torch.equal(value, b[name][key]), (name, key)
    assert {k: b['args'][k] for k in ('goal_score', 'threads', 'device', 'eval_interval')} == {
        'goal_score': float('inf'), 'threads': 2, 'device': 'cpu', 'eval_interval': 3}
    run_dir = only(tmp_path / 'b_logs' / '*')  # the run's own --logdir, one folder
    assert logged(run_dir) == logged(only(tmp_path / 'a_logs' / '*'))
    assert logged(run_dir, 'test/score')[0] == [2, 5, 8, 11]  # --eval_interval 3 kept


def test_a_run_that_has_ended_is_not_trained_on_unasked(tmp_path):
    ended = train_in(tmp_path, '--max_iter_num', 3, '--goal_score', 'inf')
    result = run_script('train.py', '--load_model', ended['checkpoint'])
    assert_clean_error(result, 'holds a run that has ended: it has run 3 episodes, and '
                               '--max_iter_num is 3', 'python test.py --load_model')
    more = train_in(tmp_path, '--load_model', ended['checkpoint'], '--max_iter_num', 4)
    assert more['episodes'] == 4 and len(more['scores']) == 4


@pytest.mark.slow
def test_a_full_disk_ends_the_run_with_a_last_line_that_says_so(tmp_path, small_disk):
    # The first checkpoint (episode 2) fits; the second, beside it, and the last do not.
    first = train_in(tmp_path / 'sizes', '--max_iter_num', 2)
    fill(small_disk, os.path.getsize(first['checkpoint']) + 64_000)
    result = run_script('train.py', '--max_iter_num', 6, '--checkpoint_interval', 2,
                        '--save_path', small_disk / 'save_model', '--logdir', tmp_path / 'logs',
                        merged=True)
    assert result.returncode == 1 and 'Traceback' not in result.stdout
    checkpoint = only(small_disk / 'save_model' / '*.checkpoint.pth')
    lines = result.stdout.strip().splitlines()
    assert lines.count('warning: could not write the checkpoint {}: No space left on '
                       'device'.format(checkpoint)) == 2
    assert 'saved the actor to' in result.stdout  # the actor is small enough to save
    assert lines[-1] == ('error: could not write the checkpoint {0} (No space left on '
                         'device); the last checkpoint on disk holds episode 2: {0}'
                         .format(checkpoint))
    assert load(checkpoint)['episode'] == 2  # whole, and as it was
    assert not glob.glob(str(small_disk / 'save_model' / '*.tmp*'))
