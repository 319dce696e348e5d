"""What DDPG has learned, drawn over Pendulum's state plane (not in the deck), beside
the truth (ddpg_extras/run/optimum.py), the angle across in degrees (upright in the
middle) and the speed up in rad/s:

- truth/actor: the actor's torque mu(s) (the one the environment gets: clipped to its
  bounds) beside the optimal mu*(s);
- truth/critic: the critic's Q(s, mu(s)) beside what it learns, the value of its own
  actor V^mu(s) (policy evaluation on the environment's dynamics), and beside the
  optimal V*(s), on one colour scale;
- truth/regret: V*(s) - V^mu(s), the return the actor loses from each state.

And as numbers, in the same units: truth/critic_bias, the mean of Q - V^mu over the
grid (above 0 the critic overestimates its actor's value), truth/critic_error, the mean
|Q - V^mu|, truth/regret, the mean of V* - V^mu over Pendulum-v1's starts (angle in
[-pi, pi], speed in [-1, 1]), and truth/actor_gap, the mean |mu - mu*| in N m.

Drawn with a colour map on an array and Pillow's own font, not a Matplotlib figure:
an image costs milliseconds, so the default run pays for its landscapes a few percent
of its time at most (python benchmarks/bench.py landscape)."""
import numpy as np
import torch
from PIL import Image, ImageDraw

from ddpg_extras.run.optimum import (
    MAX_GAMMA,
    MAX_SPEED,
    MAX_TORQUE,
    axes,
    corners,
    optimum,
    value_of,
)

SCALE = 2  # screen pixels per grid point
# Colour maps as anchors to interpolate between: cool-warm (Moreland) for torques, which
# have a sign, and viridis's for values
TORQUE_COLOURS = np.array([[59, 76, 192], [221, 221, 221], [180, 4, 38]], dtype=float)
VALUE_COLOURS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98],
                          [253, 231, 37]], dtype=float)
# magma's, reversed: no regret is pale, much is dark
REGRET_COLOURS = np.array([[252, 253, 191], [252, 137, 97], [183, 55, 121], [81, 18, 124],
                           [0, 0, 4]], dtype=float)


DEFAULT_INTERVAL = 20  # episodes between two pictures, on Pendulum
GRID = (100, 101)  # the pictures' angles (upright one of them) x speeds
# Pendulum-v1's starts, angle in [-pi, pi] and speed in [-1, 1], as the midpoints of
# 200 x 20 equal cells: truth/regret is the mean over them
STARTS = tuple(a.ravel() for a in np.meshgrid(
    np.linspace(-np.pi, np.pi, 201)[:-1] + np.pi / 200, np.linspace(-1, 1, 21)[:-1] + 0.05,
    indexing='ij'))
REGRET_SCALE = 50  # the regret picture's scale, in return: more is drawn as 50
# The run's result and a study's table: how far the last landscape's networks are
# from the truth (ddpg_extras/study/trials.py)
MEASURES = ('actor_gap', 'critic_bias', 'critic_error', 'regret')


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
                    'Pendulum) measure the networks against discounted values that take '
                    '1 / (1 - gamma) steps to compute: seconds up to --gamma {:g}, for ever '
                    'at 1; give --landscape_interval 0 to train without them, or a --gamma of '
                    'at most {:g}'.format(args.gamma, MAX_GAMMA, MAX_GAMMA))


class Landscape:
    """The pictures' grid of states, the optimum for the run's discount on it, and the
    pictures' frames (axes, titles, the optimum's panels, colour bars), made once a run;
    the actor's value at the last picture (value_of starts from it at the next)."""

    def __init__(self, gamma, interval=DEFAULT_INTERVAL):
        self.interval, self.measured, self.gamma, self.v_mu = interval, None, gamma, None
        self.optimum = o = optimum(gamma)
        self.angles, self.speeds, _ = axes(GRID + (0,))
        angle, speed = np.meshgrid(self.angles, self.speeds, indexing='ij')
        self.states = torch.as_tensor(np.stack([np.cos(angle), np.sin(angle), speed], -1)
                                      .reshape(-1, 3), dtype=torch.float32)
        # (the grid's points are the optimum's grid's too: its own torques and values)
        self.best, self.v_star = o.at(o.policy, angle, speed), o.at(o.value, angle, speed)
        self.v_star_starts = o.at(o.value, *STARTS)
        self.starts = corners(*GRID, *STARTS)  # where V^mu is read at the starts
        values = (self.v_star.min(), self.v_star.max())
        self.kinds = {  # (the colour scale, the colours, the panels' titles, the optimum's)
            'actor': ((-MAX_TORQUE, MAX_TORQUE), TORQUE_COLOURS,
                      ('actor mu(s)', 'optimum mu*(s)'), [self.best], 'N m'),
            'critic': (values, VALUE_COLOURS, ('critic Q(s, mu(s))', "its actor's value "
                       'V^mu(s)', 'optimum V*(s)'), [self.v_star], 'return'),
            'regret': ((0, REGRET_SCALE), REGRET_COLOURS, ('regret V*(s) - V^mu(s)',), [],
                       'return')}
        self.frames = {kind: frame(*spec) for kind, spec in self.kinds.items()}

    def picture(self, kind, *learned):
        """The frame of kind ('actor', 'critic' or 'regret') with the learned panels in
        it, from the left."""
        image = self.frames[kind].copy()
        for k, grid in enumerate(learned):
            panel = colour(grid, *self.kinds[kind][:2])
            x = LEFT + k * (panel.shape[1] + GAP)
            image[TOP:TOP + panel.shape[0], x:x + panel.shape[1]] = panel
        return image

    def learned(self, actor, critic=None):
        """(mu(s), Q(s, mu(s)) or None) on the grid, as arrays (angles, speeds); mu is
        the torque the environment gets (clipped). Changes nothing of the networks."""
        device = next(actor.parameters()).device
        with torch.inference_mode():
            states = self.states.to(device)
            policy = actor(states)
            value = critic(states, policy).squeeze(1).cpu().numpy() if critic else None
        mu = np.clip(policy.squeeze(1).cpu().numpy(), -MAX_TORQUE, MAX_TORQUE).reshape(GRID)
        return mu.astype(float), None if value is None else value.reshape(GRID).astype(float)

    def value(self, actor):
        """V^mu on the grid: the actor's discounted return from each state (value_of),
        the actor run at every step of the way, from the last picture's V^mu as a first
        guess. (Reading its torques between grid points instead would take a third of
        the time, but moves some actors' regret by a third: docs/landscapes.md.)"""
        device = next(actor.parameters()).device

        def policy(angle, speed):
            observations = np.stack([np.cos(angle), np.sin(angle), speed], -1)
            with torch.inference_mode():
                torques = actor(torch.as_tensor(observations, dtype=torch.float32,
                                                device=device))
            return torques.squeeze(-1).cpu().numpy().astype(float)
        self.v_mu = value_of(policy, self.gamma, self.angles, self.speeds, self.v_mu)
        return self.v_mu

    def measures(self, mu, q, v_mu):
        """The numbers of MEASURES (critic_bias and critic_error None without a critic)."""
        weights, index = self.starts
        regret = self.v_star_starts - (weights * v_mu.ravel()[index]).sum(0)
        return {'actor_gap': float(np.abs(mu - self.best).mean()),
                'critic_bias': None if q is None else float((q - v_mu).mean()),
                'critic_error': None if q is None else float(np.abs(q - v_mu).mean()),
                'regret': float(regret.mean())}

    def log(self, writer, episode, actor, critic):
        """The three pictures and the numbers, in TensorBoard's truth/ group (it sorts
        after log/, so the deck's curve stays first), kept as measured."""
        mu, q = self.learned(actor, critic)
        v_mu = self.value(actor)
        writer.add_image('truth/actor', self.picture('actor', mu), episode)
        writer.add_image('truth/critic', self.picture('critic', q, v_mu), episode)
        writer.add_image('truth/regret', self.picture('regret', self.v_star - v_mu), episode)
        measures = self.measures(mu, q, v_mu)
        for name, number in measures.items():
            writer.add_scalar('truth/' + name, number, episode)
        self.measured, self.logged = measures, episode


def rgb(values, scale, colours):
    """Values as RGB colours (..., 3) of the map, from a table of 256 of its colours;
    those outside the scale at its ends, nan at the low end."""
    low, high = scale
    x = np.nan_to_num(np.clip((values - low) / max(high - low, 1e-12), 0, 1))
    return table(colours)[(x * 255 + 0.5).astype(np.uint8)]


def table(colours, size=256):
    """The map's colours at size points from its low end to its high, as uint8 RGB."""
    x = np.linspace(0, len(colours) - 1, size)
    i = np.minimum(x.astype(int), len(colours) - 2)
    return (colours[i] + (colours[i + 1] - colours[i]) * (x - i)[:, None]).astype(np.uint8)


def colour(grid, scale, colours):
    """A grid [angle, speed] as a picture: the angle across, the speed up."""
    picture = rgb(grid, scale, colours).transpose(1, 0, 2)[::-1]  # fastest on top
    return picture.repeat(SCALE, 0).repeat(SCALE, 1)


LEFT, TOP, GAP, BAR = 34, 26, 26, 12  # the frame's margins, in pixels


def frame(scale, colours, titles, drawn, what):
    """Panels on one colour scale, one per title, the last len(drawn) of them drawn
    (the optimum's) and the others left blank for the learned ones, with axes, titles
    and a colour bar: an RGB array (height, width, 3)."""
    h, w = GRID[1] * SCALE, GRID[0] * SCALE
    n = len(titles)
    image = Image.new('RGB', (LEFT + n * w + (n - 1) * GAP + 2 * BAR + 46, TOP + h + 30),
                      'white')
    draw = ImageDraw.Draw(image)
    draw.text((2, 2), 'rad/s', fill='black')  # the speed, up the left side
    for speed in (-MAX_SPEED, 0, MAX_SPEED):
        y = TOP + (MAX_SPEED - speed) / (2 * MAX_SPEED) * (h - 1)
        draw.line([(LEFT - 3, y), (LEFT, y)], fill='black')
        draw.text((LEFT - 8 - 6 * len('{:g}'.format(speed)), y - 5), '{:g}'.format(speed),
                  fill='black')
    for k, text in enumerate(titles):
        x0 = LEFT + k * (w + GAP)
        draw.text((x0, TOP - 12), text, fill='black')
        for degrees in (-180, -90, 0, 90, 180):  # the angle across, upright in the middle
            x = x0 + (degrees + 180) / 360 * (w - 1)
            draw.line([(x, TOP + h), (x, TOP + h + 3)], fill='black')
            draw.text((x - 3 * len(str(degrees)), TOP + h + 5), str(degrees), fill='black')
        draw.text((x0 + w // 2 - 33, TOP + h + 17), 'angle (degrees)', fill='black')
    for k, grid in enumerate(drawn, n - len(drawn)):
        image.paste(Image.fromarray(colour(grid, scale, colours)), (LEFT + k * (w + GAP), TOP))
    x0 = LEFT + n * w + (n - 1) * GAP + BAR  # the colour bar, high on top
    ramp = rgb(np.linspace(scale[1], scale[0], h), scale, colours)
    image.paste(Image.fromarray(np.ascontiguousarray(ramp[:, None].repeat(BAR, 1))), (x0, TOP))
    for y, end, more in ((TOP, scale[1], colours is REGRET_COLOURS), (TOP + h - 10, scale[0],
                                                                       False)):
        draw.text((x0 + BAR + 3, y), '{:.3g}{}'.format(  # (V*'s top: -4e-13, written 0)
            round(float(end), 1) + 0.0, '+' if more else ''), fill='black')  # (50+: saturated)
    draw.text((x0 - 4, TOP - 12), what, fill='black')
    return np.array(image)
