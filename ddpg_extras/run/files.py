"""Files: every save is atomic (the old file or the new one, never half of one), and
every load is safe (weights_only=True) with one line for anything wrong."""
import io
import itertools
import json
import os
import sys

import torch

from ddpg_extras.run.checks import fail
from ddpg_extras.run.environments import check_env_from_file

# What marks a full training checkpoint of train.py (and the version of its layout).
CHECKPOINT = "ddpg training checkpoint 1"
# What marks train_seeds.py's checkpoint of a batch of seeds (and the version of its layout).
SEEDS_CHECKPOINT = "ddpg seeds checkpoint 1"
ACTOR_KEYS = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias")


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
    save_weights(actor.state_dict(), path, info)


def save_weights(weights, path, info):
    """save_actor's file from the actor's state_dict (a checkpoint holds one)."""
    # CPU copies of the weights, so an actor trained with --device cuda loads anywhere,
    # with the deck's torch.load as well; copies, so that a seed's weights, views of
    # train_seeds.py's stacks, are saved alone and not with every seed's
    save_torch({k: v.detach().to('cpu', copy=True) for k, v in weights.items()}, path)
    write_json(path + ".json", info)


def write_json(path, data):
    """json.dump(data), atomically."""
    text = json.dumps(data, indent=2) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def read_json(path):
    with open(path) as f:
        return json.load(f)


class WriteFailed(SystemExit):
    """The end of a run that could not write a file: a fault to retry (a full disk), not
    a result like a divergence. Its message has been printed as the run's last line."""

    def __init__(self, message, status=1):
        super().__init__(status)
        self.message = message


class Writes:
    """The saves of a run. A save that fails (a full disk, a lost folder) says so at once
    in one line, and the run goes on, its state still in memory; the failures are kept
    for the run's last line."""

    def __init__(self):
        self.failed = {}  # path: (what, why), the latest failure at each path

    def save(self, what, path, save):
        """save(), or where it fails, one warning line and False: the old file stays."""
        try:
            save()
            return True
        except OSError as e:
            why = e.strerror or str(e)
            self.failed[path] = (what, why)
            print('warning: could not write {} {}: {}'.format(what, path, why),
                  file=sys.stderr, flush=True)
            return False

    def end(self, on_disk, status=1):
        """After the run's last save: if any file could not be written, stop with the line
        that says which, why, and what on disk holds the run."""
        if self.failed:
            message = 'error: could not write {}; {}'.format('; nor '.join(
                '{} {} ({})'.format(what, path, why)
                for path, (what, why) in self.failed.items()), on_disk)
            sys.stdout.flush()  # this line is the run's last
            print(message, file=sys.stderr, flush=True)
            raise WriteFailed(message, status)


def first_free(first, nth, start=2):
    """The first path of first, nth(start), nth(start + 1), ... that does not exist:
    a name of its own, never one that is there already."""
    candidates = itertools.chain([first] if first else [], map(nth, itertools.count(start)))
    return next(path for path in candidates if not os.path.exists(path))


def set_aside(path):
    """Move an existing actor file (and its .json) to model.1.pth, model.2.pth, ...
    so that saving a new one never loses the old one. Returns the new name."""
    if not os.path.exists(path):
        return None
    stem = path[:-len('.pth')] if path.endswith('.pth') else path
    kept = first_free(None, '{}.{{}}.pth'.format(stem).format, 1)
    os.replace(path, kept)
    if os.path.exists(path + '.json'):
        os.replace(path + '.json', kept + '.json')
    return kept


def outside(root, path):
    """Whether path, its links followed, lies outside the folder root."""
    base = os.path.realpath(root)
    return os.path.commonpath([base, os.path.realpath(path)]) != base


def first_outside(root, paths):
    """The first of paths, or of what lies below them, that leads outside the folder
    root (through a link: a folder handed over may hold one), or None."""
    for path in paths:
        if outside(root, path):
            return path
        for where, folders, files in os.walk(path):
            for name in folders + files:
                if outside(root, os.path.join(where, name)):
                    return os.path.join(where, name)
    return None


def model_path(load_model, save_path):
    """As the deck's test.py: a bare file name is looked up in save_path."""
    return load_model if os.path.dirname(load_model) else os.path.join(save_path, load_model)


def load_model_file(path):
    """torch.load(path) of an actor file or a checkpoint, with weights_only=True: a
    model file can never run code. Anything wrong gets one line, not a traceback."""
    try:
        return read_model_file(path)
    except ValueError as e:
        fail(str(e))


def read_model_file(path):
    """load_model_file's load; ValueError, with the line to say, for anything wrong."""
    if not os.path.isfile(path):
        raise ValueError(f"no model file at {path}; train one with `python train.py`, "
                         "or point --load_model at a saved actor or checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds: UnpicklingError, RuntimeError, KeyError
        if "GLOBAL" in str(e):  # weights_only met a class or function it would have to call
            raise ValueError(f"refused to load {path}: it holds Python objects that would "
                             "run code when unpickled; only plain weights are accepted") from None
        raise ValueError(f"cannot read {path}: it is not a PyTorch model file, or it is "
                         f"truncated ({type(e).__name__}); point --load_model at a saved "
                         "actor or checkpoint") from None


def read_whole_json(path, valid, writer='the study'):
    """(value, None) where the JSON file at path reads back whole and valid(value) holds;
    else (None, what is wrong: 'missing', 'empty', 'damaged (...)'). writer: what writes
    that file, for the words."""
    try:
        with open(path, 'rb') as f:
            text = f.read()
    except FileNotFoundError:
        return None, 'missing'
    except OSError as e:
        return None, 'unreadable ({})'.format(e.strerror or e)
    if not text.strip():
        return None, 'empty'
    try:
        value = json.loads(text)
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        return None, 'damaged ({})'.format(e)
    if not valid(value):
        return None, 'damaged (it does not hold what {} writes there)'.format(writer)
    return value, None


def is_checkpoint(state):
    """Whether a loaded model file is a full training checkpoint (train.py resumes it)."""
    return isinstance(state, dict) and state.get("format") == CHECKPOINT


def load_actor_weights(path, state=None, check_env=False):
    """Return (actor state_dict, info) from the deck's format (a bare actor state_dict,
    also as .pth.tar), from a checkpoint dict holding one under 'actor', or from
    state, the file as load_model_file already loaded it. info: what the .json beside
    an actor file says of its run, or a checkpoint of its own. check_env: the env_name
    that info gives is to be made, so a module:Env in it is refused (test.py)."""
    state = load_model_file(path) if state is None else state
    if isinstance(state, dict) and state.get("format") == SEEDS_CHECKPOINT:
        fail(f"{path} is train_seeds.py's checkpoint of a batch of seeds, which holds no "
             "actor; each seed's actor is saved apart, as save_model/<run name>.pth")
    info, said_by = actor_info(path + ".json"), named_by(path, state)
    if is_checkpoint(state) and isinstance(state.get("args"), dict):
        env_name = state["args"].get("env_name")
        info = {"env_name": env_name if is_env_name(env_name) else None}
    if check_env:  # read from a file: a module:Env only where the command line names it
        check_env_from_file(said_by, info.get("env_name"), None)
    if isinstance(state, dict) and isinstance(state.get("actor"), dict):
        state = state["actor"]
    if not (isinstance(state, dict) and all(torch.is_tensor(state.get(k)) for k in ACTOR_KEYS)):
        fail(f"{path} holds no actor weights (expected the keys {', '.join(ACTOR_KEYS)})")
    problem = actor_problem(state)
    if problem:
        fail(f"{path} holds no actor that model.py can build: {problem}; it is damaged, or "
             "not made by this program: point --load_model at another actor")
    if not all(bool(torch.isfinite(state[k]).all()) for k in ACTOR_KEYS):
        fail(f"{path} holds inf or nan weights (saved from a run that diverged?); "
             "point --load_model at another actor")
    return state, info


BOUNDS = ("action_scale", "action_bias")  # a tanh-bounded actor's (train.py --tanh_actor)


def actor_problem(state):
    """What keeps an actor's state_dict (all of ACTOR_KEYS tensors) from being one that
    model.py's Actor loads, or None: layers of floating-point numbers whose sizes fit
    each other, and no more than a tanh actor's two bounds beside them."""
    extra = [key for key in state if key not in ACTOR_KEYS + BOUNDS]
    bounds = [key for key in BOUNDS if key in state]
    if extra:
        return "it holds {} besides the layers".format(", ".join(map(repr, extra[:3])))
    if len(bounds) == 1 or not all(torch.is_tensor(state[key]) for key in bounds):
        return "a tanh actor's bounds are {} and {}, both tensors".format(*BOUNDS)
    tensors = [state[key] for key in ACTOR_KEYS + tuple(bounds)]
    if not all(t.layout == torch.strided and t.is_floating_point() for t in tensors):
        return "its weights are not all dense tensors of floating-point numbers"
    shapes = [tuple(state[key].shape) for key in ACTOR_KEYS]
    if [len(shape) for shape in shapes] != [2, 1, 2, 1, 2, 1]:
        return "its layers' weights and biases have {} dimensions".format(
            [len(shape) for shape in shapes])
    (hidden, states), actions = shapes[0], shapes[4][0]
    fits = [(hidden, states), (hidden,), (hidden, hidden), (hidden,), (actions, hidden),
            (actions,)]
    if shapes != fits or min(hidden, states, actions) < 1:
        return "its layers' sizes {} do not fit each other".format(
            ", ".join("x".join(map(str, shape)) for shape in shapes))
    if any(tuple(state[key].shape) != (actions,) for key in bounds):
        return "its bounds are not one number for each of its {} actions".format(actions)
    return None


def is_env_name(name):
    """Whether name (read from a file) can be an environment's name: a text of one line."""
    return isinstance(name, str) and name.isprintable() and bool(name.strip())


def named_by(path, state):
    """The file that says which environment the model file at path (state, as loaded)
    was trained on: a checkpoint itself, an actor file the .json beside it."""
    return path if is_checkpoint(state) else path + ".json"


def actor_info(path):
    """What the .json beside an actor file says of its run ({} where there is none), or
    one line where it is damaged."""
    info, problem = read_whole_json(path, lambda info: isinstance(info, dict) and (
        "env_name" not in info or is_env_name(info["env_name"])), 'train.py')
    if problem == "missing":
        return {}
    if problem:
        fail(f"{path} is {problem}; it says which environment the actor beside it was "
             "trained on: restore it from a copy, or move it away and give --env_name")
    return info


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


def check_actor_fits(path, info, weights, env, hidden_size=None, named=None):
    """One line if an actor's file does not fit the environment it is to run in (test.py);
    named: the --env_name given, which the file may name as it was given."""
    env_name = env.spec.id
    if info.get('env_name') and info['env_name'] not in (env_name, named):
        fail('{} was trained on {}, not {}; drop --env_name or pass --env_name {}'.format(
            path, info['env_name'], env_name, info['env_name']))
    state_size, action_size, size = actor_sizes(weights)
    if (state_size, action_size) != (env.observation_space.shape[0], env.action_space.shape[0]):
        fail('{} is an actor for {} observations and {} actions, but {} has {} and {}; '
             'pass the --env_name it was trained on'.format(
                 path, state_size, action_size, env_name,
                 env.observation_space.shape[0], env.action_space.shape[0]))
    if hidden_size is not None and hidden_size != size:
        fail('{} has hidden size {}, not {}; drop --hidden_size (it is read from the weights)'
             .format(path, size, hidden_size))
