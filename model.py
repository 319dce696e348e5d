"""Actor and critic networks of the deck (slides "Actor network", "Critic network")."""
import torch
import torch.nn as nn


class Actor(nn.Module):
    """mu(s): state -> action. Linear output, unbounded, exactly as in the deck;
    given action_bounds=(low, high) (train.py --tanh_actor), tanh-bounded instead."""

    # The deck passes `args` and reads args.hidden_size; a plain argument lets the
    # network be built without argparse (tests, test.py reading sizes from weights).
    def __init__(self, state_size, action_size, hidden_size=64, action_bounds=None):
        super(Actor, self).__init__()
        self.fc1 = nn.Linear(state_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, hidden_size)
        self.fc3 = nn.Linear(hidden_size, action_size)
        self.tanh = action_bounds is not None
        if self.tanh:  # not in the deck: scale tanh's (-1, 1) to (low, high), per dimension.
            # Buffers, so they move with .to(device) and are saved with the weights.
            low, high = (torch.as_tensor(b, dtype=torch.float32) for b in action_bounds)
            self.register_buffer('action_scale', (high - low) / 2)
            self.register_buffer('action_bias', (high + low) / 2)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        policy = self.fc3(x)
        if self.tanh:
            policy = torch.tanh(policy) * self.action_scale + self.action_bias

        return policy


class Critic(nn.Module):
    """Q(s, a): the state and the action are concatenated at the input."""

    def __init__(self, state_size, action_size, hidden_size=64):
        super(Critic, self).__init__()
        self.fc1 = nn.Linear(state_size + action_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, hidden_size)
        self.fc3 = nn.Linear(hidden_size, 1)

    def forward(self, states, actions):
        x = torch.cat([states, actions], dim=1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        q_value = self.fc3(x)

        return q_value

