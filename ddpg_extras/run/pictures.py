"""plot.py --landscape (not in the deck): what a saved model has learned over Pendulum's
state plane, beside the optimum (ddpg_extras/run/landscape.py), as a PNG:

- a model file: the actor's torque mu(s), the optimal mu*(s) and the regret
  V*(s) - V^mu(s); a checkpoint, the critic's row too: Q(s, mu(s)), the actor's value
  V^mu(s) (what the critic learns) and the optimal V*(s). The paths of a few noiseless
  episodes are drawn over the policies: a good actor's spiral in to the upright state,
  at the middle;
- a run folder: the pictures its training logged to TensorBoard (truth/actor,
  truth/critic) at a few episodes, from the first to the last, one row each."""
import os

import numpy as np
import torch

from ddpg_extras.run.checks import fail
from ddpg_extras.run.environments import make_env
from ddpg_extras.run.evaluation import evaluate
from ddpg_extras.run.files import actor_bounds, actor_sizes, is_checkpoint, load_actor_weights
from ddpg_extras.run.landscape import REGRET_SCALE, Landscape
from ddpg_extras.run.optimum import MAX_GAMMA, MAX_SPEED, MAX_TORQUE
from model import Actor, Critic

PATHS = 3  # noiseless episodes drawn over the policies, from reset seeds 0, 1, 2 (test.py's)


def networks(path, state):
    """(actor, critic or None, gamma) of a model file as load_model_file loaded it, or
    one line where it is not a model of Pendulum."""
    weights, info = load_actor_weights(path, state)
    name = info.get('env_name') or 'Pendulum-v1'
    if name != 'Pendulum-v1' or actor_sizes(weights)[:2] != (3, 1):
        fail('{} is a model of {}, with {} observations and {} actions; the landscapes are '
             "drawn for Pendulum-v1 alone, whose state is a plane".format(
                 path, name, *actor_sizes(weights)[:2]))
    actor = Actor(*actor_sizes(weights), actor_bounds(weights))
    actor.load_state_dict(weights)
    if not is_checkpoint(state):  # an actor file: the deck's discount
        return actor, None, 0.99
    critic = Critic(3, 1, actor_sizes(weights)[2])
    try:
        critic.load_state_dict(state['critic'])
    except (KeyError, RuntimeError, TypeError) as e:
        fail('{} holds no critic that fits its actor ({}); it is damaged'.format(
            path, str(e).split('\n')[0]))
    gamma = state['args'].get('gamma')
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0 <= gamma <= 1:
        fail('{} holds a --gamma of {!r}, not a discount in [0, 1]; it is damaged'.format(
            path, gamma))
    if gamma > MAX_GAMMA:  # its optimum cannot be solved: at 1 value iteration never settles
        fail('{} was trained with --gamma {:g}; its landscapes are drawn beside the optimum '
             'for that discount, which is solved for a --gamma of at most {:g}; plot.py '
             'draws its curves without --landscape'.format(path, gamma, MAX_GAMMA))
    return actor, critic, float(gamma)


PATH_COLOURS = ('black', 'lime', 'cyan')  # one per episode drawn, over red and blue


def model_figure(path, state):
    """The figure of a model file: its panels beside the truth's, with paths."""
    import matplotlib.pyplot as plt
    actor, critic, gamma = networks(path, state)
    landscape = Landscape(gamma)
    mu, q = landscape.learned(actor, critic)
    v_mu = landscape.value(actor)
    measures = landscape.measures(mu, q, v_mu)
    torque = ('torque (N m)', 'coolwarm', (-MAX_TORQUE, MAX_TORQUE))
    value = ('return', 'viridis', (landscape.v_star.min(), landscape.v_star.max()))
    panels = [(mu, 'actor mu(s)', *torque), (landscape.best, 'optimum mu*(s)', *torque),
              (landscape.v_star - v_mu, "regret V*(s) - V^mu(s): the return it loses",
               'return', 'magma_r', (0, REGRET_SCALE))]
    if critic is not None:  # one scale for the three values
        panels += [(q, 'critic Q(s, mu(s))', *value),
                   (v_mu, "its target: the actor's value V^mu(s)", *value),
                   (landscape.v_star, 'optimum V*(s), gamma {:g}'.format(gamma), *value)]
    paths = []
    env = make_env('Pendulum-v1')
    score = evaluate(actor, env, PATHS, 0, paths)
    env.close()
    rows = len(panels) // 3
    figure, axes = plt.subplots(rows, 3, figsize=(15, 1.0 + 3.6 * rows), squeeze=False,
                                layout='constrained')
    for ax, (grid, title, what, colours, (low, high)) in zip(axes.ravel(), panels):
        shown = ax.imshow(grid.T, origin='lower', aspect='auto', cmap=colours, vmin=low,
                          vmax=high, extent=(-180, 180, -MAX_SPEED, MAX_SPEED))
        figure.colorbar(shown, ax=ax, label=what)
        ax.set_title(title, fontsize='medium')
        ax.set_xlabel('angle (degrees; upright at 0)')
        ax.set_ylabel('speed (rad/s)')
    for ax in axes[0, :2]:  # the episodes, over both policies
        for k, states in enumerate(paths):
            draw_path(ax, states, PATH_COLOURS[k], 'the episode from reset seed {} (its start: '
                      'the dot)'.format(k) if ax is axes[0, 0] else None)
    figure.suptitle(headline(path, measures, score), fontsize='medium')
    figure.legend(loc='outside lower center', ncols=PATHS, fontsize='small', frameon=False)
    return figure


def headline(path, measures, score):
    """The figure's title: the file, its numbers against the truth, and its score."""
    critic = '' if measures['critic_bias'] is None else (
        "; the critic's bias, mean Q - V^mu: {:+.1f}, its error, mean |Q - V^mu|: {:.1f}"
        .format(measures['critic_bias'], measures['critic_error']))
    return ('{}\nregret, mean V* - V^mu over Pendulum\'s starts: {:.2f} (return); mean '
            '|mu - mu*|: {:.2f} N m{}\n{} noiseless episodes score {:.1f}'.format(
                os.path.basename(path), measures['regret'], measures['actor_gap'], critic,
                PATHS, score))


def draw_path(ax, states, colour, label):
    """An episode's states as a line over a panel, broken where the angle wraps, and a
    dot at its start."""
    angle = np.degrees(np.arctan2(states[:, 1], states[:, 0]))
    wraps = np.flatnonzero(np.abs(np.diff(angle)) > 180) + 1
    for i, (a, s) in enumerate(zip(np.split(angle, wraps), np.split(states[:, 2], wraps))):
        ax.plot(a, s, color=colour, linewidth=1.1, label=label if i == 0 else None)
    ax.plot(angle[0], states[0, 2], 'o', color=colour, markeredgecolor='black', markersize=6)


def run_figure(run_dir, rows=4):
    """The landscapes a run logged, at `rows` of its logged episodes, first to last: the
    actor's, the critic's and the regret's pictures side by side (a run from before the
    regret has none)."""
    import matplotlib.pyplot as plt
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(run_dir, size_guidance={'images': 0})
    events.Reload()
    tags = events.Tags()['images']
    if not {'truth/actor', 'truth/critic'} <= set(tags):
        fail('{} holds no landscapes: train on Pendulum with --landscape_interval K (20 by '
             'default) to log them'.format(run_dir))
    series = [events.Images(tag) for tag in ('truth/actor', 'truth/critic', 'truth/regret')
              if tag in tags]
    first = series[0]
    chosen = sorted({round(i) for i in np.linspace(0, len(first) - 1, min(rows, len(first)))})
    widths = [images[0].width for images in series]  # at 100 pixels an inch, as drawn
    figure, axes = plt.subplots(len(chosen), len(series), squeeze=False, figsize=(
        sum(widths) / 100 + 0.3, len(chosen) * first[0].height / 100 * 1.3 + 0.2),
        gridspec_kw={'width_ratios': widths})
    for row, i in zip(axes, chosen):
        for ax, images in zip(row, series):
            ax.imshow(decode(images[i].encoded_image_string))
            ax.set_axis_off()
        row[0].set_title('episode {}'.format(first[i].step), loc='left', fontsize='medium')
    figure.subplots_adjust(left=0.005, right=0.995, top=0.97, bottom=0.005, wspace=0.03,
                           hspace=0.25)
    return figure


def decode(png):
    import io

    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert('RGB'))


def landscape_figure(path):
    """plot.py --landscape: a model file's figure, or a run folder's."""
    from ddpg_extras.run.files import load_model_file
    if os.path.isdir(path):
        return run_figure(path)
    with torch.inference_mode():
        return model_figure(path, load_model_file(path))
