"""The deck's utilities (slides "Learning process" 1, 3 and 6): OU noise, action
selection, hard and soft target updates, and the replay buffer that replaces the
deck's deque in train.py."""
import numpy as np
import torch


class OUNoise:
    """Ornstein-Uhlenbeck process, the deck's discretisation (dt = 1):
    X <- X + theta * (mu - X) + sigma * N(0, 1). Its stationary standard deviation
    is sigma / sqrt(2 * theta - theta ** 2), about 0.39 with the deck's defaults."""

    # rng: NumPy's global generator, as in the deck; train_seeds.py gives each seed its own,
    # with action_size (K, action_size): one row of X per seed
    def __init__(self, action_size, theta, mu, sigma, rng=np.random):
        self.action_size = action_size
        self.rng = rng
        self.theta = theta
        self.mu = mu
        self.sigma = sigma
        self.X = np.zeros(self.action_size)

    def reset(self):  # not in the deck's code, which never reset the process (Algorithm 1 does)
        self.X = np.zeros(self.action_size)

    def sample(self):
        dx = self.theta * (self.mu - self.X)
        dx = dx + self.sigma * self.rng.randn(*self.X.shape)  # the deck: randn(len(self.X))
        self.X = self.X + dx

        return self.X


def get_action(policy, ou_noise):
    action = policy.detach().cpu().numpy() + ou_noise.sample()  # .cpu(): for --device cuda

    return action


def hard_target_update(actor, critic, target_actor, target_critic):
    target_critic.load_state_dict(critic.state_dict())
    target_actor.load_state_dict(actor.state_dict())


def soft_target_update(actor, critic, target_actor, target_critic, tau):
    soft_update(critic, target_critic, tau)
    soft_update(actor, target_actor, tau)


@torch.no_grad()
def soft_update(net, target_net, tau):
    """target <- tau * net + (1 - tau) * target: tau weights the *online* network."""
    # The deck's loop, one lerp for all parameters (speed): target + tau * (net - target)
    torch._foreach_lerp_(layer_parameters(target_net), layer_parameters(net), tau)


def layer_parameters(net):
    """(fc1.weight, fc1.bias, fc2.weight, fc2.bias, fc3.weight, fc3.bias), looked up
    once and kept on the network (not in the deck; for speed): nn.Module's attribute
    lookups are slow Python, and every training step needs them. The same objects stay
    valid through .to(), load_state_dict and copy.deepcopy, and the state_dict does not
    change."""
    params = net.__dict__.get('layer_parameters')
    if params is None:
        params = net.__dict__['layer_parameters'] = tuple(net.parameters())
    return params


class ReplayBuffer:
    """The deck's deque(maxlen=10000) of (state, action, reward, next_state, mask)
    tuples, as one preallocated float32 array used as a ring: first in, first out,
    and sampled uniformly without replacement, as random.sample did (by a seeded
    NumPy generator, three times faster for 64 of 10,000). Rows are built once
    instead of turning 64 tuples into tensors at every step."""

    def __init__(self, capacity, state_size, action_size, seed, device='cpu'):
        self.memory = np.zeros((capacity, 2 * state_size + action_size + 2), dtype=np.float32)
        self.state_size, self.action_size = state_size, action_size
        self.device = torch.device(device)
        self.index = self.size = 0
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return self.size

    def append(self, transition):  # the deck's line: replay_buffer.append((s, a, r, s', mask))
        state, action, reward, next_state, mask = transition
        S, A = self.state_size, self.action_size
        row = self.memory[self.index]
        row[:S], row[S:S + A], row[S + A] = state, action, reward
        row[S + A + 1:-1], row[-1] = next_state, mask
        self.index = (self.index + 1) % len(self.memory)  # overwrite the oldest when full
        self.size = min(self.size + 1, len(self.memory))

    def sample(self, batch_size, rng=None):
        """(states, actions, rewards, next_states, masks) as tensors on the device,
        drawn by the buffer's generator, or by rng where one is given."""
        return self.tensors(self.sample_rows(batch_size, rng))

    def sample_rows(self, batch_size, rng=None):
        return self.memory.take((rng or self.rng).choice(self.size, batch_size, replace=False), 0)

    def tensors(self, rows):
        """split(rows) as tensors on the device (rows: a (..., row) array)."""
        if self.device.type != 'cpu':
            return self.split(torch.from_numpy(rows).to(self.device))  # one copy to the GPU
        # On the CPU, slicing in NumPy and sharing the memory costs a tenth of torch slicing.
        return tuple(map(torch.from_numpy, self.split(rows)))

    def split(self, rows):
        """(states, actions, rewards, next_states, masks) as views of rows (an array
        or a tensor, with any leading dimensions)."""
        S, A = self.state_size, self.action_size
        return (rows[..., :S], rows[..., S:S + A], rows[..., S + A], rows[..., S + A + 1:-1],
                rows[..., -1])

    def state_dict(self):
        """A copy of what the buffer holds, for a checkpoint."""
        return {'memory': torch.from_numpy(self.memory[:self.size].copy()), 'index': self.index,
                'rng': self.rng.bit_generator.state}

    def load_state_dict(self, state):
        rows = state['memory'].numpy()
        if rows.ndim != 2 or rows.shape[1] != self.memory.shape[1] or len(rows) > len(self.memory):
            raise ValueError('its replay buffer does not fit this one')
        self.memory[:len(rows)] = rows
        self.size, self.index = len(rows), state['index']
        self.rng.bit_generator.state = state['rng']
