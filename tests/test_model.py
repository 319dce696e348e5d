"""The deck's networks: layer names (so the deck's checkpoints load), shapes, and
the critic reading the state and the action together."""
import torch

from model import Actor, Critic


def test_actor_has_the_decks_layers_and_a_linear_output():
    actor = Actor(3, 1, hidden_size=64)
    shapes = {k: tuple(v.shape) for k, v in actor.state_dict().items()}
    assert shapes == {'fc1.weight': (64, 3), 'fc1.bias': (64,), 'fc2.weight': (64, 64),
                      'fc2.bias': (64,), 'fc3.weight': (1, 64), 'fc3.bias': (1,)}
    # Linear output, not squashed: a large final bias passes straight through.
    with torch.no_grad():
        actor.fc3.bias.fill_(7.0)
        actor.fc3.weight.zero_()
    assert actor(torch.zeros(5, 3)).tolist() == [[7.0]] * 5


def test_critic_concatenates_state_and_action():
    critic = Critic(3, 1, hidden_size=32)
    shapes = {k: tuple(v.shape) for k, v in critic.state_dict().items()}
    assert shapes == {'fc1.weight': (32, 4), 'fc1.bias': (32,), 'fc2.weight': (32, 32),
                      'fc2.bias': (32,), 'fc3.weight': (1, 32), 'fc3.bias': (1,)}
    states, actions = torch.randn(8, 3), torch.randn(8, 1)
    q = critic(states, actions)
    assert q.shape == (8, 1)
    # The same as feeding the concatenation [s, a] through the layers by hand.
    x = torch.cat([states, actions], dim=1)
    x = torch.relu(critic.fc1(x))
    x = torch.relu(critic.fc2(x))
    torch.testing.assert_close(q, critic.fc3(x))
    # The action matters: another action gives another value.
    assert not torch.allclose(q, critic(states, actions + 1.0))


def test_the_cached_parameters_follow_copies_and_stay_out_of_the_state_dict():
    import copy

    from utils import layer_parameters
    actor = Actor(3, 1, 8)
    params = layer_parameters(actor)
    assert params == tuple(actor.parameters())
    assert list(actor.state_dict()) == ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias',
                                        'fc3.weight', 'fc3.bias']
    twin = copy.deepcopy(actor)
    assert all(a is b for a, b in zip(layer_parameters(twin), twin.parameters()))
    assert all(a is not b for a, b in zip(layer_parameters(twin), params))
