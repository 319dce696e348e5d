"""Actor and critic networks of the deck (slides "Actor network", "Critic network")."""
import torch
import torch.nn as nn
import torch.nn.functional as F


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


# ---------------------------------------------------------------------------
# The same networks' forward and backward passes written out by hand, for speed:
# for 64x64 networks on a CPU, autograd's bookkeeping costs more than the arithmetic.
# train.py's train_model uses them; tests/test_train_model.py checks them against
# plain autograd. Both networks are fc1 -> ReLU -> fc2 -> ReLU -> fc3.

def forward_saving(net, x):
    """net(x) for an Actor or a Critic (given the critic's input torch.cat([s, a], 1)),
    plus the layer inputs that backward() needs (and tanh's output, for a tanh actor)."""
    w1, b1, w2, b2, w3, b3 = layer_parameters(net)
    h1 = F.linear(x, w1, b1).relu_()
    h2 = F.linear(h1, w2, b2).relu_()
    out = F.linear(h2, w3, b3)
    if net.__dict__.get('tanh'):  # (getattr on a Critic would go through a slow exception)
        t = out.tanh_()
        return torch.addcmul(net.action_bias, t, net.action_scale), (x, h1, h2, t)
    return out, (x, h1, h2)


def layer_parameters(net):
    """(fc1.weight, fc1.bias, fc2.weight, fc2.bias, fc3.weight, fc3.bias), looked up
    once and kept on the network: nn.Module's attribute lookups are slow Python, and
    every training step needs them. The same objects stay valid through .to(),
    load_state_dict and copy.deepcopy, and the state_dict does not change."""
    params = net.__dict__.get('layer_parameters')
    if params is None:
        params = net.__dict__['layer_parameters'] = tuple(net.parameters())
    return params


def backward(net, saved, grad_output, param_grads=True):
    """Backpropagate grad_output (d loss / d output) through the net by hand.
    param_grads=True writes d loss / d parameter into each parameter's .grad, as
    loss.backward() would after zero_grad(); param_grads=False leaves the parameters
    alone and returns d loss / d input instead."""
    params = layer_parameters(net)
    grad = grad_output
    if len(saved) == 4:  # a tanh actor: d(scale * tanh z + bias)/dz = scale * (1 - tanh(z)^2)
        grad = grad * net.action_scale * (1 - saved[3].square())
    for layer in (2, 1, 0):  # fc3, fc2, fc1
        weight, bias, layer_input = params[2 * layer], params[2 * layer + 1], saved[layer]
        if param_grads:
            torch.mm(grad.t(), layer_input, out=_grad_buffer(weight))
            torch.sum(grad, 0, out=_grad_buffer(bias))
        if layer:  # through the ReLU: zero where its output was zero
            grad = torch.ops.aten.threshold_backward(grad.mm(weight), layer_input, 0)
        elif not param_grads:
            return grad.mm(weight)


def _grad_buffer(param):
    if param.grad is None:
        with torch.inference_mode(False):  # a normal tensor, usable by autograd later
            param.grad = torch.zeros_like(param)
    return param.grad
