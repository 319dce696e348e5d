"""Checkpoints (not in the deck): all a run needs to go on exactly where it stopped,
and --load_model, which resumes a checkpoint or warm-starts an actor."""
import argparse
import copy
import os
import random

import numpy as np
import torch

from ddpg_extras.run.checks import as_argv, command, fail, is_count, plain_name, quietly
from ddpg_extras.run.environments import check_env_from_file
from ddpg_extras.run.files import (
    SEEDS_CHECKPOINT,
    actor_bounds,
    actor_sizes,
    is_checkpoint,
    load_actor_weights,
    load_model_file,
    model_path,
)

# The flags that define a run. A resumed run keeps those of its checkpoint, and one given
# anew with another value is refused. Every other flag (--max_iter_num, --goal_score,
# --device, ...) is the run's too, unless given anew: then the new value applies.
RUN_FLAGS = ('env_name', 'seed', 'hidden_size', 'batch_size', 'replay_buffer_size', 'gamma',
             'actor_lr', 'critic_lr', 'theta', 'mu', 'sigma', 'tau', 'gradient_clip_actor',
             'gradient_clip_critic', 'tanh_actor')
# Never taken from a checkpoint: what to load, and whether to watch (it changes nothing).
NOT_KEPT = ('load_model', 'render')
CHECKPOINT_KEYS = ('args', 'run', 'episode', 'steps', 'scores', 'seconds', 'actor', 'critic',
                   'target_actor', 'target_critic', 'actor_optimizer', 'critic_optimizer',
                   'replay_buffer', 'ou_noise', 'rng')


def load_model_flag(args, given, parser):
    """What --load_model names: (args, (path, the loaded file, the checkpoint to resume
    or None)). Resuming a checkpoint, args is a new namespace: the checkpoint's flags,
    each checked by parser as if typed, but for those given anew (given: {flag: value}
    from the command line)."""
    path = model_path(args.load_model, args.save_path)
    loaded = load_model_file(path)
    if isinstance(loaded, dict) and loaded.get('format') == SEEDS_CHECKPOINT:
        fail('{} is the checkpoint of a batch of seeds, made by train_seeds.py; resume it '
             'with: {}'.format(path, command('train_seeds.py', load_model=path)))
    if not is_checkpoint(loaded):
        return args, (path, loaded, None)
    args, ended = resume_checkpoint(args, given, path, loaded, parser)
    if ended:
        fail('{} holds a run that has ended: {}; pass a larger --max_iter_num or a higher '
             '--goal_score to train on ({} watches its actor)'.format(
                 path, ended, command('test.py', load_model=path)))
    return args, (path, loaded, loaded)


def resume_checkpoint(args, given, path, loaded, parser):
    """Check a loaded checkpoint; returns (the run's flags as resumed, a new namespace;
    why its run has ended under them, or None if it trains on)."""
    if not is_whole(loaded):
        fail('{} is an incomplete checkpoint; resume from another one, or point '
             '--load_model at a saved actor to warm-start from it'.format(path))
    args = resume_flags(args, given, read_flags(path, loaded['args'], parser, given), path)
    return args, run_ended(loaded, args.max_iter_num, args.goal_score)


def read_flags(path, flags, parser, given):
    """The flags a file holds ({flag: value}), each checked by parser as if typed, as a
    new dict; one line naming the file where the command line would refuse one, or where
    its --env_name would import a module that the command line (given) does not name."""
    args, problem = quietly(lambda: parser.parse_args(as_argv(parser, flags)))
    if problem:
        fail('{} holds flags that the command line would refuse: {}; it is damaged, or '
             'not made by this program'.format(path, problem))
    check_env_from_file(path, args.env_name, given.get('env_name'))
    return {flag: getattr(args, flag) for flag in flags if hasattr(args, flag)}


def is_whole(state):
    """Whether a loaded checkpoint holds everything that resuming it needs, each of the
    type it must be: a run name that is a file name and no more, counts that are
    counts, scores that are numbers."""
    return (all(key in state for key in CHECKPOINT_KEYS) and isinstance(state['args'], dict)
            and all(flag in state['args'] for flag in RUN_FLAGS + ('max_iter_num', 'goal_score'))
            and plain_name(state['run'])
            and all(is_count(state[key]) for key in ('episode', 'steps'))
            and isinstance(state['scores'], list) and all(map(number, state['scores']))
            and number(state['seconds']))


def number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def reached_goal(recent_rewards, goal_score):
    """The goal test: the last 100 episodes average above --goal_score (the deck tested
    the mean of however many there were; a full window here)."""
    return len(recent_rewards) == 100 and np.mean(recent_rewards) > goal_score


def run_ended(state, max_iter_num, goal_score):
    """Why the run a checkpoint holds has ended under these flags, as train.py's loop
    would have ended it, or None if it would train on."""
    episodes, recent = state['episode'], state['scores'][-100:]
    if reached_goal(recent, goal_score):
        return 'the last 100 of its {} episodes average {:.2f} > --goal_score {:g}'.format(
            episodes, np.mean(recent), goal_score)
    if episodes >= max_iter_num:
        return 'it has run {} episodes, and --max_iter_num is {}'.format(episodes, max_iter_num)
    return None


def resume_flags(args, given, kept, path):
    """The run's flags from its checkpoint (kept, as read_flags checked them), but for
    those given on the command line, as a new namespace. One that defines the run,
    given with another value, is refused: the run would no longer be the same run."""
    for flag in RUN_FLAGS:
        saved, value = kept[flag], given.get(flag, kept[flag])
        if value != saved:
            made = ('{} --{}'.format('with' if saved else 'without', flag)
                    if saved is None or isinstance(saved, bool)
                    else 'with --{} {}'.format(flag, saved))
            fail('{} is a run made {}; a resumed run keeps the flags it started with, so drop '
                 '--{}{}'.format(path, made, flag, '' if value is True else ' {}'.format(value)))
    flags = {flag: kept[flag] if flag in kept and flag not in given and flag not in NOT_KEPT
             else value for flag, value in vars(args).items()}
    if 'save_path' not in given:  # where the run's checkpoint is now, should it have moved
        flags['save_path'] = os.path.dirname(path) or '.'
    return argparse.Namespace(**flags)


def warm_start(actor, path, loaded, args, env_name):
    """Load an actor file's weights into the new run's actor, or one line why not."""
    weights, _ = load_actor_weights(path, loaded)
    sizes = (actor.fc1.in_features, actor.fc3.out_features, args.hidden_size)
    if actor_sizes(weights) != sizes:
        fail('{} has (state, action, hidden) sizes {}, but {} with --hidden_size {} needs {}'
             .format(path, actor_sizes(weights), env_name, args.hidden_size, sizes))
    if (actor_bounds(weights) is not None) != args.tanh_actor:
        kind, fix = (("the deck's linear", 'drop') if args.tanh_actor
                     else ('a tanh-bounded', 'add'))
        fail('{} holds {} actor; {} --tanh_actor to warm-start from it'.format(path, kind, fix))
    actor.load_state_dict(weights)
    print('warm start: actor from {} (the critic starts fresh)'.format(path))


def capture(agent, replay_buffer, ou_noise, env, probe_rng):
    """Copies of all that changes while a run trains: the networks, the optimizers, the
    replay buffer, the OU noise and every random generator."""
    numpy_state = ou_noise.rng.get_state(legacy=False)  # the noise's: NumPy's global in train.py
    numpy_state['state']['key'] = numpy_state['state']['key'].tolist()  # for weights_only
    state = {name: {k: v.detach().to('cpu', copy=True) for k, v in net.state_dict().items()}
             for name, net in agent.networks().items()}
    state.update((name, copy_state_dict(optimizer.state_dict()))
                 for name, optimizer in agent.optimizers().items())
    state.update(replay_buffer=replay_buffer.state_dict(), ou_noise=ou_noise.X.tolist(), rng={
        'random': random.getstate(), 'numpy': numpy_state, 'torch': torch.get_rng_state(),
        'env': env.unwrapped.np_random.bit_generator.state,
        'action_space': env.action_space.np_random.bit_generator.state,
        'probe': probe_rng.bit_generator.state})
    return state


def copy_state_dict(state_dict):
    """A copy of an optimizer's state_dict with tensors of their own size: deepcopy
    would copy the whole of a tensor that is a view (train_seeds.py's seed slices)."""
    return {'state': {i: {k: v.clone() for k, v in s.items()}
                      for i, s in state_dict['state'].items()},
            'param_groups': copy.deepcopy(state_dict['param_groups'])}


def restore(state, agent, replay_buffer, ou_noise, env, probe_rng):
    """Put back what capture() took."""
    for name, net in agent.networks().items():
        net.load_state_dict(state[name])
    for name, optimizer in agent.optimizers().items():
        optimizer.load_state_dict(state[name])
    replay_buffer.load_state_dict(state['replay_buffer'])
    ou_noise.X = np.array(state['ou_noise'], dtype=np.float64)
    rng = state['rng']
    random.setstate(rng['random'])
    numpy_state = copy.deepcopy(rng['numpy'])
    numpy_state['state']['key'] = np.array(numpy_state['state']['key'], dtype=np.uint32)
    ou_noise.rng.set_state(numpy_state)
    torch.set_rng_state(rng['torch'])
    env.unwrapped.np_random.bit_generator.state = rng['env']
    env.action_space.np_random.bit_generator.state = rng['action_space']
    probe_rng.bit_generator.state = rng['probe']


# A batch of seeds (train_seeds.py): why a seed ended, where its own checkpoint is
ENDED = (None, 'stopped', 'goal', 'episodes', 'diverged')
RUN_CHECKPOINT = '.checkpoint.pth'  # a seed's checkpoint: <its run name>.checkpoint.pth
RESULT_TYPES = {'seed': int, 'reached_goal': bool, 'episodes': int, 'steps': int,
                'score_avg': (int, float, type(None)), 'model': (str, type(None)),
                'error': (str, type(None)), 'stopped': bool}


def cohort_entries(path, state):
    """The seeds' entries of train_seeds.py's checkpoint of a batch of seeds (a cohort's:
    ddpg_extras/seeds/cohort.py writes it; it and the study layer read it), or one line
    where one is not as the cohort writes it: a seed, its checkpoint's file name beside
    it, why it ended, and its result once it has."""
    def whole(entry):
        if not (isinstance(entry, dict) and is_count(entry.get('seed'))
                and plain_name(entry.get('checkpoint'))
                and entry['checkpoint'].endswith(RUN_CHECKPOINT) and entry.get('ended') in ENDED
                and isinstance(entry.get('saved', True), bool)):
            return False
        result = entry.get('result')
        if entry['ended'] is None:
            return result is None
        return isinstance(result, dict) and result.get('seed') == entry['seed'] and all(
            isinstance(result.get(key), kind) for key, kind in RESULT_TYPES.items())
    entries = state.get('seeds')
    if not (isinstance(state.get('args'), dict) and isinstance(entries, list) and entries
            and all(map(whole, entries))
            and len({entry['seed'] for entry in entries}) == len(entries)):
        fail('{} is not a whole batch checkpoint (its seeds are not as train_seeds.py writes '
             'them); resume from another copy of it'.format(path))
    return entries
