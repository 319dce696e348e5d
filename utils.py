"""OU noise, action selection and target updates of the deck, plus the few helpers
that train.py and test.py share (making the environment, saving and loading actors)."""
import argparse
import io
import json
import math
import os
import sys
import tempfile

import gymnasium as gym
import numpy as np
import torch

from model import layer_parameters


class OUNoise:
    """Ornstein-Uhlenbeck process, the deck's discretisation (dt = 1):
    X <- X + theta * (mu - X) + sigma * N(0, 1). Its stationary standard deviation
    is sigma / sqrt(2 * theta - theta ** 2), about 0.39 with the deck's defaults."""

    def __init__(self, action_size, theta, mu, sigma):
        self.action_size = action_size
        self.theta = theta
        self.mu = mu
        self.sigma = sigma
        self.X = np.zeros(self.action_size)

    def reset(self):
        # Not in the deck's code, which never reset the process; its Algorithm 1
        # initialises the random process at the start of every episode.
        self.X = np.zeros(self.action_size)

    def sample(self):
        dx = self.theta * (self.mu - self.X)
        dx = dx + self.sigma * np.random.randn(len(self.X))
        self.X = self.X + dx

        return self.X


def get_action(policy, ou_noise):
    action = policy.detach().cpu().numpy() + ou_noise.sample()

    return action


def hard_target_update(actor, critic, target_actor, target_critic):
    target_critic.load_state_dict(critic.state_dict())
    target_actor.load_state_dict(actor.state_dict())


def soft_target_update(actor, critic, target_actor, target_critic, tau):
    soft_update(critic, target_critic, tau)
    soft_update(actor, target_actor, tau)


@torch.no_grad()
def soft_update(net, target_net, tau):
    """target <- tau * net + (1 - tau) * target: tau weights the *online* network."""
    # The deck looped over the parameters, three tensor operations each; one fused
    # lerp (target + tau * (net - target)) updates them all at once.
    torch._foreach_lerp_(layer_parameters(target_net), layer_parameters(net), tau)


def adam_step(optimizer):
    """optimizer.step(), faster for torch.optim.Adam(fused=True): the same fused kernel
    on the optimizer's own state (so its state_dict is unchanged), without the ~50 us
    of Python bookkeeping that step() spends around it on every call, more than the
    arithmetic for these networks. Any other optimizer gets its own step()."""
    group = optimizer.param_groups[0]
    if not (type(optimizer) is torch.optim.Adam and len(optimizer.param_groups) == 1
            and group['fused'] and not (group['amsgrad'] or group['maximize']
                                        or group['capturable'] or group['differentiable']
                                        or group.get('decoupled_weight_decay'))
            and isinstance(group['lr'], float)):
        return optimizer.step()
    params = group['params']
    state = [optimizer.state[p] for p in params]
    if not state[0]:  # initialised as Adam.step() initialises it, as normal tensors
        with torch.inference_mode(False):  # (train_model runs in inference mode)
            for p, s in zip(params, state):
                s['step'] = torch.zeros((), dtype=torch.float32, device=p.device)
                s['exp_avg'] = torch.zeros_like(p, memory_format=torch.preserve_format)
                s['exp_avg_sq'] = torch.zeros_like(p, memory_format=torch.preserve_format)
    steps = [s['step'] for s in state]
    torch._foreach_add_(steps, 1)
    beta1, beta2 = group['betas']
    torch._fused_adam_(params, [p.grad for p in params], [s['exp_avg'] for s in state],
                       [s['exp_avg_sq'] for s in state], [], steps, lr=group['lr'], beta1=beta1,
                       beta2=beta2, weight_decay=group['weight_decay'], eps=group['eps'],
                       amsgrad=False, maximize=False)


def clip_grad_norm(params, max_norm):
    """torch.nn.utils.clip_grad_norm_(params, max_norm) for parameters on one device,
    the same arithmetic without its per-call bookkeeping (which made a training step
    about 45% slower): scale all gradients by max_norm / (their total norm + 1e-6) when
    that is below 1."""
    grads = [p.grad for p in params]
    total_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, (max_norm / (total_norm + 1e-6)).clamp_(max=1.0))


# ---------------------------------------------------------------------------
# Plumbing shared by train.py and test.py (not in the deck).

def fail(message):
    """Stop with one line on stderr and exit status 1: a user's mistake gets no traceback."""
    raise SystemExit(f"error: {message}")


def _number(text, ok, what):
    """An argparse type: float(text) where ok(value), else argparse's usage error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a number")
    if math.isnan(value) or not ok(value):
        raise argparse.ArgumentTypeError(f"{text} is not {what}")
    return value


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def positive_float(text):
    return _number(text, lambda x: 0 < x < math.inf, "a positive number")


def non_negative_float(text):
    return _number(text, lambda x: 0 <= x < math.inf, "a number >= 0")


def unit_interval(text):  # gamma
    return _number(text, lambda x: 0 <= x <= 1, "in [0, 1]")


def half_open_unit_interval(text):  # tau
    return _number(text, lambda x: 0 < x <= 1, "in (0, 1]")


def finite_float(text):
    return _number(text, math.isfinite, "a finite number")


def float_not_nan(text):  # --goal_score inf: never stop early
    return _number(text, lambda x: True, "a number")


def check_writable(folder, flag):
    """Create folder if needed and write a file in it, now rather than after an hour
    of training; one line naming the flag if that fails."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        fail(f"cannot write to {flag} {folder}: {e.strerror or e}; "
             f"choose a folder you can write to with {flag}")


def has_display():
    """A window can open: always on macOS and Windows; on Linux only with X11 or Wayland."""
    return not sys.platform.startswith('linux') or bool(
        os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY'))


def make_env(env_name, render_mode=None):
    """gym.make with the deck's Pendulum-v0 mapped to v1 and one-line errors."""
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
                    "pip install -r requirements-envs.txt")
        elif isinstance(e, gym.error.UnregisteredEnv):
            hint = ('; list the known ones with: '
                    'python -c "import gymnasium; gymnasium.pprint_registry()"')
        fail(f"cannot make environment {env_name!r}: {e}{hint}")
    if not isinstance(env.action_space, gym.spaces.Box):
        fail(f"{env_name} has {type(env.action_space).__name__} actions, but DDPG needs "
             "continuous (Box) actions; try Pendulum-v1")
    if not (isinstance(env.observation_space, gym.spaces.Box)
            and len(env.observation_space.shape) == 1):
        fail(f"{env_name} has observations of shape {env.observation_space.shape}, but "
             "these networks need a flat vector (a 1-D Box)")
    if len(env.action_space.shape) != 1 or not (np.isfinite(env.action_space.low).all()
                                                and np.isfinite(env.action_space.high).all()):
        fail(f"{env_name} has actions from {env.action_space.low} to {env.action_space.high}, "
             "but DDPG here needs a flat vector of bounded actions to clip to")
    return env


def noise_scale(action_space):
    """Per action dimension, its range relative to Pendulum's (-2 to 2): the deck's OU
    noise, tuned on Pendulum, times this is the same fraction of every range. 1.0 on
    Pendulum, exactly, so the deck's runs are unchanged; 0.5 for actions in [-1, 1]."""
    return (action_space.high.astype(np.float64) - action_space.low) / 4


def atomic_write(path, write):
    """Write `path` so that a crash or a full disk leaves either the old file or the
    new one, never half of one: a temporary file in the same folder, fsync, rename."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_torch(obj, path):
    """torch.save(obj, path), atomically. The bytes are made in memory first, so a full
    disk surfaces as the OSError that says so, and the old file stays."""
    data = io.BytesIO()
    torch.save(obj, data)
    atomic_write(path, lambda f: f.write(data.getbuffer()))


def save_actor(actor, path, info):
    """The deck's format, torch.save(actor.state_dict(), path), so the deck's own
    loading code still works; what else a user needs (env, episode, score) goes
    beside it in path + '.json'."""
    # CPU copies of the weights (not in the deck, which never left the CPU), so an actor
    # trained with --device cuda loads anywhere, with the deck's torch.load as well
    weights = {k: v.cpu() for k, v in actor.state_dict().items()}
    save_torch(weights, path)
    text = json.dumps(info, indent=2) + "\n"
    atomic_write(path + ".json", lambda f: f.write(text.encode()))


def model_path(load_model, save_path):
    """As the deck's test.py: a bare file name is looked up in save_path."""
    return load_model if os.path.dirname(load_model) else os.path.join(save_path, load_model)


# What marks a full training checkpoint of train.py (and the version of its layout).
CHECKPOINT = "ddpg training checkpoint 1"


def load_model_file(path):
    """torch.load(path) of an actor file or a checkpoint, with weights_only=True: a
    model file can never run code. Anything wrong gets one line, not a traceback."""
    if not os.path.isfile(path):
        fail(f"no model file at {path}; train one with `python train.py`, "
             "or point --load_model at a saved actor or checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds: UnpicklingError, RuntimeError, KeyError
        if "GLOBAL" in str(e):  # weights_only met a class or function it would have to call
            fail(f"refused to load {path}: it holds Python objects that would run code "
                 "when unpickled; only plain weights are accepted")
        fail(f"cannot read {path}: it is not a PyTorch model file, or it is truncated "
             f"({type(e).__name__}); point --load_model at a saved actor or checkpoint")


def is_checkpoint(state):
    """Whether a loaded model file is a full training checkpoint (train.py resumes it)."""
    return isinstance(state, dict) and state.get("format") == CHECKPOINT


def load_actor_weights(path, state=None):
    """Return (actor state_dict, info) from the deck's format (a bare actor state_dict,
    also as .pth.tar), from a checkpoint dict holding one under 'actor', or from
    state, the file as load_model_file already loaded it."""
    state = load_model_file(path) if state is None else state
    info = {}
    if os.path.isfile(path + ".json"):
        with open(path + ".json") as f:
            info = json.load(f)
    if is_checkpoint(state) and isinstance(state.get("args"), dict):
        info = {"env_name": state["args"].get("env_name"), "episodes": state.get("episode")}
    if isinstance(state, dict) and isinstance(state.get("actor"), dict):
        state = state["actor"]
    keys = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias")
    if not (isinstance(state, dict) and all(torch.is_tensor(state.get(k)) for k in keys)):
        fail(f"{path} holds no actor weights (expected the keys {', '.join(keys)})")
    if not all(bool(torch.isfinite(state[k]).all()) for k in keys):
        fail(f"{path} holds inf or nan weights (saved from a run that diverged?); "
             "point --load_model at another actor")
    return state, info


def actor_bounds(state):
    """(low, high) of a tanh-bounded actor (train.py --tanh_actor), which keeps them in
    its state_dict; None for the deck's linear actor."""
    if "action_scale" not in state:
        return None
    return (state["action_bias"] - state["action_scale"],
            state["action_bias"] + state["action_scale"])


def actor_sizes(state):
    """(state_size, action_size, hidden_size) read off an actor's state_dict."""
    hidden_size, state_size = state["fc1.weight"].shape
    action_size = state["fc3.weight"].shape[0]
    return state_size, action_size, hidden_size
