"""Watch a trained actor: the deck's test.py on today's stack.

    python test.py                                   # save_model/model.pth, rendered
    python test.py --load_model model.pth --no_render --episodes 100
"""
import argparse
import sys

import numpy as np
import torch

from ddpg_extras.run.checks import (
    HelpFormatter,
    finite_float,
    non_negative_float,
    positive_int,
)
from ddpg_extras.run.environments import make_env, noise_scale
from ddpg_extras.run.evaluation import optimum_scores
from ddpg_extras.run.files import (
    actor_bounds,
    actor_sizes,
    check_actor_fits,
    load_actor_weights,
    load_model_file,
    model_path,
    named_by,
)
from ddpg_extras.run.optimum import optimum
from ddpg_extras.run.video import Video, video_path
from model import Actor
from utils import OUNoise, get_action

parser = argparse.ArgumentParser(
    description='Run a saved DDPG actor and show it '
                '(a window, or a video where there is no display).',
    formatter_class=HelpFormatter, allow_abbrev=False)  # a flag is its whole name
parser.add_argument('--env_name', type=str, default=None,
                    help="Gymnasium environment (default: the one the model's .json names, "
                         "else Pendulum-v1)")
parser.add_argument('--load_model', type=str, default='model.pth',
                    help='actor file (or a checkpoint of train.py); a bare file name is '
                         'looked up in save_model/, as the deck did')
parser.add_argument('--episodes', type=positive_int, default=10, help='episodes to run')
parser.add_argument('--seed', type=int, default=0,
                    help='episode i starts from reset seed SEED + i (the starts of --seed 0 '
                         '--episodes 100 are reset seeds 0-99)')
parser.add_argument('--hidden_size', type=positive_int, default=None,
                    help='only a check: the size is read from the weights')
parser.add_argument('--noise', action='store_true',
                    help="add the deck's OU exploration noise (off: measure the policy itself)")
parser.add_argument('--theta', type=non_negative_float, default=0.15,
                    help='OU noise theta, with --noise')
parser.add_argument('--mu', type=finite_float, default=0.0, help='OU noise mu, with --noise')
parser.add_argument('--sigma', type=non_negative_float, default=0.2,
                    help='OU noise sigma, with --noise')
parser.add_argument('--no_render', action='store_true', help='no window, no video: scores only')
parser.add_argument('--record', type=str, default=None, metavar='PATH',
                    help='write the episodes to this video file instead of a window: .mp4, '
                         'or .gif for an animation that plays in a README; never over a file '
                         'that is there (the default where there is no display: '
                         'videos/<model>_<time>.mp4)')


def main(argv=None):
    args = parser.parse_args(argv)
    if args.record and not args.record.endswith(('.mp4', '.gif')):
        parser.error('--record needs a file name ending in .mp4 or .gif')

    path = model_path(args.load_model, 'save_model')
    # both formats, weights_only=True; the .json's env_name is checked where it is used
    state = load_model_file(path)
    weights, info = load_actor_weights(path, state, check_env=not args.env_name)
    # The deck always opened a window; without a display, the episodes go to a video
    record = video_path(args.record, args.no_render, path)
    render_mode = None if args.no_render else ('rgb_array' if record else 'human')
    env = make_env(args.env_name or info.get('env_name') or 'Pendulum-v1', render_mode,
                   None if args.env_name else named_by(path, state))  # a file's: it says so
    check_actor_fits(path, info, weights, env, args.hidden_size, args.env_name)

    state_size, action_size, hidden_size = actor_sizes(weights)
    actor = Actor(state_size, action_size, hidden_size, actor_bounds(weights))
    actor.load_state_dict(weights)
    np.random.seed(args.seed)
    scale = noise_scale(env.action_space)  # as train.py: the noise fits each action's range
    # The deck always added the noise; here only with --noise, to measure the policy itself
    ou_noise = (OUNoise(action_size, args.theta, args.mu * scale, args.sigma * scale)
                if args.noise else None)
    low, high = env.action_space.low, env.action_space.high
    print('testing {} on {}, {} episodes{}{}'.format(
        path, env.spec.id, args.episodes, ' with OU noise' if args.noise else '',
        # no window where there is no display: say at once where the episodes go instead
        '; recording them to {} (no window)'.format(record) if record else ''))

    video = Video(record, env) if record else None
    scores = []
    try:
        for episode in range(args.episodes):  # the deck's --iter counted steps
            done = False
            score = 0.0

            # episode i starts from reset seed --seed + i: a set of starts that can be named
            state, _ = env.reset(seed=args.seed + episode)
            if ou_noise:
                ou_noise.reset()
            if video:
                video.frame()

            while not done:
                with torch.no_grad():
                    policy = actor(torch.as_tensor(state, dtype=torch.float32))
                action = get_action(policy, ou_noise) if ou_noise else policy.numpy()

                state, reward, terminated, truncated, _ = env.step(np.clip(action, low, high))
                done = terminated or truncated
                score += reward
                if video:
                    video.frame()

            scores.append(score)
            print('{} episode | score: {:.2f}'.format(episode, score), flush=True)
    except KeyboardInterrupt:
        print('interrupted')
    finally:
        env.close()
        # a stopped recording keeps its .part name: it never replaces a finished one
        kept = video.close(len(scores) == args.episodes) if video else None

    if scores:
        print('score: {:.2f} ± {:.2f} over {} episodes{}'.format(
            np.mean(scores), np.std(scores), len(scores), beside_the_optimum(env, args, scores)))
    if record:
        print('video: {}'.format(kept) if kept == record else
              'video: the {} episode(s) recorded are kept as {}'.format(len(scores), kept))
    if len(scores) < args.episodes:
        sys.exit(130)
    return scores


def beside_the_optimum(env, args, scores):
    """On Pendulum-v1, what the best possible scores on the same starts (not in the deck):
    the optimum's greedy policy for the deck's discount, run from the same reset seeds."""
    if env.spec.id != 'Pendulum-v1':
        return ''
    best = optimum_scores(optimum(0.99), [args.seed + i for i in range(len(scores))])
    return '; the optimum for gamma 0.99 scores {:.2f} on these starts'.format(np.mean(best))


if __name__ == '__main__':
    main()
