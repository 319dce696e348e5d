"""train_model does the deck's update: the critic towards r + mask * gamma * Q'(s', mu'(s')),
then the actor up the gradient of the critic it has just updated."""
import copy

import torch
import torch.optim as optim

from model import Actor, Critic
from train import train_model

GAMMA, LR, EPS = 0.99, 1e-3, 1e-8


def make_nets(seed=0):
    torch.manual_seed(seed)
    actor, critic = Actor(3, 1, 64), Critic(3, 1, 64)
    # Targets that differ from the online networks, as they do after some training.
    target_actor, target_critic = Actor(3, 1, 64), Critic(3, 1, 64)
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


def run_train_model(nets, batch):
    actor, critic, target_actor, target_critic = nets
    actor_optimizer = optim.Adam(actor.parameters(), lr=LR)
    critic_optimizer = optim.Adam(critic.parameters(), lr=LR)
    return train_model(actor, critic, target_actor, target_critic,
                       actor_optimizer, critic_optimizer, batch, GAMMA)


def assert_same_weights(a, b, atol=1e-6):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(x, y, atol=atol, rtol=0, msg=name)


def test_train_model_matches_the_hand_written_update():
    batch = fixed_batch()
    nets, ref = make_nets(), make_nets()
    targets_before = copy.deepcopy(nets[2:])
    critic_loss, actor_loss = run_train_model(nets, batch)
    ref_critic_loss, ref_actor_loss = reference_update(*ref, batch)

    assert isinstance(critic_loss, float) and isinstance(actor_loss, float)
    assert abs(critic_loss - ref_critic_loss) < 1e-5 * max(1.0, abs(ref_critic_loss))
    assert abs(actor_loss - ref_actor_loss) < 1e-6 * max(1.0, abs(ref_actor_loss))
    for mine, theirs in zip(nets, ref):
        assert_same_weights(mine, theirs)
    # The targets are left alone: the soft update is the loop's job, as in the deck.
    assert_same_weights(nets[2], targets_before[0], atol=0)
    assert_same_weights(nets[3], targets_before[1], atol=0)


def test_actor_is_updated_against_the_updated_critic():
    batch = fixed_batch()
    nets, wrong_order = make_nets(), make_nets()
    run_train_model(nets, batch)
    reference_update(*wrong_order, batch, actor_sees_new_critic=False)
    # The order is visible in the result: against the old critic the actor ends elsewhere.
    diff = max((a - b).abs().max().item() for a, b in
               zip(nets[0].parameters(), wrong_order[0].parameters()))
    assert diff > 1e-5


def test_mask_zero_means_no_bootstrap():
    states, actions, rewards, next_states, _ = fixed_batch(8)
    actor, critic, target_actor, target_critic = make_nets()
    with torch.no_grad():  # a critic that predicts exactly the reward
        critic.fc3.weight.zero_()
        critic.fc3.bias.zero_()
    for masks, expected_bootstrap in ((torch.zeros(8), False), (torch.ones(8), True)):
        nets = copy.deepcopy((actor, critic, target_actor, target_critic))
        loss, _ = run_train_model(nets, (states, actions, rewards, next_states, masks))
        with torch.no_grad():
            bootstrap = GAMMA * target_critic(next_states, target_actor(next_states))[:, 0]
        expected = ((rewards + (bootstrap if expected_bootstrap else 0)) ** 2).mean().item()
        assert abs(loss - expected) < 1e-4 * expected


def autograd_train_model(actor, critic, target_actor, target_critic,
                         actor_optimizer, critic_optimizer, batch, gamma):
    """The deck's train_model in plain autograd: the reference for the hand-written one."""
    states, actions, rewards, next_states, masks = batch
    q_value = critic(states, actions).squeeze(1)
    target_next_policy = target_actor(next_states)
    target_next_q_value = target_critic(next_states, target_next_policy).squeeze(1)
    target = rewards + masks * gamma * target_next_q_value
    critic_loss = torch.nn.MSELoss()(q_value, target.detach())
    critic_optimizer.zero_grad()
    critic_loss.backward()
    critic_optimizer.step()
    policy = actor(states)
    actor_loss = -critic(states, policy).mean()
    actor_optimizer.zero_grad()
    actor_loss.backward()
    actor_optimizer.step()
    return critic_loss.item(), actor_loss.item()


def test_many_updates_match_the_plain_autograd_form():
    # As in the loop: fused Adam, and 20 updates on fresh batches, so the Adam state
    # and the changing critic are part of the comparison.
    nets, ref = make_nets(), make_nets()
    opts = [optim.Adam(n.parameters(), lr=LR, fused=True) for n in nets[:2]]
    ref_opts = [optim.Adam(n.parameters(), lr=LR, fused=True) for n in ref[:2]]
    for step in range(20):
        batch = fixed_batch()
        batch = (batch[0] + step, *batch[1:])
        losses = train_model(*nets, *opts, batch, GAMMA)
        ref_losses = autograd_train_model(*ref, *ref_opts, batch, GAMMA)
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
        train_model(*nets, *sgd, batch, GAMMA)
        autograd_train_model(*ref, *ref_sgd, batch, GAMMA)
    for mine, theirs in zip(nets, ref):
        assert_same_weights(mine, theirs)


def test_the_optimizers_stay_usable_outside_train_model():
    # train_model runs in inference mode; what it leaves behind (the gradients and
    # Adam's state) must still work with plain autograd and optimizer.step() after.
    nets = make_nets()
    opts = [optim.Adam(n.parameters(), lr=LR, fused=True) for n in nets[:2]]
    train_model(*nets, *opts, fixed_batch(), GAMMA)
    autograd_train_model(*nets, *opts, fixed_batch(), GAMMA)
