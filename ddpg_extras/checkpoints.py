"""Checkpoints (not in the deck): all a run needs to go on exactly where it stopped,
and --load_model, which resumes a checkpoint or warm-starts an actor."""
import argparse
import copy
import random

import numpy as np
import torch

from ddpg_extras.checks import fail
from ddpg_extras.files import (
    actor_bounds,
    actor_sizes,
    is_checkpoint,
    load_actor_weights,
    load_model_file,
    model_path,
)

# The flags that define a run. A resumed run keeps those of its checkpoint; the
# others (--max_iter_num, --goal_score, --device, ...) may change when it resumes.
RUN_FLAGS = ('env_name', 'seed', 'hidden_size', 'batch_size', 'replay_buffer_size', 'gamma',
             'actor_lr', 'critic_lr', 'theta', 'mu', 'sigma', 'tau', 'gradient_clip_actor',
             'gradient_clip_critic', 'tanh_actor')
CHECKPOINT_KEYS = ('args', 'run', 'episode', 'steps', 'scores', 'seconds', 'actor', 'critic',
                   'target_actor', 'target_critic', 'actor_optimizer', 'critic_optimizer',
                   'replay_buffer', 'ou_noise', 'rng')
UNSET = object()


def load_model_flag(parser, args, argv):
    """What --load_model names: (path, the loaded file, the checkpoint to resume or
    None). A checkpoint's flags that define the run are taken into args."""
    path = model_path(args.load_model, args.save_path)
    loaded = load_model_file(path)
    if not is_checkpoint(loaded):
        return path, loaded, None
    if not (all(key in loaded for key in CHECKPOINT_KEYS)
            and all(flag in loaded['args'] for flag in RUN_FLAGS)):
        fail('{} is an incomplete checkpoint; resume from another one, or point '
             '--load_model at a saved actor to warm-start from it'.format(path))
    resume_flags(parser, args, argv, loaded, path)
    if loaded['episode'] >= args.max_iter_num:
        fail('{} has run {} episodes, and --max_iter_num is {}; pass a larger '
             '--max_iter_num to train on'.format(path, loaded['episode'], args.max_iter_num))
    return path, loaded, loaded


def resume_flags(parser, args, argv, checkpoint, path):
    """Take the flags that define the run from its checkpoint. One given on the command
    line with another value is refused: the run would no longer be the same run."""
    given = parser.parse_args(argv, argparse.Namespace(**dict.fromkeys(RUN_FLAGS, UNSET)))
    for flag in RUN_FLAGS:
        saved, value = checkpoint['args'][flag], getattr(given, flag)
        if value is not UNSET and value != saved:
            made = ('{} --{}'.format('with' if saved else 'without', flag)
                    if saved is None or isinstance(saved, bool)
                    else 'with --{} {}'.format(flag, saved))
            fail('{} is a run made {}; a resumed run keeps the flags it started with, so drop '
                 '--{}{}'.format(path, made, flag, '' if value is True else ' {}'.format(value)))
        setattr(args, flag, saved)


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


def capture(nets, optimizers, replay_buffer, ou_noise, env, probe_rng):
    """Copies of all that changes while a run trains: the networks, the optimizers, the
    replay buffer, the OU noise and every random generator."""
    numpy_state = ou_noise.rng.get_state(legacy=False)  # the noise's: NumPy's global in train.py
    numpy_state['state']['key'] = numpy_state['state']['key'].tolist()  # for weights_only
    state = {name: {k: v.detach().to('cpu', copy=True) for k, v in net.state_dict().items()}
             for name, net in nets.items()}
    state.update((name, copy_state_dict(optimizer.state_dict()))
                 for name, optimizer in optimizers.items())
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


def restore(state, nets, optimizers, replay_buffer, ou_noise, env, probe_rng):
    """Put back what capture() took."""
    for name, net in nets.items():
        net.load_state_dict(state[name])
    for name, optimizer in optimizers.items():
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
