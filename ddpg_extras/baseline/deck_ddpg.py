"""The deck's DDPG, transcribed as literally as today's Gymnasium allows: the baseline
that benchmarks/bench.py measures the project against, and that a study's --deck_loop
trains. Not for use: it keeps the deck's bugs (the time-limit mask, OU noise never
reset, the goal on a partial window).

Changes from the slides, each the least that today's stack needs:
- Gymnasium's API: reset() returns (obs, info), step() returns five values, and the
  environment is seeded through its first reset; Pendulum-v0 is now Pendulum-v1.
- np.array(mini_batch, dtype=object): NumPy >= 1.24 refuses ragged tuples otherwise;
  score.item() for float(score): NumPy 2 refuses float() on a one-element array.
- random and NumPy are seeded too, so the baseline is as reproducible as the project.
"""
import os
import random
import tempfile
import time
import warnings
from collections import deque

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from tensorboardX import SummaryWriter

# The deck's (1, 1)-shaped actions make Gymnasium's checker warn on every step.
warnings.filterwarnings('ignore', module='gymnasium')
warnings.filterwarnings('ignore', message='Creating a tensor from a list of numpy.ndarrays')


# model.py
class Actor(nn.Module):
    def __init__(self, state_size, action_size, args):
        super(Actor, self).__init__()
        self.fc1 = nn.Linear(state_size, args.hidden_size)
        self.fc2 = nn.Linear(args.hidden_size, args.hidden_size)
        self.fc3 = nn.Linear(args.hidden_size, action_size)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        policy = self.fc3(x)

        return policy


class Critic(nn.Module):
    def __init__(self, state_size, action_size, args):
        super(Critic, self).__init__()
        self.fc1 = nn.Linear(state_size + action_size, args.hidden_size)
        self.fc2 = nn.Linear(args.hidden_size, args.hidden_size)
        self.fc3 = nn.Linear(args.hidden_size, 1)

    def forward(self, states, actions):
        x = torch.cat([states, actions], dim=1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        q_value = self.fc3(x)

        return q_value


# utils.py
class OUNoise:
    def __init__(self, action_size, theta, mu, sigma):
        self.action_size = action_size
        self.theta = theta
        self.mu = mu
        self.sigma = sigma
        self.X = np.zeros(self.action_size)

    def sample(self):
        dx = self.theta * (self.mu - self.X)
        dx = dx + self.sigma * np.random.randn(len(self.X))
        self.X = self.X + dx

        return self.X


def get_action(policy, ou_noise):
    action = policy.detach().numpy() + ou_noise.sample()

    return action


def hard_target_update(actor, critic, target_actor, target_critic):
    target_critic.load_state_dict(critic.state_dict())
    target_actor.load_state_dict(actor.state_dict())


def soft_target_update(actor, critic, target_actor, target_critic, tau):
    soft_update(critic, target_critic, tau)
    soft_update(actor, target_actor, tau)


def soft_update(net, target_net, tau):
    for param, target_param in zip(net.parameters(), target_net.parameters()):
        target_param.data.copy_(tau * param.data + (1.0 - tau) * target_param.data)


# train.py
def train_model(args, actor, critic, target_actor, target_critic,
                actor_optimizer, critic_optimizer, mini_batch):
    mini_batch = np.array(mini_batch, dtype=object)  # dtype=object: NumPy >= 1.24
    states = np.vstack(mini_batch[:, 0])
    actions = list(mini_batch[:, 1])
    rewards = list(mini_batch[:, 2])
    next_states = np.vstack(mini_batch[:, 3])
    masks = list(mini_batch[:, 4])

    actions = torch.Tensor(actions).squeeze(1)
    rewards = torch.Tensor(rewards).squeeze(1)
    masks = torch.Tensor(masks)

    # update critic
    criterion = torch.nn.MSELoss()

    # get Q-value
    q_value = critic(torch.Tensor(states), actions).squeeze(1)

    # get target
    target_next_policy = target_actor(torch.Tensor(next_states))
    target_next_q_value = target_critic(torch.Tensor(next_states), target_next_policy).squeeze(1)
    target = rewards + masks * args.gamma * target_next_q_value

    critic_loss = criterion(q_value, target.detach())
    critic_optimizer.zero_grad()
    critic_loss.backward()
    critic_optimizer.step()

    # update actor
    policy = actor(torch.Tensor(states))

    actor_loss = -critic(torch.Tensor(states), policy).mean()
    actor_optimizer.zero_grad()
    actor_loss.backward()
    actor_optimizer.step()


def main(args, max_steps=None, logdir=None, save_final=False):
    """The deck's main(). `args` carries the deck's flags plus `seed`; `max_steps`
    (for speed measurements) stops the run early; the log and the actor go to logdir (a
    new temporary folder by default); save_final also saves the actor of a run that
    ends short of its goal, as final.pth. Returns what the benchmark needs."""
    env = gym.make(args.env_name)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    state_size = env.observation_space.shape[0]
    action_size = env.action_space.shape[0]

    actor = Actor(state_size, action_size, args)
    target_actor = Actor(state_size, action_size, args)
    critic = Critic(state_size, action_size, args)
    target_critic = Critic(state_size, action_size, args)

    actor_optimizer = optim.Adam(actor.parameters(), lr=args.actor_lr)
    critic_optimizer = optim.Adam(critic.parameters(), lr=args.critic_lr)

    hard_target_update(actor, critic, target_actor, target_critic)
    ou_noise = OUNoise(action_size, args.theta, args.mu, args.sigma)

    logdir = logdir or tempfile.mkdtemp(prefix='deck_logs_')
    writer = SummaryWriter(logdir)

    replay_buffer = deque(maxlen=10000)
    recent_rewards = deque(maxlen=100)
    steps = 0
    start = time.perf_counter()
    reached = False
    ckpt_path = None

    for episode in range(args.max_iter_num):
        done = False
        score = 0

        state, _ = env.reset(seed=args.seed if episode == 0 else None)
        state = np.reshape(state, [1, state_size])

        while not done:
            steps += 1

            policy = actor(torch.Tensor(state))
            action = get_action(policy, ou_noise)

            next_state, reward, terminated, truncated, _ = env.step(action)
            done = terminated or truncated

            next_state = np.reshape(next_state, [1, state_size])
            mask = 0 if done else 1

            replay_buffer.append((state, action, reward, next_state, mask))

            state = next_state
            score += reward

            if steps > args.batch_size:
                mini_batch = random.sample(replay_buffer, args.batch_size)

                actor.train(), critic.train()
                target_actor.train(), target_critic.train()
                train_model(args, actor, critic, target_actor, target_critic,
                            actor_optimizer, critic_optimizer, mini_batch)

                soft_target_update(actor, critic, target_actor, target_critic, args.tau)

            if done:
                recent_rewards.append(score)
            if max_steps and steps >= max_steps:
                break

        if episode % args.log_interval == 0:
            writer.add_scalar('log/score', score.item(), episode)  # float(): NumPy 2

        if np.mean(recent_rewards) > args.goal_score:
            ckpt_path = os.path.join(logdir, 'model.pth')
            torch.save(actor.state_dict(), ckpt_path)
            reached = True
            break
        if max_steps and steps >= max_steps:
            break

    if save_final and not reached:  # not in the deck: a study scores the final actor
        ckpt_path = os.path.join(logdir, 'final.pth')
        torch.save(actor.state_dict(), ckpt_path)
    writer.close()
    env.close()
    return {'reached_goal': reached, 'episodes': episode + 1, 'steps': steps, 'model': ckpt_path,
            'seconds': time.perf_counter() - start,
            'score_avg': float(np.mean(recent_rewards)) if recent_rewards else None}

