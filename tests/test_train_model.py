"""train_model does the deck's update: the critic towards r + mask * gamma * Q'(s', mu'(s')),
then the actor up the gradient of the critic it has just updated. train.train_model is
the deck's autograd form, the reference; fast_train_model (train.py's default) is
checked against it to 1e-6."""
import copy

import pytest
import torch
import torch.optim as optim

from ddpg_extras.run.fast_update import fast_train_model
from model import Actor, Critic
from train import train_model

GAMMA, LR, EPS = 0.99, 1e-3, 1e-8
BOTH_UPDATES = pytest.mark.parametrize('update', [train_model, fast_train_model],
                                       ids=["the deck's train_model", 'fast_train_model'])


def make_nets(seed=0, bounds=None):
    torch.manual_seed(seed)
    actor, critic = Actor(3, 1, 64, bounds), Critic(3, 1, 64)
    # Targets that differ from the online networks, as they do after some training.
    target_actor, target_critic = Actor(3, 1, 64, bounds), Critic(3, 1, 64)
    return actor, critic, target_actor, target_critic


def fixed_batch(size=64):
    g = torch.Generator().manual_seed(1)
    states = torch.randn(size, 3, generator=g)
    actions = 2 * torch.randn(size, 1, generator=g)
    rewards = -16 * torch.rand(size, generator=g)
    next_states = torch.randn(size, 3, generator=g)
    masks = (torch.rand(size, generator=g) > 0.2).float()  # some terminal transitions
    return states, actions, rewards, next_states, masks


def adam_first_step(params, grads):
    # Adam's first step: bias-corrected m = g and v = g^2, so p -= lr * g / (|g| + eps).
    with torch.no_grad():
        for p, g in zip(params, grads):
            p -= LR * g / (g.abs() + EPS)


def reference_update(actor, critic, target_actor, target_critic, batch,
                     actor_sees_new_critic=True):
    states, actions, rewards, next_states, masks = batch
    with torch.no_grad():
        y = rewards + masks * GAMMA * target_critic(next_states, target_actor(next_states))[:, 0]
    old_critic = copy.deepcopy(critic)
    critic_loss = ((critic(states, actions)[:, 0] - y) ** 2).mean()
    adam_first_step(list(critic.parameters()),
                    torch.autograd.grad(critic_loss, list(critic.parameters())))
    judge = critic if actor_sees_new_critic else old_critic
    actor_loss = -judge(states, actor(states)).mean()
    adam_first_step(list(actor.parameters()),
                    torch.autograd.grad(actor_loss, list(actor.parameters())))
    return critic_loss.item(), actor_loss.item()


def run_train_model(nets, batch, update=fast_train_model):
    actor, critic, target_actor, target_critic = nets
    actor_optimizer = optim.Adam(actor.parameters(), lr=LR)
    critic_optimizer = optim.Adam(critic.parameters(), lr=LR)
    return update(actor, critic, target_actor, target_critic,
                  actor_optimizer, critic_optimizer, batch, GAMMA)


def assert_same_weights(a, b, atol=1e-6):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(x, y, atol=atol, rtol=0, msg=name)


@BOTH_UPDATES
def test_train_model_matches_the_hand_written_update(update):
    batch = fixed_batch()
    nets, ref = make_nets(), make_nets()
    targets_before = copy.deepcopy(nets[2:])
    critic_loss, actor_loss = run_train_model(nets, batch, update)
    ref_critic_loss, ref_actor_loss = reference_update(*ref, batch)

    assert isinstance(critic_loss, float) and isinstance(actor_loss, float)
    assert abs(critic_loss - ref_critic_loss) < 1e-5 * max(1.0, abs(ref_critic_loss))
    assert abs(actor_loss - ref_actor_loss) < 1e-6 * max(1.0, abs(ref_actor_loss))
    for mine, theirs in zip(nets, ref):
        assert_same_weights(mine, theirs)
    # The targets are left alone: the soft update is the loop's job, as in the deck.
    assert_same_weights(nets[2], targets_before[0], atol=0)
    assert_same_weights(nets[3], targets_before[1], atol=0)


@BOTH_UPDATES
def test_actor_is_updated_against_the_updated_critic(update):
    batch = fixed_batch()
    nets, wrong_order = make_nets(), make_nets()
    run_train_model(nets, batch, update)
    reference_update(*wrong_order, batch, actor_sees_new_critic=False)
    # The order is visible in the result: against the old critic the actor ends elsewhere.
    diff = max((a - b).abs().max().item() for a, b in
               zip(nets[0].parameters(), wrong_order[0].parameters()))
    assert diff > 1e-5


@BOTH_UPDATES
def test_mask_zero_means_no_bootstrap(update):
    states, actions, rewards, next_states, _ = fixed_batch(8)
    actor, critic, target_actor, target_critic = make_nets()
    with torch.no_grad():  # a critic that predicts exactly the reward
        critic.fc3.weight.zero_()
        critic.fc3.bias.zero_()
    for masks, expected_bootstrap in ((torch.zeros(8), False), (torch.ones(8), True)):
        nets = copy.deepcopy((actor, critic, target_actor, target_critic))
        loss, _ = run_train_model(nets, (states, actions, rewards, next_states, masks), update)
        with torch.no_grad():
            bootstrap = GAMMA * target_critic(next_states, target_actor(next_states))[:, 0]
        expected = ((rewards + (bootstrap if expected_bootstrap else 0)) ** 2).mean().item()
        assert abs(loss - expected) < 1e-4 * expected


@pytest.mark.parametrize('bounds', [None, (torch.tensor([-2.0]), torch.tensor([2.0]))],
                         ids=["the deck's linear actor", 'a tanh actor'])
def test_many_updates_match_the_plain_autograd_form(bounds):
    # As in the loop: fused Adam, and 20 updates on fresh batches, so the Adam state
    # and the changing critic are part of the comparison.
    nets, ref = make_nets(bounds=bounds), make_nets(bounds=bounds)
    opts = [optim.Adam(n.parameters(), lr=LR, fused=True) for n in nets[:2]]
    ref_opts = [optim.Adam(n.parameters(), lr=LR, fused=True) for n in ref[:2]]
    for step in range(20):
        batch = fixed_batch()
        batch = (batch[0] + step, *batch[1:])
        losses = fast_train_model(*nets, *opts, batch, GAMMA)
        ref_losses = train_model(*ref, *ref_opts, batch, GAMMA)
        for mine, theirs in zip(losses, ref_losses):
            assert abs(mine - theirs) <= 1e-6 * max(1.0, abs(theirs))
    for mine, theirs in zip(nets, ref):
        assert_same_weights(mine, theirs)


def test_any_optimizer_is_honoured():
    nets, ref = make_nets(), make_nets()
    batch = fixed_batch()
    sgd = [optim.SGD(n.parameters(), lr=0.01) for n in nets[:2]]
    ref_sgd = [optim.SGD(n.parameters(), lr=0.01) for n in ref[:2]]
    for _ in range(3):
        fast_train_model(*nets, *sgd, batch, GAMMA)
        train_model(*ref, *ref_sgd, batch, GAMMA)
    for mine, theirs in zip(nets, ref):
        assert_same_weights(mine, theirs)


def test_the_optimizers_stay_usable_outside_train_model():
    # train_model runs in inference mode; what it leaves behind (the gradients and
    # Adam's state) must still work with plain autograd and optimizer.step() after.
    nets = make_nets()
    opts = [optim.Adam(n.parameters(), lr=LR, fused=True) for n in nets[:2]]
    fast_train_model(*nets, *opts, fixed_batch(), GAMMA)
    train_model(*nets, *opts, fixed_batch(), GAMMA)


def grad_norm(net):
    return torch.nn.utils.get_total_norm([p.grad for p in net.parameters()]).item()


@pytest.mark.parametrize('clip_actor, clip_critic', [(0.02, None), (None, 1.0), (0.02, 1.0)])
def test_gradient_clipping_bounds_the_norm_and_matches_clip_grad_norm(clip_actor, clip_critic):
    # Unclipped, both gradients of this batch are well above the bounds (the actor's
    # is small while the critic is untrained)...
    nets = make_nets()
    opts = [optim.Adam(n.parameters(), lr=LR, fused=True) for n in nets[:2]]
    fast_train_model(*nets, *opts, fixed_batch(), GAMMA)
    assert grad_norm(nets[0]) > 0.05 and grad_norm(nets[1]) > 10
    # ...clipped, the gradient each step used is at most the bound, and the update is
    # the autograd form with torch.nn.utils.clip_grad_norm_, over several steps.
    nets, ref = make_nets(), make_nets()
    opts = [optim.Adam(n.parameters(), lr=LR, fused=True) for n in nets[:2]]
    ref_opts = [optim.Adam(n.parameters(), lr=LR, fused=True) for n in ref[:2]]
    for step in range(5):
        batch = fixed_batch()
        batch = (batch[0] + step, *batch[1:])
        fast_train_model(*nets, *opts, batch, GAMMA, clip_actor, clip_critic)
        train_model(*ref, *ref_opts, batch, GAMMA, clip_actor, clip_critic)
        for net, bound in ((nets[0], clip_actor), (nets[1], clip_critic)):
            if bound:
                assert grad_norm(net) <= bound * (1 + 1e-5)
    for mine, theirs in zip(nets, ref):
        assert_same_weights(mine, theirs)


def test_a_tanh_actor_stays_within_the_bounds():
    actor = Actor(3, 2, 64, (torch.tensor([-2.0, 0.0]), torch.tensor([2.0, 1.0])))
    with torch.no_grad():
        for p in actor.parameters():
            p.mul_(100)  # outputs far beyond any bound before the tanh
        actions = actor(100 * torch.randn(1000, 3))
    assert actions[:, 0].min() >= -2 and actions[:, 0].max() <= 2
    assert actions[:, 1].min() >= 0 and actions[:, 1].max() <= 1
    assert actions[:, 0].abs().max() > 1.99  # the whole range is reachable


def test_the_default_actor_keeps_the_decks_state_dict_keys():
    assert list(make_nets()[0].state_dict()) == [
        'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias']
