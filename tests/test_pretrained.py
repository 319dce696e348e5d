"""The pretrained actor shipped in save_model/: the deck's format, and its score."""
import json
import os
import re

import torch

from conftest import ROOT, run_script
from model import Actor

PRETRAINED = os.path.join(ROOT, 'save_model', 'pretrained.pth')


def test_the_pretrained_actor_is_in_the_decks_format():
    actor = Actor(3, 1, 64)
    actor.load_state_dict(torch.load(PRETRAINED, weights_only=True))  # strict, as the deck
    info = json.load(open(PRETRAINED + '.json'))
    # made by `python train.py`, the README's first command (README, "A pretrained actor")
    assert (info['env_name'], info['seed'], info['goal_score'], info['reached_goal']) == (
        'Pendulum-v1', 500, -300, True)


def test_the_pretrained_actor_scores_at_least_minus_170_without_noise():
    # The best possible is about -138; Stable-Baselines3's tuned DDPG reaches -152.
    result = run_script('test.py', '--load_model', PRETRAINED, '--no_render',
                        '--episodes', 100)
    assert result.returncode == 0, result.stderr
    mean = float(re.search(r'^score: (-?[\d.]+) ± [\d.]+ over 100 episodes$', result.stdout,
                           re.M).group(1))
    assert mean >= -170
