"""A study's runs measured against the truth at a common budget (not in the deck): the
landscapes' numbers (ddpg_extras/run/landscape.py: critic_bias, critic_error, regret,
actor_gap) of every run at one episode, the last one that every run with landscapes
logged. Each run logs them every --landscape_interval episodes and at its end, and runs
that stop at their goal end at different episodes: their final numbers would compare
runs after different amounts of training."""
import os

from ddpg_extras.run.landscape import MEASURES
from ddpg_extras.run.writer import scalars

TAGS = tuple('truth/' + name for name in MEASURES)


def at_common_episode(out, rows):
    """(the episode or None, rows with each landscape number replaced by the run's at
    that episode): the last episode whose numbers every run with landscapes logged. A
    run without them (another environment, the deck's loop, a log gone) keeps none."""
    logged = {}
    for k, row in enumerate(rows):
        if row.get('run_dir') and any(row.get(name) is not None for name in MEASURES):
            run = scalars(os.path.join(out, row['run_dir']), TAGS)
            if set(TAGS) <= set(run):
                logged[k] = {tag: dict(zip(*run[tag])) for tag in TAGS}
    episodes = set.intersection(*(set(run[TAGS[0]]) for run in logged.values())) if (
        logged) else set()
    episode = max(episodes) if episodes else None
    common = [dict(row, **{name: logged[k]['truth/' + name][episode] if (
        k in logged and episode is not None) else None for name in MEASURES})
        for k, row in enumerate(rows)]
    return episode, common
