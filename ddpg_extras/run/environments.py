"""Making Gymnasium environments for DDPG: the deck's Pendulum-v0 mapped to v1, one
line for anything DDPG cannot train, the noise's scale per action, and displays."""
import os
import shlex
import sys

import gymnasium as gym
import numpy as np

from ddpg_extras.run.checks import fail


def make_env(env_name, render_mode=None, named_by=None):
    """gym.make with the deck's Pendulum-v0 mapped to v1 and one-line errors; named_by:
    the file that named env_name, which the line names then."""
    said = f"{named_by} names an environment that cannot be used: " if named_by else ""
    if env_name == "Pendulum-v0":
        # Pendulum-v0 was removed in gym 0.21; v1 has the same dynamics except that
        # the speed is clipped before integrating.
        print("notice: Pendulum-v0 no longer exists; using Pendulum-v1")
        env_name = "Pendulum-v1"
    try:
        env = gym.make(env_name, render_mode=render_mode)
    except gym.error.Error as e:
        hint = ""
        if isinstance(e, gym.error.DependencyNotInstalled):
            hint = ("; install what the other environments need with: "
                    "pip install -r requirements/envs.txt")
        elif isinstance(e, gym.error.UnregisteredEnv):
            hint = ('; list the known ones with: '
                    'python -c "import gymnasium; gymnasium.pprint_registry()"')
        fail(f"{said}cannot make environment {env_name!r}: {' '.join(str(e).split())}{hint}")
    if not isinstance(env.action_space, gym.spaces.Box):
        fail(f"{said}{env_name} has {type(env.action_space).__name__} actions, but DDPG needs "
             "continuous (Box) actions; try Pendulum-v1")
    if not (isinstance(env.observation_space, gym.spaces.Box)
            and len(env.observation_space.shape) == 1):
        fail(f"{said}{env_name} has observations of shape {env.observation_space.shape}, but "
             "these networks need a flat vector (a 1-D Box)")
    if len(env.action_space.shape) != 1 or not (np.isfinite(env.action_space.low).all()
                                                and np.isfinite(env.action_space.high).all()):
        fail(f"{said}{env_name} has actions from {env.action_space.low} to "
             f"{env.action_space.high}, "
             "but DDPG here needs a flat vector of bounded actions to clip to")
    return env


def check_env_from_file(path, env_name, typed, how=None):
    """An --env_name of the form module:Env makes Gymnasium import that module. One read
    from a file (a checkpoint, an actor's .json, a study) is refused unless the command
    line names the same environment (typed): a file handed over cannot make this program
    import a module the user did not name. how: what to do instead."""
    if isinstance(env_name, str) and ':' in env_name and env_name != typed:
        fail('{} names --env_name {}, which makes Gymnasium import the module {!r}; a file '
             'can name such an environment only where the command line names it too: {}'
             .format(path, env_name, env_name.split(':')[0], how or 'give --env_name {} if '
                     'you trust it'.format(shlex.quote(env_name))))


def noise_scale(action_space):
    """Per action dimension, its range relative to Pendulum's (-2 to 2): the deck's OU
    noise, tuned on Pendulum, times this is the same fraction of every range. 1.0 on
    Pendulum, exactly, so the deck's runs are unchanged; 0.5 for actions in [-1, 1]."""
    return (action_space.high.astype(np.float64) - action_space.low) / 4


def has_display():
    """A window can open: always on macOS and Windows; on Linux only with X11 or Wayland."""
    return not sys.platform.startswith('linux') or bool(
        os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY'))


def draw_off_screen():
    """Let pygame and MuJoCo draw frames without a display (for recordings)."""
    os.environ.setdefault('SDL_VIDEODRIVER', 'offscreen')  # pygame draws off screen
    os.environ.setdefault('SDL_AUDIODRIVER', 'dummy')
    os.environ.setdefault('MUJOCO_GL', 'egl')  # MuJoCo draws off screen through EGL

