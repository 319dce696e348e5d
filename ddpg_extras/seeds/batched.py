"""Many seeds in one process (train_seeds.py): each parameter of the K seeds' networks
is stacked into one tensor with the seed first, so that one batched matrix product
(torch.baddbmm, bmm) serves every seed where a single run makes K calls.

Each seed keeps its own Actor, Critic and torch.optim.Adam, exactly as train.py makes
them; their parameters, gradients and Adam moments become views of the stacks. So
what the batched update writes, the seed's own modules and optimizers hold, and
everything that reads them (checkpoints, the instruments, saving the actor) works
unchanged.

The update is fast_update.fast_train_model (the deck's train_model, gradients by hand)
with a seed dimension in front; tests/test_train_seeds.py checks it against the deck's
train_model applied seed by seed."""
import numpy as np
import torch

from ddpg_extras.run.agent import NETWORKS
from ddpg_extras.run.fast_update import adam_lists, fused_adam_step
from utils import layer_parameters


class SeedNets:
    """The stacked networks of a cohort's K seeds, made once for its whole life. agents:
    each seed's Agent, all made alike. A seed that has ended is frozen: nothing the
    update does reaches its weights or its Adam state again."""

    def __init__(self, agents):
        """Stack the seeds' parameters and gradients, then make each seed's tensors
        views of its slice: the seeds' own modules and optimizers hold what the
        batched update writes, and anything loaded into them is in the stacks."""
        self.agents = list(agents)
        # A cohort of one seed is stacked with a copy of itself that nothing reads: MKL
        # multiplies a stack of one as a plain matrix, with other rounding, and a seed
        # must come out the same whichever seeds share its cohort.
        self.size = max(2, len(self.agents))
        self.params, self.grads, self.adam, self.steps = {}, {}, {}, {}
        self.stacks, self.whole, self.plans = {}, {}, {}
        self.everyone = np.ones(len(self.agents), bool)
        for name in NETWORKS:
            seed_params = [layer_parameters(getattr(agent, name)) for agent in self.agents]
            self.params[name], views = _stack(seed_params, self.size)
            for params, params_views in zip(seed_params, views):
                for p, view in zip(params, params_views):
                    p.data = view
            if name in ('actor', 'critic'):
                self.grads[name] = self.stack_adam(name, seed_params)
        actor = self.agents[0].actor
        self.tanh = (actor.action_scale, actor.action_bias) if actor.tanh else None
        self.state_size = actor.fc1.in_features
        # soft_target_update's pairs, critic then actor, as one list each for one lerp
        self.targets = self.params['target_critic'] + self.params['target_actor']
        self.onlines = self.params['critic'] + self.params['actor']
        self.frozen, self.frozen_values = [], []  # ended seeds' target slices, and their values

    def freeze(self, i):
        """Seed i has ended: the soft update no longer moves its targets (Adam steps only
        the seeds that update, so its online networks and Adam state stay as they are)."""
        views = [t[i] for t in self.targets]
        self.frozen += views
        self.frozen_values += [view.clone() for view in views]
        self.plans.clear()  # (a plan keeps the values of the seeds it does not step)

    @torch.inference_mode()
    def act(self, states):
        """Every seed's actor(state), in one call: states (K, state_size) -> (K, action_size)."""
        device = self.params['actor'][0].device
        x = _pad(torch.as_tensor(states, dtype=torch.float32, device=device), self.size)
        return forward_saving(self.params['actor'], x[:, None, :], self.tanh)[0][:len(states), 0]

    @torch.inference_mode()
    def train_model(self, mini_batch, gamma, gradient_clip_actor=None,
                    gradient_clip_critic=None, updating=None):
        """fast_train_model for every seed at once, on a mini_batch of (K, B, ...)
        tensors: seed i's update sees only seed i's slice. Returns each seed's
        (critic_loss, actor_loss) as a (K, 2) array. updating: the seeds (booleans)
        whose Adam steps; the others' gradients are computed and left unused."""
        seeds = len(mini_batch[0])
        updating = None if updating is None else np.asarray(updating, dtype=bool)
        states, actions, rewards, next_states, masks = (_pad(x, self.size) for x in mini_batch)
        batch_size = states.shape[1]
        critic, actor = self.params['critic'], self.params['actor']

        # update critic, towards r + mask * gamma * Q'(s', mu'(s')), a constant
        q_value, saved = forward_saving(critic, torch.cat([states, actions], 2))
        target_next_policy, _ = forward_saving(self.params['target_actor'], next_states,
                                               self.tanh)
        target_next_q_value, _ = forward_saving(self.params['target_critic'],
                                                torch.cat([next_states, target_next_policy], 2))
        target = torch.addcmul(rewards[..., None], masks[..., None], target_next_q_value,
                               value=gamma)
        error = q_value - target
        critic_loss = error.square().mean((1, 2))
        backward(critic, saved, error.mul_(2 / batch_size), self.grads['critic'])
        if gradient_clip_critic:
            clip_grad_norms(self.grads['critic'], gradient_clip_critic)
        self.adam_step('critic', updating)

        # update actor, through the critic that was just updated
        policy, actor_saved = forward_saving(actor, states, self.tanh)
        q_value, saved = forward_saving(critic, torch.cat([states, policy], 2))
        actor_loss = -q_value.mean((1, 2))
        grad_input = backward(critic, saved, torch.full_like(q_value, -1 / batch_size))
        backward(actor, actor_saved, grad_input[..., self.state_size:], self.grads['actor'],
                 self.tanh)
        if gradient_clip_actor:
            clip_grad_norms(self.grads['actor'], gradient_clip_actor)
        self.adam_step('actor', updating)

        return torch.stack([critic_loss, actor_loss], 1)[:seeds].cpu().numpy()

    def adam_step(self, name, updating=None):
        """Adam's step for one network of the seeds that update (updating: a boolean
        array, or None for all): not those that have ended, nor a resumed seed that has
        fewer than a batch of transitions."""
        updating = self.everyone if updating is None else updating
        key = (name, updating.tobytes())
        if key not in self.plans:  # the same seeds update until one ends or joins: kept
            self.plans[key] = self.adam_plan(name, updating)
        counted, lists, group, kept = self.plans[key]
        self.steps[name].add_(counted)
        fused_adam_step(lists, group)
        if kept:  # the seeds that did not update, put back as they were
            torch._foreach_copy_(*kept)

    def adam_plan(self, name, updating):
        """How adam_step steps these seeds: (what each step count adds, fused_adam_step's
        lists and group, the tensors of the seeds not updating to put back after it).
        Where the seeds that update share one step count, one kernel call steps the
        stacks, and the others' parameters and moments are put back after it; else
        each updating seed's own tensors are stepped."""
        steps, on = self.steps[name], np.flatnonzero(updating)
        counted = torch.tensor(updating, dtype=torch.float32, device=steps.device)
        if not bool((steps[on] == steps[on[0]]).all()):
            optimizers = [getattr(self.agents[i], name + '_optimizer') for i in on]
            return counted, adam_lists(optimizers), optimizers[0].param_groups[0], None
        (params, grads, exp_avgs, exp_avg_sqs), group = self.stacks[name]
        whole, n = self.whole[name], len(params)
        seed_lists = self.adam[name][0]  # every seed's own tensors, n per seed
        small = [k for i in on for k in range(i * n, (i + 1) * n) if k % n not in whole]
        lists = [[stack[j] for j in whole] + [tensors[k] for k in small]
                 for stack, tensors in zip((params, grads, exp_avgs, exp_avg_sqs),
                                           seed_lists)]
        lists.append([steps[on[0]]] * len(whole) + [seed_lists[4][k] for k in small])
        off = [k for i in np.flatnonzero(~updating) for k in range(i * n, (i + 1) * n)]
        views = [seed_lists[t][k] for t in (0, 2, 3) for k in off]
        return counted, lists, group, (views, [v.clone() for v in views]) if off else None

    @torch.no_grad()
    def soft_target_update(self, tau):
        """utils.soft_target_update for every seed: one lerp over all the stacks, the
        frozen seeds' targets then put back as they were."""
        torch._foreach_lerp_(self.targets, self.onlines, tau)
        if self.frozen:
            torch._foreach_copy_(self.frozen, self.frozen_values)

    def stack_adam(self, name, seed_params):
        """The gradients and Adam's moments of one network of every seed as stacks (the
        seeds' .grad and Adam state are views), and Adam's step counts; returns the
        stacked gradients."""
        optimizers = [getattr(agent, name + '_optimizer') for agent in self.agents]
        adam_lists(optimizers)  # Adam's state made now, as its step() would
        for params in seed_params:
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
        grads = self.restack(seed_params, lambda i, p: p.grad,
                             lambda i, p, view: setattr(p, 'grad', view))
        moments = [self.restack(seed_params, lambda i, p, key=key: optimizers[i].state[p][key],
                                lambda i, p, view, key=key: optimizers[i].state[p].update(
                                    {key: view}))
                   for key in ('exp_avg', 'exp_avg_sq')]
        # A seed's parameters share one step count, a view of one tensor for all seeds,
        # so that counting a step is one operation, not one per tensor (6 K).
        steps = self.steps[name] = torch.stack([o.state[params[0]]['step']
                                                for o, params in zip(optimizers, seed_params)])
        for i, (o, params) in enumerate(zip(optimizers, seed_params)):
            for p in params:
                o.state[p]['step'] = steps[i]
        group = optimizers[0].param_groups[0]
        self.adam[name] = adam_lists(optimizers), group  # each seed's own tensors
        # Adam on the stacks, for seeds that update at one step count. Its vectorised
        # and scalar paths round exp_avg_sq differently, so only the tensors whose every
        # seed's slice fills whole vectors (16 floats) are stepped as stacks, the others
        # (fc3.bias) seed by seed: no seed's result depends on where a stack's tail
        # falls, that is on K.
        self.stacks[name] = (self.params[name], grads, *moments), group
        self.whole[name] = [j for j, p in enumerate(seed_params[0]) if p.numel() % 16 == 0]
        return grads

    def restack(self, seed_params, get, put):
        """Stack get(i, p) of each seed i's parameters p; put(i, p, view) puts back
        each seed's view of its slice."""
        stacks, views = _stack([[get(i, p) for p in params]
                                for i, params in enumerate(seed_params)], self.size)
        for i, (params, params_views) in enumerate(zip(seed_params, views)):
            for p, view in zip(params, params_views):
                put(i, p, view)
        return stacks


def _stack(per_seed, size):
    """[[tensor per parameter] per seed] -> (stacks, views): one tensor per parameter
    with the seed first (biases as (K, 1, out), for baddbmm), and each seed's slice of
    it in the shape of the seed's own tensor. Stacks of fewer than size seeds are
    padded with copies of the last."""
    stacks = []
    for tensors in zip(*per_seed, *[per_seed[-1]] * (size - len(per_seed))):
        stack = torch.stack([t.detach() for t in tensors])
        stacks.append(stack.unsqueeze(1) if stack.dim() == 2 else stack)
    return stacks, [[stack[i].view(t.shape) for stack, t in zip(stacks, tensors)]
                    for i, tensors in enumerate(per_seed)]


def _pad(x, size):
    """x with zeros after it up to size along its first dimension."""
    if len(x) == size:
        return x
    return torch.cat([x, x.new_zeros(size - len(x), *x.shape[1:])])


def forward_saving(params, x, tanh=None):
    """fast_update.forward_saving with the seed first: the stacked network on x of
    shape (K, B, in), plus what backward() needs. tanh: (scale, bias) of a tanh actor."""
    w1, b1, w2, b2, w3, b3 = params
    h1 = torch.baddbmm(b1, x, w1.transpose(1, 2)).relu_()
    h2 = torch.baddbmm(b2, h1, w2.transpose(1, 2)).relu_()
    out = torch.baddbmm(b3, h2, w3.transpose(1, 2))
    if tanh is not None:
        t = out.tanh_()
        return torch.addcmul(tanh[1], t, tanh[0]), (x, h1, h2, t)
    return out, (x, h1, h2)


def backward(params, saved, grad_output, grads=None, tanh=None):
    """fast_update.backward with the seed first: with grads (the stacked gradients),
    write d loss / d parameter there; without, return d loss / d input."""
    grad = grad_output
    if tanh is not None:  # d(scale * tanh z + bias)/dz = scale * (1 - tanh(z)^2)
        grad = grad * tanh[0] * (1 - saved[3].square())
    for layer in (2, 1, 0):  # fc3, fc2, fc1
        weight, layer_input = params[2 * layer], saved[layer]
        if grads is not None:
            if layer:
                torch.bmm(grad.transpose(1, 2), layer_input, out=grads[2 * layer])
            else:  # the same product, which MKL does 3x as fast in this shape
                grads[0].copy_(torch.bmm(layer_input.transpose(1, 2), grad).transpose(1, 2))
            torch.sum(grad, 1, keepdim=True, out=grads[2 * layer + 1])
        if layer:  # through the ReLU: zero where its output was zero
            grad = torch.ops.aten.threshold_backward(torch.bmm(grad, weight), layer_input, 0)
        elif grads is None:
            return torch.bmm(grad, weight)


def clip_grad_norms(grads, max_norm):
    """fast_update.clip_grad_norm for each seed: its gradients scaled by max_norm /
    (their total norm + 1e-6) where that is below 1."""
    total_norm = torch.stack([g.flatten(1).square().sum(1) for g in grads]).sum(0).sqrt()
    scale = (max_norm / (total_norm + 1e-6)).clamp_(max=1.0)[:, None, None]
    for g in grads:
        g.mul_(scale)
