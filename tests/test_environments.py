"""Beyond Pendulum: train.py and test.py on other continuous-control environments."""
import ctypes.util
import os
import shutil

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np
import pytest

import train
import utils
from conftest import ROOT, assert_clean_error, in_a_window, run_script, run_script_after, script_env
from ddpg_extras.run import environments

ENVIRONMENTS = [  # (name, the package it needs beyond requirements.txt)
    ('MountainCarContinuous-v0', None),
    ('LunarLanderContinuous-v3', 'Box2D'),
    ('InvertedPendulum-v5', 'mujoco'),
    ('short_episodes:HalfCheetah50-v5', 'mujoco'),  # HalfCheetah-v5, 50 steps an episode
]


@pytest.mark.slow
@pytest.mark.parametrize('env_name, package', ENVIRONMENTS)
def test_train_and_test_run_on_the_environment(tmp_path, env_name, package):
    if package:
        pytest.importorskip(package, reason='pip install -r requirements/envs.txt')
    if package == 'mujoco' and not ctypes.util.find_library('EGL'):
        pytest.skip('MuJoCo draws off screen through EGL (Debian: libegl1 libegl-mesa0)')
    result = train.main(['--env_name', env_name, '--max_iter_num', '2', '--save_path',
                         str(tmp_path), '--logdir', str(tmp_path / 'logs')])
    buffer = result['replay_buffer']
    space = gym.make(env_name).action_space
    assert len(buffer) == result['steps'] and buffer.action_size == space.shape[0]

    video = tmp_path / 'episode.mp4'
    # A module:Env is read off the .json only where the command line names it too.
    typed = ['--env_name', env_name] if ':' in env_name else []
    shown = run_script('test.py', '--load_model', result['model'], '--episodes', 1,
                       '--record', video, *typed,
                       env=dict(script_env(), PYTHONPATH=os.path.dirname(__file__)))
    assert shown.returncode == 0, shown.stderr
    assert 'on {}'.format(env_name.split(':')[-1]) in shown.stdout  # off the .json, or typed
    frames = imageio.get_reader(video)
    first = frames.get_data(0)
    assert first.ndim == 3 and first.std() > 1  # a picture, not a blank frame
    assert frames.count_frames() >= 2


def test_the_noise_keeps_pendulums_scale_and_fits_other_ranges():
    assert environments.noise_scale(gym.make('Pendulum-v1').action_space).tolist() == [1.0]
    assert environments.noise_scale(gym.make('MountainCarContinuous-v0').action_space).tolist() == [
        0.5]
    lander = gym.spaces.Box(np.float32([-1, -3]), np.float32([1, 5]))
    assert environments.noise_scale(lander).tolist() == [0.5, 2.0]


def test_a_missing_optional_dependency_gets_one_line(tmp_path):
    # As if MuJoCo were not installed: importing it fails.
    result = run_script_after("import sys; sys.modules['mujoco'] = None", 'train.py',
                              '--env_name', 'HalfCheetah-v5', '--save_path', tmp_path,
                              '--logdir', tmp_path)
    assert_clean_error(result, 'cannot make environment', 'HalfCheetah-v5',
                       'pip install -r requirements/envs.txt')


class Unbounded(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (3,))
    action_space = gym.spaces.Box(-np.inf, np.inf, (2,))

    def __init__(self, render_mode=None):
        self.render_mode = render_mode


def test_unbounded_actions_are_refused_in_one_line():
    gym.register('UnboundedActions-v0', entry_point=Unbounded)
    with pytest.raises(SystemExit) as exit_:
        environments.make_env('UnboundedActions-v0')
    assert 'has actions from [-inf -inf] to [inf inf]' in str(exit_.value.code)
    assert 'bounded actions' in str(exit_.value.code)
    assert os.path.exists(os.path.join(ROOT, 'requirements/envs.txt'))


class Sent(gym.Wrapper):
    """A real environment that remembers the actions it was given."""

    def __init__(self, env):
        super().__init__(env)
        self.actions = []

    def step(self, action):
        self.actions.append(np.array(action))
        return self.env.step(action)


def test_noise_and_clipping_fit_each_action_dimension(tmp_path, monkeypatch):
    pytest.importorskip('Box2D', reason='pip install -r requirements/envs.txt')
    made, noises = [], []

    def make_env(name, render_mode=None):
        made.append(Sent(environments.make_env(name, render_mode)))
        return made[-1]

    class Noise(utils.OUNoise):
        def __init__(self, *args):
            super().__init__(*args)
            noises.append(self)
    monkeypatch.setattr(train, 'make_env', make_env)
    monkeypatch.setattr(train, 'OUNoise', Noise)
    result = train.main(['--env_name', 'LunarLanderContinuous-v3', '--max_iter_num', '3',
                         '--sigma', '0.4', '--save_path', str(tmp_path), '--logdir',
                         str(tmp_path / 'logs')])
    # Both engines range over [-1, 1], half of Pendulum's range: half the deck's noise.
    assert noises[0].sigma.tolist() == [0.2, 0.2] and noises[0].mu.tolist() == [0.0, 0.0]
    buffer = result['replay_buffer']
    stored = buffer.split(buffer.memory[:len(buffer)])[1]
    sent = np.array(made[0].actions)
    # The actor and its noise leave the bounds; the engines are given clipped actions.
    assert np.abs(stored).max() > 1
    np.testing.assert_array_equal(sent.astype(np.float32), np.clip(stored, -1, 1))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which('Xvfb') is None,
                    reason='needs Xvfb (Debian package xvfb; .ci/run installs it)')
@pytest.mark.parametrize('env_name, package', [('LunarLanderContinuous-v3', 'Box2D'),
                                               ('InvertedPendulum-v5', 'mujoco')])
def test_with_a_display_test_py_shows_the_environment_in_a_real_window(tmp_path, env_name,
                                                                        package):
    """Box2D draws with pygame, MuJoCo with its own GLFW window; MountainCar and
    HalfCheetah use the same two, with episodes too long for a test."""
    pytest.importorskip(package, reason='pip install -r requirements/envs.txt')
    # An untrained actor (no updates: the batch is larger than the run) fails fast.
    actor = train.main(['--env_name', env_name, '--max_iter_num', '1', '--batch_size',
                        '1000000', '--replay_buffer_size', '1000000', '--save_path',
                        str(tmp_path), '--logdir', str(tmp_path / 'logs')])['model']
    pictures = set()  # the different pictures the screen showed

    def look(pixels):
        if pixels[::4, ::4, :3].std() > 5:  # not a blank screen
            pictures.add(pixels[::4, ::4, :3].tobytes())
    code, out, err = in_a_window(tmp_path, '--load_model', actor, '--episodes', 3, look=look)
    assert code == 0, err
    assert 'video:' not in out  # a window, not a recording
    assert len(pictures) >= 3  # drawn, and moving
