"""Watch a trained actor: the deck's test.py on today's stack.

    python test.py                                   # save_model/model.pth, rendered
    python test.py --load_model model.pth --no_render --episodes 100
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

from model import Actor
from utils import (OUNoise, actor_bounds, actor_sizes, check_writable, fail, finite_float,
                   get_action, has_display, load_actor_weights, make_env, model_path,
                   noise_scale, non_negative_float, positive_int)

parser = argparse.ArgumentParser(
    description='Run a saved DDPG actor and show it '
                '(a window, or a video where there is no display).',
    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
parser.add_argument('--env_name', type=str, default=None,
                    help="environment; by default the one in the model's .json, else Pendulum-v1")
parser.add_argument('--load_model', type=str, default='model.pth',
                    help='actor file (or a checkpoint of train.py); a bare file name is '
                         'looked up in save_model/, as the deck did')
parser.add_argument('--episodes', type=positive_int, default=10, help='episodes to run')
parser.add_argument('--seed', type=int, default=0, help="seeds the environment's start states")
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
                         'or .gif for an animation that plays in a README (the default '
                         'where there is no display: videos/<model>_<time>.mp4)')


def main(argv=None):
    args = parser.parse_args(argv)
    if args.record and not args.record.endswith(('.mp4', '.gif')):
        parser.error('--record needs a file name ending in .mp4 or .gif')

    path = model_path(args.load_model, 'save_model')
    weights, info = load_actor_weights(path)

    # The deck's test.py always rendered, with no way to turn it off (--render was
    # store_true with default True); here --no_render turns it off, and where no
    # display exists the episodes go to a video file instead of failing.
    record = None
    if not args.no_render and (args.record or not has_display()):
        stem = os.path.splitext(os.path.basename(path))[0]
        record = args.record or os.path.join(
            'videos', '{}_{}.mp4'.format(stem, time.strftime('%Y%m%d-%H%M%S')))
        os.environ.setdefault('SDL_VIDEODRIVER', 'offscreen')  # pygame draws off screen
        os.environ.setdefault('SDL_AUDIODRIVER', 'dummy')
        os.environ.setdefault('MUJOCO_GL', 'egl')  # MuJoCo draws off screen through EGL
    render_mode = None if args.no_render else ('rgb_array' if record else 'human')

    env = make_env(args.env_name or info.get('env_name', 'Pendulum-v1'), render_mode)
    env_name = env.spec.id
    if info.get('env_name') and info['env_name'] != env_name:
        fail('{} was trained on {}, not {}; drop --env_name or pass --env_name {}'.format(
            path, info['env_name'], env_name, info['env_name']))
    state_size, action_size, hidden_size = actor_sizes(weights)
    if (state_size, action_size) != (env.observation_space.shape[0], env.action_space.shape[0]):
        fail('{} is an actor for {} observations and {} actions, but {} has {} and {}; '
             'pass the --env_name it was trained on'.format(
                 path, state_size, action_size, env_name,
                 env.observation_space.shape[0], env.action_space.shape[0]))
    if args.hidden_size is not None and args.hidden_size != hidden_size:
        fail('{} has hidden size {}, not {}; drop --hidden_size (it is read from the weights)'
             .format(path, hidden_size, args.hidden_size))

    actor = Actor(state_size, action_size, hidden_size, actor_bounds(weights))
    actor.load_state_dict(weights)
    np.random.seed(args.seed)
    scale = noise_scale(env.action_space)  # as train.py: the noise fits each action's range
    ou_noise = (OUNoise(action_size, args.theta, args.mu * scale, args.sigma * scale)
                if args.noise else None)
    low, high = env.action_space.low, env.action_space.high
    print('testing {} on {}, {} episodes{}'.format(
        path, env_name, args.episodes, ' with OU noise' if args.noise else ''))

    video = None
    if record:
        import imageio.v2 as imageio  # only needed for videos
        check_writable(os.path.dirname(record) or '.', '--record')
        stem, ext = os.path.splitext(record)
        partial = stem + '.part' + ext  # renamed when complete
        fps = env.metadata.get('render_fps', 30)
        if ext == '.gif':  # Pillow's GIF writer: frame time in ms, loop forever
            video = imageio.get_writer(partial, duration=1000 / fps, loop=0)
        else:
            video = imageio.get_writer(partial, fps=fps, macro_block_size=2)

    scores = []
    try:
        for episode in range(args.episodes):
            state, _ = env.reset(seed=args.seed if episode == 0 else None)
            if ou_noise:
                ou_noise.reset()
            if video:
                video.append_data(env.render())
            score, done = 0.0, False
            while not done:
                with torch.no_grad():
                    policy = actor(torch.as_tensor(state, dtype=torch.float32))
                action = get_action(policy, ou_noise) if ou_noise else policy.numpy()
                state, reward, terminated, truncated, _ = env.step(np.clip(action, low, high))
                done = terminated or truncated
                score += reward
                if video:
                    video.append_data(env.render())
            scores.append(score)
            print('{} episode | score: {:.2f}'.format(episode, score), flush=True)
    except KeyboardInterrupt:
        print('interrupted')
    finally:
        env.close()
        if video:
            video.close()
            os.replace(partial, record)

    if scores:
        print('score: {:.2f} ± {:.2f} over {} episodes'.format(
            np.mean(scores), np.std(scores), len(scores)))
    if record:
        print('video: {}'.format(record))
    if len(scores) < args.episodes:
        sys.exit(130)
    return scores


if __name__ == '__main__':
    main()
