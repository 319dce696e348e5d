"""The instruments (not in the deck): the train/ and policy/ tags that show a collapse
coming (docs/results.md, "When learning fails")."""
import math

import numpy as np
import torch

from utils import layer_parameters


def diagnose(actor, critic, target_actor, target_critic, batch, gamma):
    """What shows a collapse coming, measured on one batch without changing anything:
    the spread of Q(s, mu(s)), and the gradient norms of the deck's two losses (before
    any clipping). Plain autograd, as the deck wrote the update; once an episode."""
    states, actions, rewards, next_states, masks = batch
    with torch.no_grad():
        target = rewards + masks * gamma * target_critic(
            next_states, target_actor(next_states)).squeeze(1)
    critic_loss = torch.nn.MSELoss()(critic(states, actions).squeeze(1), target)
    critic_grads = torch.autograd.grad(critic_loss, list(critic.parameters()))
    q_value = critic(states, actor(states))
    actor_grads = torch.autograd.grad(-q_value.mean(), list(actor.parameters()))
    # In float64: a float32 norm overflows to inf long before the gradients do.
    return {'train/q_value_std': q_value.std().item(),
            'train/critic_grad_norm': torch.nn.utils.get_total_norm(
                [g.double() for g in critic_grads]).item(),
            'train/actor_grad_norm': torch.nn.utils.get_total_norm(
                [g.double() for g in actor_grads]).item()}


def divergence(losses):
    """Which of one update's (critic_loss, actor_loss) is inf or nan, in words; None if
    neither."""
    critic_loss, actor_loss = losses
    if math.isfinite(critic_loss + actor_loss):
        return None
    return 'the {} loss is {}'.format(*(('critic', critic_loss) if not math.isfinite(critic_loss)
                                       else ('actor', actor_loss)))


def finite(*nets):
    """Whether every weight of the networks is finite (no inf, no nan)."""
    return all(bool(torch.isfinite(p).all()) for net in nets for p in layer_parameters(net))


class Instruments:
    """Logs an episode's losses and the actor's own outputs."""

    def __init__(self, low, high, seed):
        self.low, self.high = torch.from_numpy(low), torch.from_numpy(high)
        self.probe_rng = np.random.default_rng([seed, 1])  # for diagnose(), apart from training

    def log(self, writer, episode, losses, raw_actions, nets, replay_buffer, batch_size, gamma):
        """Write the episode's train/ and policy/ tags. losses: its updates' (critic_loss,
        actor_loss), (n, 2); raw_actions: the actor's outputs at its steps, (steps, A)."""
        if len(losses):
            critic_loss, actor_loss = np.mean(losses, axis=0)
            writer.add_scalar('train/critic_loss', critic_loss, episode)
            writer.add_scalar('train/actor_loss', actor_loss, episode)
            # actor_loss is -mean Q(s, mu(s)) over the batch
            writer.add_scalar('train/q_value', -actor_loss, episode)
            # One more batch, from a generator of its own so the run stays the same.
            probe = replay_buffer.sample(batch_size, self.probe_rng)
            for tag, value in diagnose(*nets, probe, gamma).items():
                writer.add_scalar(tag, value, episode)
        raw = raw_actions.cpu()
        writer.add_scalar('policy/action_mean', raw.mean().item(), episode)
        writer.add_scalar('policy/action_abs_max', raw.abs().max().item(), episode)
        writer.add_scalar('policy/out_of_bounds', ((raw < self.low) | (raw > self.high))
                          .float().mean().item(), episode)
