"""The deck's OU noise, action selection and target updates."""
import copy

import numpy as np
import pytest
import torch

from ddpg_extras.run.fast_update import adam_step
from model import Actor, Critic
from utils import OUNoise, get_action, hard_target_update, soft_target_update, soft_update


def test_ou_noise_follows_the_decks_update():
    np.random.seed(0)
    noise = OUNoise(2, theta=0.15, mu=0.5, sigma=0.2)
    x = np.zeros(2)
    np.random.seed(1)
    draws = np.random.randn(3, 2)
    np.random.seed(1)
    for draw in draws:
        x = x + 0.15 * (0.5 - x) + 0.2 * draw
        np.testing.assert_allclose(noise.sample(), x)


def test_ou_noise_reverts_to_mu_without_randomness():
    noise = OUNoise(1, theta=0.15, mu=1.0, sigma=0.0)
    xs = [noise.sample()[0] for _ in range(100)]
    # The gap to mu shrinks by (1 - theta) every step.
    np.testing.assert_allclose(1.0 - np.array(xs), 0.85 ** np.arange(1, 101))


def test_ou_noise_stationary_spread_and_mean():
    np.random.seed(0)
    theta, sigma = 0.15, 0.2
    noise = OUNoise(1, theta=theta, mu=0.0, sigma=sigma)
    xs = np.array([noise.sample()[0] for _ in range(200_000)])[1000:]
    expected_std = sigma / np.sqrt(2 * theta - theta ** 2)  # about 0.39
    assert xs.std() == pytest.approx(expected_std, rel=0.03)
    assert abs(xs.mean()) < 0.03
    # Consecutive samples are correlated (1 - theta), unlike white noise.
    assert np.corrcoef(xs[:-1], xs[1:])[0, 1] == pytest.approx(1 - theta, abs=0.01)


def test_ou_noise_reset_starts_the_process_again():
    np.random.seed(0)
    noise = OUNoise(3, theta=0.15, mu=0.0, sigma=0.2)
    for _ in range(50):
        noise.sample()
    assert np.abs(noise.X).sum() > 0
    noise.reset()
    np.testing.assert_array_equal(noise.X, np.zeros(3))


def test_get_action_adds_the_noise_to_the_policy():
    np.random.seed(3)
    expected_noise = OUNoise(1, 0.15, 0.0, 0.2).sample()
    np.random.seed(3)
    policy = torch.tensor([1.5], requires_grad=True)
    action = get_action(policy, OUNoise(1, 0.15, 0.0, 0.2))
    assert isinstance(action, np.ndarray)
    np.testing.assert_allclose(action, 1.5 + expected_noise)


def test_soft_update_moves_targets_by_tau():
    torch.manual_seed(0)
    net, target = Critic(3, 1, 16), Critic(3, 1, 16)
    before = copy.deepcopy(target.state_dict())
    soft_update(net, target, tau=0.1)
    for name, param in net.state_dict().items():
        torch.testing.assert_close(target.state_dict()[name],
                                   0.1 * param + 0.9 * before[name])
        assert not target.state_dict()[name].requires_grad


def test_soft_update_with_tau_one_is_the_hard_copy():
    torch.manual_seed(0)
    actor, critic = Actor(3, 1, 16), Critic(3, 1, 16)
    target_actor, target_critic = Actor(3, 1, 16), Critic(3, 1, 16)
    soft_target_update(actor, critic, target_actor, target_critic, tau=1.0)
    hard_actor, hard_critic = Actor(3, 1, 16), Critic(3, 1, 16)
    hard_target_update(actor, critic, hard_actor, hard_critic)
    for target, hard, online in ((target_actor, hard_actor, actor),
                                 (target_critic, hard_critic, critic)):
        for name, param in online.state_dict().items():
            torch.testing.assert_close(target.state_dict()[name], param)
            torch.testing.assert_close(hard.state_dict()[name], param)


def test_soft_target_update_moves_both_networks():
    torch.manual_seed(0)
    actor, critic = Actor(3, 1, 16), Critic(3, 1, 16)
    target_actor, target_critic = copy.deepcopy(actor), copy.deepcopy(critic)
    with torch.no_grad():
        for p in list(actor.parameters()) + list(critic.parameters()):
            p.add_(1.0)
    soft_target_update(actor, critic, target_actor, target_critic, tau=0.001)
    for target, online in ((target_actor, actor), (target_critic, critic)):
        for t, p in zip(target.parameters(), online.parameters()):
            torch.testing.assert_close(t, p - 1.0 + 0.001)


@pytest.mark.parametrize('steps', [1, 5])
def test_adam_step_is_exactly_fused_adams_step(steps):
    torch.manual_seed(0)
    nets = [Critic(3, 1, 16), Critic(3, 1, 16)]
    nets[1].load_state_dict(nets[0].state_dict())
    optimizers = [torch.optim.Adam(net.parameters(), lr=1e-3, fused=True) for net in nets]
    for _ in range(steps):
        grads = [torch.randn_like(p) for p in nets[0].parameters()]
        for net in nets:
            for p, g in zip(net.parameters(), grads):
                p.grad = g.clone()
        optimizers[0].step()
        adam_step(optimizers[1])
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(a, b)
    # The optimizer's state is the one torch.optim.Adam keeps, so checkpoints agree.
    state_a, state_b = optimizers[0].state_dict()['state'], optimizers[1].state_dict()['state']
    for i in state_a:
        for key in ('step', 'exp_avg', 'exp_avg_sq'):
            assert state_a[i][key].dtype == state_b[i][key].dtype
            assert torch.equal(state_a[i][key], state_b[i][key]), key


def test_adam_step_leaves_other_optimizers_to_their_own_step():
    torch.manual_seed(0)
    net = Critic(3, 1, 16)
    before = [p.detach().clone() for p in net.parameters()]
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    adam_step(torch.optim.SGD(net.parameters(), lr=0.5))
    for p, b in zip(net.parameters(), before):
        torch.testing.assert_close(p.detach(), b - 0.5)
