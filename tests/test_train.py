"""train.py's loop: the deck's flags, its bug fixes, the goal, saving and logging."""
import copy
import json
import os
import re
import signal

import gymnasium as gym
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import train
import utils
from conftest import assert_clean_error, run_script
from ddpg_extras.run import environments
from ddpg_extras.run.fast_update import fast_train_model
from ddpg_extras.run.instruments import diagnose
from model import Actor, Critic

DECK_DEFAULTS = {
    'env_name': 'Pendulum-v1', 'load_model': None, 'save_path': './save_model/',
    'render': False, 'gamma': 0.99, 'hidden_size': 64, 'batch_size': 64, 'actor_lr': 1e-3,
    'critic_lr': 1e-3, 'theta': 0.15, 'mu': 0.0, 'sigma': 0.2, 'tau': 0.001,
    'max_iter_num': 1000, 'log_interval': 10, 'goal_score': -300, 'logdir': './logs',
    'seed': 500, 'replay_buffer_size': 10000, 'device': 'cpu', 'checkpoint_interval': 50,
    'threads': None,  # one, measured (benchmarks/bench.py threads)
    'eval_interval': None, 'eval_episodes': 10,
    'landscape_interval': None,  # every 20 episodes on Pendulum, never elsewhere
    # the stabilizers, off: the deck's algorithm
    'gradient_clip_actor': None, 'gradient_clip_critic': None, 'tanh_actor': False,
    # the deck's autograd train_model instead of the same update written out by hand
    'deck_update': False}


def stored(result):
    """The transitions in a run's replay buffer: (states, actions, rewards, next_states,
    masks) as NumPy arrays, oldest first (the runs here never wrap the ring)."""
    buffer = result['replay_buffer']
    return buffer.split(buffer.memory[:len(buffer)])


def train_in(tmp_path, *flags):
    return train.main(['--save_path', str(tmp_path / 'save_model'),
                       '--logdir', str(tmp_path / 'logs'), *map(str, flags)])


class Recorder(gym.Wrapper):
    """A real Pendulum that remembers the actions it was given, and can end episodes
    with a real termination after `terminate_after` steps."""

    def __init__(self, env, terminate_after=None):
        super().__init__(env)
        self.actions, self.terminate_after, self.t = [], terminate_after, 0

    def reset(self, **kwargs):
        self.t = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        self.actions.append(np.array(action))
        self.t += 1
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated or self.t == self.terminate_after, truncated, info


def use_recorder(monkeypatch, **kwargs):
    envs = []

    def make_env(env_name, render_mode=None):
        envs.append(Recorder(environments.make_env(env_name, render_mode), **kwargs))
        return envs[-1]
    monkeypatch.setattr(train, 'make_env', make_env)
    return envs


def test_the_decks_flags_and_defaults():
    assert vars(train.parser.parse_args([])) == DECK_DEFAULTS
    help_text = ' '.join(run_script('train.py', '--help').stdout.split())
    for flag, default in DECK_DEFAULTS.items():
        assert '--' + flag in help_text
        if default not in (None, False):
            assert '(default: {})'.format(default) in help_text, flag


def test_the_time_limit_keeps_bootstrapping(tmp_path):
    result = train_in(tmp_path, '--max_iter_num', 2)
    masks = list(stored(result)[4])
    # Pendulum never terminates: its 200th step is a truncation, and the deck's
    # `mask = 0 if done` would have cut the bootstrap there.
    assert len(masks) == 400 and set(masks) == {1}


def test_a_real_termination_stops_the_bootstrap(tmp_path, monkeypatch):
    use_recorder(monkeypatch, terminate_after=30)
    result = train_in(tmp_path, '--max_iter_num', 3)
    masks = list(stored(result)[4])
    assert len(masks) == 90
    assert [i for i, m in enumerate(masks) if m == 0] == [29, 59, 89]


def test_the_buffer_keeps_the_unclipped_action_and_the_env_gets_the_clipped_one(
        tmp_path, monkeypatch):
    envs = use_recorder(monkeypatch)
    result = train_in(tmp_path, '--max_iter_num', 1, '--sigma', 3)
    actions = stored(result)[1]
    sent = np.array(envs[0].actions)
    assert np.abs(actions).max() > 2.0, 'noise this large must leave the bounds'
    np.testing.assert_array_equal(sent.astype(np.float32), np.clip(actions, -2.0, 2.0))


def test_the_ou_noise_starts_afresh_every_episode(tmp_path, monkeypatch):
    starts = []

    class Noise(utils.OUNoise):
        def sample(self):
            starts.append(not self.X.any())  # still at the start of the process
            return super().sample()
    monkeypatch.setattr(train, 'OUNoise', Noise)
    train_in(tmp_path, '--max_iter_num', 3, '--batch_size', 10 ** 6,
             '--replay_buffer_size', 10 ** 6)
    # Algorithm 1: a new random process at the start of each of the 3 episodes only.
    assert len(starts) == 600
    assert [i for i, fresh in enumerate(starts) if fresh] == [0, 200, 400]


def test_the_goal_needs_a_full_window_of_100_episodes(tmp_path, capsys):
    # Any score beats the goal; a batch larger than the run means no updates (fast).
    result = train_in(tmp_path, '--goal_score', -1e9, '--batch_size', 10 ** 6,
                      '--replay_buffer_size', 10 ** 6, '--max_iter_num', 150)
    assert result['reached_goal'] and result['episodes'] == 100
    out = capsys.readouterr().out
    avg = np.mean(result['scores'][-100:])
    assert 'goal reached after 100 episodes (20000 steps' in out
    assert 'average {:.2f} > -1e+09'.format(avg) in out


@pytest.mark.slow
def test_reaching_the_goal_saves_the_decks_format_and_keeps_the_old_model(tmp_path, capsys):
    save = tmp_path / 'save_model'
    save.mkdir()
    (save / 'model.pth').write_bytes(b'an older actor')
    train_in(tmp_path, '--goal_score', -1e9, '--batch_size', 10 ** 6,
             '--replay_buffer_size', 10 ** 6)
    # The deck's own loading code still works on the saved file.
    actor = Actor(3, 1, 64)
    actor.load_state_dict(torch.load(save / 'model.pth', weights_only=True))
    info = json.loads((save / 'model.pth.json').read_text())
    assert info['env_name'] == 'Pendulum-v1' and info['reached_goal'] is True
    assert info['episodes'] == 100 and info['steps'] == 20000 and info['seed'] == 500
    # Nothing the user had is lost, and no temporary file is left behind.
    assert (save / 'model.1.pth').read_bytes() == b'an older actor'
    assert 'the previous model.pth is kept as {}'.format(save / 'model.1.pth') in (
        capsys.readouterr().out)
    names = sorted(p.name for p in save.iterdir())
    assert names[1:] == ['model.1.pth', 'model.pth', 'model.pth.json']
    assert re.fullmatch(r'Pendulum-v1_seed500_\d{8}-\d{6}\.checkpoint\.pth', names[0])


def test_a_run_that_misses_the_goal_says_so_and_leaves_model_pth_alone(tmp_path, capsys):
    save = tmp_path / 'save_model'
    save.mkdir()
    (save / 'model.pth').write_bytes(b'an actor that reached the goal')
    result = train_in(tmp_path, '--max_iter_num', 2)
    assert not result['reached_goal']
    out = capsys.readouterr().out
    assert 'goal not reached: after 2 episodes' in out
    assert (save / 'model.pth').read_bytes() == b'an actor that reached the goal'
    saved = result['model']
    assert os.path.basename(saved).startswith('Pendulum-v1_seed500_') and saved in out
    Actor(3, 1, 64).load_state_dict(torch.load(saved, weights_only=True))
    assert json.loads(open(saved + '.json').read())['reached_goal'] is False


def test_tensorboard_logs_read_back_with_tensorboards_reader(tmp_path):
    result = train_in(tmp_path, '--max_iter_num', 3, '--seed', 7)
    runs = os.listdir(tmp_path / 'logs')
    assert len(runs) == 1 and re.fullmatch(r'Pendulum-v1_seed7_\d{8}-\d{6}', runs[0])
    events = EventAccumulator(result['run_dir'])
    events.Reload()
    scalars = events.Tags()['scalars']
    score = events.Scalars('log/score')
    assert [e.step for e in score] == [0, 1, 2]
    np.testing.assert_allclose([e.value for e in score], result['scores'], rtol=1e-6)
    avg = events.Scalars('log/score_avg')
    np.testing.assert_allclose([e.value for e in avg],
                               np.cumsum(result['scores']) / [1, 2, 3], rtol=1e-6)
    assert [e.value for e in events.Scalars('log/steps')] == [200, 400, 600]  # so far
    # Updates start after batch_size steps, inside the first episode.
    for tag in ('train/critic_loss', 'train/actor_loss', 'train/q_value', 'train/q_value_std',
                'train/critic_grad_norm', 'train/actor_grad_norm', 'policy/action_mean',
                'policy/action_abs_max', 'policy/out_of_bounds'):
        assert tag in scalars and len(events.Scalars(tag)) == 3
    text = events.Tensors('hyperparameters/text_summary')[0].tensor_proto.string_val[0].decode()
    assert '|gamma|0.99|' in text and '|seed|7|' in text


def scalars(run_dir, tag):
    events = EventAccumulator(run_dir)
    events.Reload()
    return np.array([e.value for e in events.Scalars(tag)])


def test_the_actor_instruments_report_its_raw_output(tmp_path):
    # With sigma 0 the OU noise stays at 0, so the buffer holds the actor's raw
    # outputs, episode by episode, to check the logged values against.
    result = train_in(tmp_path, '--max_iter_num', 3, '--sigma', 0)
    actions = stored(result)[1].reshape(3, 200)
    np.testing.assert_allclose(scalars(result['run_dir'], 'policy/action_mean'),
                               actions.mean(1), rtol=1e-5)
    np.testing.assert_allclose(scalars(result['run_dir'], 'policy/action_abs_max'),
                               np.abs(actions).max(1), rtol=1e-6)
    out = scalars(result['run_dir'], 'policy/out_of_bounds')
    np.testing.assert_allclose(out, (np.abs(actions) > 2).mean(1))
    assert out.max() > 0  # this seed's linear actor does leave the bounds early on


def test_diagnose_measures_the_gradients_the_update_uses_and_changes_nothing():
    torch.manual_seed(0)
    nets = [Actor(3, 1), Critic(3, 1), Actor(3, 1), Critic(3, 1)]
    batch = (torch.randn(64, 3), torch.randn(64, 1), -torch.rand(64), torch.randn(64, 3),
             torch.ones(64))
    before = [copy.deepcopy(net.state_dict()) for net in nets]
    found = diagnose(*nets, batch, 0.99)
    for net, state in zip(nets, before):
        for name, value in net.state_dict().items():
            assert torch.equal(value, state[name])
        assert all(p.grad is None for p in net.parameters())
    # train_model leaves each network's gradient in .grad; with a learning rate of 0
    # the critic does not move, so both gradients are those diagnose() measured.
    optimizers = [torch.optim.SGD(net.parameters(), lr=0.0) for net in nets[:2]]
    fast_train_model(*nets, *optimizers, batch, 0.99)
    for tag, net in (('train/actor_grad_norm', nets[0]), ('train/critic_grad_norm', nets[1])):
        norm = torch.nn.utils.get_total_norm([p.grad for p in net.parameters()]).item()
        assert abs(found[tag] - norm) <= 1e-5 * norm, tag
    with torch.no_grad():
        q = nets[1](batch[0], nets[0](batch[0]))
    assert abs(found['train/q_value_std'] - q.std().item()) < 1e-6


@pytest.mark.slow
def test_the_tanh_actor_run_stays_in_bounds_and_its_actor_loads_in_test_py(tmp_path):
    result = train_in(tmp_path, '--max_iter_num', 2, '--tanh_actor', '--gradient_clip_actor',
                      0.5, '--gradient_clip_critic', 1.0)
    assert (scalars(result['run_dir'], 'policy/out_of_bounds') == 0).all()
    assert (scalars(result['run_dir'], 'policy/action_abs_max') <= 2).all()
    assert np.abs(stored(result)[1]).max() > 2  # the noise still explores past the bounds
    weights = torch.load(result['model'], weights_only=True)
    torch.testing.assert_close(weights['action_scale'], torch.tensor([2.0]))
    shown = run_script('test.py', '--load_model', result['model'], '--no_render',
                       '--episodes', 1)
    assert shown.returncode == 0 and 'score:' in shown.stdout, shown.stderr
    # A tanh actor cannot warm-start the deck's linear one, and the reverse.
    refused = run_script('train.py', '--save_path', tmp_path, '--logdir', tmp_path,
                         '--load_model', result['model'])
    assert_clean_error(refused, 'holds a tanh-bounded actor', 'add --tanh_actor')


def test_a_second_run_gets_its_own_log_folder(tmp_path):
    first = train_in(tmp_path, '--max_iter_num', 1)
    second = train_in(tmp_path, '--max_iter_num', 1)
    assert first['run_dir'] != second['run_dir']
    assert len(os.listdir(tmp_path / 'logs')) == 2


def test_the_same_seed_gives_the_same_run(tmp_path):
    a = train_in(tmp_path / 'a', '--max_iter_num', 3)['scores']
    b = train_in(tmp_path / 'b', '--max_iter_num', 3)['scores']
    c = train_in(tmp_path / 'c', '--max_iter_num', 3, '--seed', 501)['scores']
    assert a == b
    assert a != c


def test_pendulum_v0_is_mapped_to_v1(capsys):
    env = environments.make_env('Pendulum-v0')
    assert env.spec.id == 'Pendulum-v1'
    assert capsys.readouterr().out == 'notice: Pendulum-v0 no longer exists; using Pendulum-v1\n'


def test_warm_start_loads_the_actor(tmp_path, capsys):
    torch.manual_seed(3)
    source = Actor(3, 1, 64)
    path = tmp_path / 'deck_model.pth'
    torch.save(source.state_dict(), path)
    result = train_in(tmp_path, '--max_iter_num', 1, '--batch_size', 10 ** 6,
                      '--replay_buffer_size', 10 ** 6, '--load_model', path)
    assert 'warm start: actor from {}'.format(path) in capsys.readouterr().out
    saved = result['model']
    # No updates ran, so the saved actor is the one that was loaded.
    for name, value in torch.load(saved, weights_only=True).items():
        torch.testing.assert_close(value, source.state_dict()[name])


@pytest.mark.parametrize('flags, fragments', [
    (['--env_name', 'NoSuchEnv-v0'], ['cannot make environment', 'NoSuchEnv-v0',
                                      'pprint_registry']),
    (['--env_name', 'CartPole-v1'], ['CartPole-v1 has Discrete actions', 'continuous']),
    (['--render'], ['--render needs a display', 'python test.py']),
    (['--load_model', 'missing.pth'], ['no model file at', 'missing.pth', 'python train.py']),
])
def test_bad_input_gets_one_clear_line(tmp_path, flags, fragments):
    result = run_script('train.py', '--save_path', tmp_path, '--logdir', tmp_path, *flags)
    assert_clean_error(result, 'error: ', *fragments)


@pytest.mark.parametrize('flags, fragment', [
    (['--max_iter_num', '0'], 'argument --max_iter_num: 0 is not a positive whole number'),
    (['--gradient_clip_actor', '0'], 'argument --gradient_clip_actor: 0 is not a positive number'),
    (['--gradient_clip_critic', 'nan'], 'argument --gradient_clip_critic: nan is not a positive'),
    (['--log_interval', '-1'], 'argument --log_interval: -1 is not a positive whole number'),
    (['--batch_size', '100', '--replay_buffer_size', '50'],
     '--replay_buffer_size (50) must hold at least one batch (--batch_size 100)'),
])
def test_impossible_sizes_get_argparses_usage_error(flags, fragment, capsys):
    with pytest.raises(SystemExit) as exit_:
        train.main(flags)
    assert exit_.value.code == 2
    assert fragment in capsys.readouterr().err


def test_warm_start_from_an_actor_of_another_size_is_refused(tmp_path):
    torch.save(Actor(3, 1, 32).state_dict(), tmp_path / 'small.pth')
    result = run_script('train.py', '--save_path', tmp_path, '--logdir', tmp_path,
                        '--load_model', tmp_path / 'small.pth')
    assert_clean_error(result, '(3, 1, 32)', '--hidden_size 64')


@pytest.mark.slow
def test_the_default_run_reaches_the_decks_goal(tmp_path):
    """`python train.py` with the deck's defaults and seed 500 reaches a 100-episode
    average above -300. The goal needs a full window, so 100 episodes is the floor.
    Over seeds 500-509 this loop reaches it at episodes 152-249 (median 156) and the
    deck's own loop at a median of 194 (docs/results.md, by study.py); seed 500
    takes 155. 250 leaves room for floating-point differences between machines while
    still failing a loop that learns markedly slower than the deck's, or collapses."""
    result = run_script('train.py', '--save_path', tmp_path / 'save_model',
                        '--logdir', tmp_path / 'logs')
    assert result.returncode == 0, result.stderr
    found = re.search(r'goal reached after (\d+) episodes .* average (-?[\d.]+) > -300',
                      result.stdout)
    assert found, result.stdout[-2000:]
    episodes, average = int(found.group(1)), float(found.group(2))
    assert 100 <= episodes <= 250 and average > -300
    info = json.loads((tmp_path / 'save_model' / 'model.pth.json').read_text())
    assert info['episodes'] == episodes and info['reached_goal'] is True


def test_the_replay_buffer_is_first_in_first_out_and_samples_without_replacement():
    buffer = utils.ReplayBuffer(5, state_size=3, action_size=1, seed=0)
    for i in range(8):  # the first three are pushed out
        buffer.append((np.full(3, i), np.array([i + 0.5]), -i, np.full(3, i + 1), i % 2))
    assert len(buffer) == 5
    states, actions, rewards, next_states, masks = buffer.sample(5)
    assert (states.shape, actions.shape, rewards.shape, next_states.shape, masks.shape) == (
        (5, 3), (5, 1), (5,), (5, 3), (5,))
    assert all(t.dtype == torch.float32 for t in (states, actions, rewards, next_states, masks))
    # Every transition exactly once: the five newest, each row intact.
    assert sorted(states[:, 0].tolist()) == [3, 4, 5, 6, 7]
    for s, a, r, s2, m in zip(states[:, 0], actions[:, 0], rewards, next_states[:, 0], masks):
        assert (a, r, s2, m) == (s + 0.5, -s, s + 1, s % 2)


def test_the_replay_buffer_samples_uniformly():
    buffer = utils.ReplayBuffer(100, state_size=1, action_size=1, seed=0)
    for i in range(100):
        buffer.append((np.array([i]), np.zeros(1), 0.0, np.zeros(1), 1))
    counts = np.bincount(np.concatenate(
        [buffer.sample(10)[0][:, 0].int().numpy() for _ in range(20000)]), minlength=100)
    # 200,000 draws over 100 rows: each row about 2,000 times (binomial sd about 44).
    assert counts.min() > 1800 and counts.max() < 2200


def run_in_terminal(*args, script='train.py', interrupt_at=None, columns=120):
    """Run a script with its output on a real pseudo-terminal, 120 columns wide (or as
    asked); send it Ctrl-C (SIGINT) once its output holds interrupt_at."""
    import fcntl
    import pty
    import struct
    import subprocess
    import sys
    import termios

    from conftest import ROOT, script_env
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 40, columns, 0, 0))
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, script), *map(str, args)],
                               stdout=slave, stderr=subprocess.PIPE, env=script_env())
    os.close(slave)
    output = b''
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        output += chunk
        if interrupt_at and interrupt_at.encode() in output:
            process.send_signal(signal.SIGINT)
            interrupt_at = None
    os.close(master)
    process.wait(timeout=120)
    return process.returncode, output.decode(), process.stderr.read().decode()


def screen_states(shown):
    """Each state the progress line took, as the terminal drew it in place."""
    return [part for part in re.split(r'[\r\n]+', shown) if part.strip()]


@pytest.mark.slow
def test_a_progress_line_at_a_terminal_and_plain_lines_elsewhere(tmp_path):
    flags = ['--max_iter_num', 3, '--log_interval', 1, '--save_path', tmp_path,
             '--logdir', tmp_path]
    code, shown, errors = run_in_terminal(*flags)
    assert code == 0, errors
    # Redrawn in place: the episode, the running average beside the goal, steps per second
    assert re.search(r'\repisode 2 \| last 3 average -\d+\.\d, goal > -300 \| \d+ steps/s '
                     r'\[00:\d\d\]', shown)
    assert '0 episode | score_avg:' in shown  # the deck's lines, printed above it
    assert '%' not in shown  # no percentage of --max_iter_num, which the goal cuts short
    plain = run_script('train.py', *flags)
    assert plain.returncode == 0 and '\r' not in plain.stdout and 'steps/s' not in plain.stdout
    assert re.findall(r'^(\d) episode \| score_avg', plain.stdout, re.M) == ['0', '1', '2']
    # a terminal that reports no width (script -qfc ... </dev/null): no live line, which
    # tqdm would cut to nothing, but the plain lines
    code, shown, errors = run_in_terminal(*flags, columns=0)
    assert code == 0 and 'steps/s' not in shown, errors
    assert re.findall(r'^(\d) episode \| score_avg', shown, re.M) == ['0', '1', '2']


@pytest.mark.slow
@pytest.mark.parametrize('flags, interrupt_at, ending', [
    (['--max_iter_num', 3], None,
     r'ran its last episode, 3 \(--max_iter_num\): last 3 average -\d+\.\d, goal > -300'),
    # no updates (a batch larger than the buffer can hold): 100 quick episodes to a goal
    (['--goal_score', -1e9, '--batch_size', 10 ** 6, '--replay_buffer_size', 10 ** 6], None,
     r'goal reached after 100 episodes: last 100 average -\d+\.\d, goal > -1e\+09'),
    (['--critic_lr', 1e5], None, r'stopped: diverged in episode 0 \(the critic loss is inf\)'),
    (['--max_iter_num', 50, '--log_interval', 1], '1 episode |',
     r'stopped by SIGINT in episode \d'),
])
def test_the_progress_line_ends_by_saying_how_the_run_ended(tmp_path, flags, interrupt_at,
                                                            ending):
    code, shown, errors = run_in_terminal(*flags, '--save_path', tmp_path, '--logdir', tmp_path,
                                          interrupt_at=interrupt_at)
    states = [state for state in screen_states(shown) if state.endswith(']')]  # the line's
    assert re.fullmatch(ending + r' \[00:\d\d\]', states[-1]), states[-1]
    assert '%' not in shown and code == (130 if interrupt_at else 1 if 'critic' in ending
                                         else 0), errors


@pytest.mark.slow
def test_evaluation_during_training_logs_the_policys_own_score_and_changes_nothing(tmp_path):
    plain = train_in(tmp_path / 'plain', '--max_iter_num', 4)
    result = train_in(tmp_path / 'eval', '--max_iter_num', 4, '--eval_interval', 2,
                      '--eval_episodes', 3)
    assert result['scores'] == plain['scores']  # training is the same run
    events = EventAccumulator(result['run_dir'])
    events.Reload()
    evaluations = events.Scalars('test/score')
    assert [e.step for e in evaluations] == [1, 3]
    # The last evaluation is of the saved actor: test.py measures the same from the
    # same start states (seed 500 + 1), without noise.
    shown = run_script('test.py', '--load_model', result['model'], '--no_render',
                       '--episodes', 3, '--seed', 501)
    mean = float(re.search(r'score: (-?[\d.]+) ±', shown.stdout).group(1))
    assert abs(evaluations[-1].value - mean) <= 0.005
    assert evaluations[0].value != evaluations[1].value  # the actor learned in between
    assert 'test/score' not in EventAccumulator(plain['run_dir']).Reload().Tags()['scalars']


def test_deck_update_runs_the_train_model_written_in_train_py(tmp_path, monkeypatch):
    calls = []

    def edited(*args):  # a student's edit of train_model: no update at all
        calls.append(args)
        return 0.0, 0.0
    monkeypatch.setattr(train, 'train_model', edited)
    fast = train_in(tmp_path / 'fast', '--max_iter_num', 1)
    assert calls == []  # by default the hand-written update runs
    deck = train_in(tmp_path / 'deck', '--max_iter_num', 1, '--deck_update')
    assert len(calls) == 200 - 64  # one call per step once a batch exists
    untrained = train_in(tmp_path / 'none', '--max_iter_num', 1, '--batch_size', 10 ** 6,
                         '--replay_buffer_size', 10 ** 6)

    def weights(result):
        return torch.load(result['model'], weights_only=True)
    # The edit shows: the actor of the --deck_update run never moved; the default's did.
    assert all(torch.equal(weights(deck)[k], v) for k, v in weights(untrained).items())
    assert not all(torch.equal(weights(fast)[k], v) for k, v in weights(untrained).items())


def test_the_decks_update_and_the_fast_one_train_alike(tmp_path):
    fast = train_in(tmp_path / 'fast', '--max_iter_num', 1)
    deck = train_in(tmp_path / 'deck', '--max_iter_num', 1, '--deck_update')
    # 136 updates into the run, the two agree to rounding (1e-8 of the score, measured);
    # later the float32 differences grow, as any change of summation order does in RL.
    assert deck['scores'][0] == pytest.approx(fast['scores'][0], abs=1e-3)
    assert deck['scores'][0] != fast['scores'][0]  # really the other update


@pytest.mark.slow
def test_one_thread_by_default_and_the_same_run_bit_for_bit_on_two(tmp_path):
    before = torch.get_num_threads()
    try:
        one = train_in(tmp_path / 'one', '--max_iter_num', 2)
        assert torch.get_num_threads() == 1  # not PyTorch's default of one per core
        two = train_in(tmp_path / 'two', '--max_iter_num', 2, '--threads', 2)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert one['scores'] == two['scores']
    for name, value in torch.load(one['checkpoint'], weights_only=True)['critic'].items():
        assert torch.equal(value, torch.load(two['checkpoint'], weights_only=True)['critic'][name])
