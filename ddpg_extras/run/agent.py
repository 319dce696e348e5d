"""One seed's learner: the deck's four networks and two optimizers, named as the
deck names them (and as a checkpoint stores them)."""
from typing import NamedTuple

import torch


class Agent(NamedTuple):
    actor: torch.nn.Module
    critic: torch.nn.Module
    target_actor: torch.nn.Module
    target_critic: torch.nn.Module
    actor_optimizer: torch.optim.Optimizer
    critic_optimizer: torch.optim.Optimizer

    def networks(self):
        """{name: network} of the four networks, the checkpoint's keys."""
        return {name: getattr(self, name) for name in NETWORKS}

    def optimizers(self):
        return {name: getattr(self, name) for name in OPTIMIZERS}


NETWORKS = ('actor', 'critic', 'target_actor', 'target_critic')
OPTIMIZERS = ('actor_optimizer', 'critic_optimizer')
