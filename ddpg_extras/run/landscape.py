"""What DDPG has learned, drawn over Pendulum's state plane (not in the deck): the
actor's torque mu(s) beside the optimal mu*(s), and the critic's Q(s, mu(s)) beside
the optimal V*(s) (ddpg_extras/run/optimum.py), each pair on one colour scale, the
angle across in degrees (upright in the middle) and the speed up in rad/s; and how far
each still is from the truth, as one number each: the mean over the grid of |mu - mu*|
(the torque the environment gets: clipped to its bounds) and of |Q - V*|.

Drawn with a colour map on an array and Pillow's own font, not a Matplotlib figure:
an image costs milliseconds, so the default run pays for its pictures well under 2%
of its time (python benchmarks/bench.py landscape)."""
import numpy as np
import torch
from PIL import Image, ImageDraw

from ddpg_extras.run.optimum import MAX_GAMMA, MAX_SPEED, MAX_TORQUE, optimum

SCALE = 2  # screen pixels per grid point
# Colour maps as anchors to interpolate between: cool-warm (Moreland) for torques, which
# have a sign, and viridis's for values
TORQUE_COLOURS = np.array([[59, 76, 192], [221, 221, 221], [180, 4, 38]], dtype=float)
VALUE_COLOURS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98],
                          [253, 231, 37]], dtype=float)


DEFAULT_INTERVAL = 20  # episodes between two pictures, on Pendulum


def landscape_for(args, env_name, in_cohort=False):
    """The run's Landscape, or None: every interval() episodes."""
    every = interval(args, env_name, in_cohort)
    return Landscape(args.gamma, every) if every and env_name == 'Pendulum-v1' else None


def interval(args, env_name, in_cohort=False):
    """Episodes between a run's pictures: --landscape_interval, else DEFAULT_INTERVAL on
    Pendulum and 0 elsewhere (check_landscapes refuses one given there). A seed of
    train_seeds.py draws only when asked (default 0): 16 seeds' pictures would cost the
    batch several times what one run's cost it."""
    given = getattr(args, 'landscape_interval', None)  # (a checkpoint from before it)
    if given is not None:
        return given
    return 0 if in_cohort or not is_pendulum(env_name) else DEFAULT_INTERVAL


def is_pendulum(env_name):
    return env_name.split(':')[-1] in ('Pendulum-v1', 'Pendulum-v0')


def check_landscapes(args, usage_error, in_cohort=False):
    """One usage line for landscapes that cannot be drawn: asked for off Pendulum, or for
    a discount whose optimum value iteration does not solve (train.py draws them on
    Pendulum by default)."""
    given = getattr(args, 'landscape_interval', None)
    if given and not is_pendulum(args.env_name):
        usage_error('--landscape_interval {}: the landscapes are drawn for Pendulum alone, '
                    'whose state is a plane; {} has no picture to draw: drop it'.format(
                        given, args.env_name))
    if interval(args, args.env_name, in_cohort) and args.gamma > MAX_GAMMA:
        usage_error('--gamma {:g}: the landscapes (--landscape_interval, on by default on '
                    'Pendulum) measure the critic against the optimum\'s discounted value, '
                    'which value iteration solves in seconds up to --gamma {:g}, and never at '
                    '1; give --landscape_interval 0 to train without them, or a --gamma of at '
                    'most {:g}'.format(args.gamma, MAX_GAMMA, MAX_GAMMA))


class Landscape:
    """The grid of states, the optimum for the run's discount, and the pictures' frames
    (axes, titles, the optimum's panel, the colour bar), made once a run."""

    def __init__(self, gamma, interval=DEFAULT_INTERVAL):
        self.interval, self.gaps_now = interval, None  # the last gaps logged
        self.optimum = o = optimum(gamma)
        angle, speed = np.meshgrid(o.angles, o.speeds, indexing='ij')
        self.states = torch.as_tensor(np.stack([np.cos(angle), np.sin(angle), speed], -1)
                                      .reshape(-1, 3), dtype=torch.float32)
        self.kinds = {  # (the colour scale, the colours, the frame) of each picture
            'actor': ((-MAX_TORQUE, MAX_TORQUE), TORQUE_COLOURS),
            'critic': ((o.value.min(), o.value.max()), VALUE_COLOURS)}
        self.frames = {kind: frame(best, *self.kinds[kind], *titles) for kind, best, titles in (
            ('actor', o.policy, ('actor mu(s)', 'optimum mu*(s)', 'torque')),
            ('critic', o.value, ('critic Q(s, mu(s))', 'optimum V*(s)', 'value')))}

    def picture(self, kind, learned):
        """The frame of kind ('actor' or 'critic') with the learned panel in it."""
        image = self.frames[kind].copy()
        panel = colour(learned, *self.kinds[kind])
        image[TOP:TOP + panel.shape[0], LEFT:LEFT + panel.shape[1]] = panel
        return image

    def learned(self, actor, critic=None):
        """(mu(s), Q(s, mu(s)) or None) on the grid, as arrays like the optimum's; mu is
        the torque the environment gets (clipped). Changes nothing of the networks."""
        device = next(actor.parameters()).device
        with torch.inference_mode():
            states = self.states.to(device)
            policy = actor(states)
            value = critic(states, policy).squeeze(1).cpu().numpy() if critic else None
        shape = self.optimum.value.shape
        mu = np.clip(policy.squeeze(1).cpu().numpy(), -MAX_TORQUE, MAX_TORQUE).reshape(shape)
        return mu, None if value is None else value.reshape(shape)

    def gaps(self, mu, q):
        """{'actor_gap': mean |mu - mu*|, 'critic_gap': mean |Q - V*|} over the grid."""
        return {'actor_gap': float(np.abs(mu - self.optimum.policy).mean()),
                'critic_gap': float(np.abs(q - self.optimum.value).mean())}

    def log(self, writer, episode, actor, critic):
        """The two pictures and the two gaps, in TensorBoard's truth/ group (it sorts
        after log/, so the deck's curve stays first), kept as gaps_now."""
        mu, q = self.learned(actor, critic)
        writer.add_image('truth/actor', self.picture('actor', mu), episode)
        writer.add_image('truth/critic', self.picture('critic', q), episode)
        gaps = self.gaps(mu, q)
        for name, gap in gaps.items():
            writer.add_scalar('truth/' + name, gap, episode)
        self.gaps_now, self.logged = gaps, episode


def rgb(values, scale, colours):
    """Values as RGB colours (..., 3) of the map; those outside the scale at its ends."""
    low, high = scale
    x = np.clip((values - low) / max(high - low, 1e-12), 0, 1) * (len(colours) - 1)
    i = np.minimum(x.astype(int), len(colours) - 2)
    return (colours[i] + (colours[i + 1] - colours[i]) * (x - i)[..., None]).astype(np.uint8)


def colour(grid, scale, colours):
    """A grid [angle, speed] as a picture: the angle across, the speed up."""
    picture = rgb(grid, scale, colours).transpose(1, 0, 2)[::-1]  # fastest on top
    return picture.repeat(SCALE, 0).repeat(SCALE, 1)


LEFT, TOP, GAP, BAR = 34, 26, 26, 12  # the frame's margins, in pixels


def frame(best, scale, colours, title, best_title, what):
    """Two panels on one colour scale, the optimum's drawn and the learned one's left
    blank, with axes, titles and a colour bar: an RGB array (height, width, 3)."""
    panel = colour(best, scale, colours)
    h, w = panel.shape[:2]
    image = Image.new('RGB', (LEFT + 2 * w + GAP + 2 * BAR + 46, TOP + h + 30), 'white')
    draw = ImageDraw.Draw(image)
    draw.text((2, 2), 'rad/s', fill='black')  # the speed, up the left side
    for speed in (-MAX_SPEED, 0, MAX_SPEED):
        y = TOP + (MAX_SPEED - speed) / (2 * MAX_SPEED) * (h - 1)
        draw.line([(LEFT - 3, y), (LEFT, y)], fill='black')
        draw.text((LEFT - 8 - 6 * len('{:g}'.format(speed)), y - 5), '{:g}'.format(speed),
                  fill='black')
    for k, text in enumerate((title, best_title)):
        x0 = LEFT + k * (w + GAP)
        draw.text((x0, TOP - 12), text, fill='black')
        for degrees in (-180, -90, 0, 90, 180):  # the angle across, upright in the middle
            x = x0 + (degrees + 180) / 360 * (w - 1)
            draw.line([(x, TOP + h), (x, TOP + h + 3)], fill='black')
            draw.text((x - 3 * len(str(degrees)), TOP + h + 5), str(degrees), fill='black')
        draw.text((x0 + w // 2 - 33, TOP + h + 17), 'angle (degrees)', fill='black')
    image.paste(Image.fromarray(panel), (LEFT + w + GAP, TOP))
    x0 = LEFT + 2 * w + GAP + BAR  # the colour bar, high on top
    ramp = rgb(np.linspace(scale[1], scale[0], h), scale, colours)
    image.paste(Image.fromarray(np.ascontiguousarray(ramp[:, None].repeat(BAR, 1))), (x0, TOP))
    draw.text((x0 + BAR + 3, TOP), '{:.3g}'.format(scale[1]), fill='black')
    draw.text((x0 + BAR + 3, TOP + h - 10), '{:.3g}'.format(scale[0]), fill='black')
    draw.text((x0 - 4, TOP - 12), what, fill='black')
    return np.array(image)
