"""The deck's update, fast: train.py's train_model with its gradients written out by
hand. For 64x64 networks on a CPU, autograd's bookkeeping costs more than the
arithmetic. tests/test_train_model.py checks this against train.train_model, the
deck's autograd form, to 1e-6. Both networks are fc1 -> ReLU -> fc2 -> ReLU -> fc3."""
import torch
import torch.nn.functional as F

from utils import layer_parameters


@torch.inference_mode()  # like no_grad, and skips autograd's dispatch entirely
def fast_train_model(actor, critic, target_actor, target_critic,
                     actor_optimizer, critic_optimizer, mini_batch, gamma,
                     gradient_clip_actor=None, gradient_clip_critic=None):
    """train.train_model, the same update: the critic first, then the actor against the
    updated critic. Returns (critic_loss, actor_loss) as floats."""
    states, actions, rewards, next_states, masks = mini_batch
    batch_size, state_size = states.shape

    # update critic: q_value = critic(states, actions)
    q_value, saved = forward_saving(critic, torch.cat([states, actions], 1))

    # target = rewards + masks * gamma * target_critic(s', target_actor(s')), a constant;
    # shaped (B, 1) like q_value
    target_next_policy, _ = forward_saving(target_actor, next_states)
    target_next_q_value, _ = forward_saving(
        target_critic, torch.cat([next_states, target_next_policy], 1))
    target = torch.addcmul(rewards[:, None], masks[:, None], target_next_q_value, value=gamma)

    # critic_loss = MSELoss()(q_value, target); its gradient: 2 (q_value - target) / B
    error = q_value - target
    critic_loss = error.square().mean()
    backward(critic, saved, error.mul_(2 / batch_size))  # critic_loss.backward()
    if gradient_clip_critic:
        clip_grad_norm(layer_parameters(critic), gradient_clip_critic)
    adam_step(critic_optimizer)  # critic_optimizer.step()

    # update actor: actor_loss = -critic(states, actor(states)).mean(), through the
    # critic that was just updated; its gradient reaches the actor via the action input
    policy, actor_saved = forward_saving(actor, states)
    q_value, saved = forward_saving(critic, torch.cat([states, policy], 1))
    actor_loss = -q_value.mean()
    grad_input = backward(critic, saved, torch.full_like(q_value, -1 / batch_size),
                          param_grads=False)
    backward(actor, actor_saved, grad_input[:, state_size:])  # actor_loss.backward()
    if gradient_clip_actor:
        clip_grad_norm(layer_parameters(actor), gradient_clip_actor)
    adam_step(actor_optimizer)  # actor_optimizer.step()

    return critic_loss.item(), actor_loss.item()


def act(actor, state, device):
    """The deck's actor(torch.Tensor(state)), without autograd's bookkeeping and
    nn.Module's call overhead (together half the cost of acting)."""
    with torch.inference_mode():
        policy, _ = forward_saving(actor, torch.as_tensor(state, dtype=torch.float32,
                                                          device=device))
    return policy


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


def adam_step(optimizer):
    """optimizer.step(), faster for torch.optim.Adam(fused=True): the same fused kernel
    on the optimizer's own state (so its state_dict is unchanged), without the ~50 us
    of Python bookkeeping that step() spends around it on every call, more than the
    arithmetic for these networks. Any other optimizer gets its own step()."""
    if not fast_adam(optimizer):
        return optimizer.step()
    lists = adam_lists([optimizer])
    torch._foreach_add_(lists[-1], 1)  # the steps
    fused_adam_step(lists, optimizer.param_groups[0])


def fast_adam(optimizer):
    """Whether adam_step can take optimizer's step itself: one group of plain fused Adam."""
    group = optimizer.param_groups[0]
    return (type(optimizer) is torch.optim.Adam and len(optimizer.param_groups) == 1
            and group['fused'] and not (group['amsgrad'] or group['maximize']
                                        or group['capturable'] or group['differentiable']
                                        or group.get('decoupled_weight_decay'))
            and isinstance(group['lr'], float))


def adam_lists(optimizers):
    """(params, grads, exp_avgs, exp_avg_sqs, steps) of all the optimizers' parameters,
    for one fused_adam_step; their state is initialised as Adam.step() initialises it."""
    params = [p for optimizer in optimizers for p in optimizer.param_groups[0]['params']]
    state = [optimizer.state[p] for optimizer in optimizers
             for p in optimizer.param_groups[0]['params']]
    if not all(state):
        with torch.inference_mode(False):  # (fast_train_model runs in inference mode)
            for p, s in zip(params, state):
                if not s:  # normal tensors, as Adam.step() makes them
                    s['step'] = torch.zeros((), dtype=torch.float32, device=p.device)
                    s['exp_avg'] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    s['exp_avg_sq'] = torch.zeros_like(p, memory_format=torch.preserve_format)
    return (params, [p.grad for p in params], [s['exp_avg'] for s in state],
            [s['exp_avg_sq'] for s in state], [s['step'] for s in state])


def fused_adam_step(lists, group):
    """Adam's step on adam_lists' tensors, their steps already counted, in one kernel,
    with the hyperparameters of the group (all the optimizers share them)."""
    params, grads, exp_avgs, exp_avg_sqs, steps = lists
    beta1, beta2 = group['betas']
    torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=group['lr'],
                       beta1=beta1, beta2=beta2, weight_decay=group['weight_decay'],
                       eps=group['eps'], amsgrad=False, maximize=False)


def clip_grad_norm(params, max_norm):
    """torch.nn.utils.clip_grad_norm_(params, max_norm) for parameters on one device,
    the same arithmetic without its per-call bookkeeping (which made a training step
    about 45% slower): scale all gradients by max_norm / (their total norm + 1e-6) when
    that is below 1."""
    grads = [p.grad for p in params]
    total_norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, (max_norm / (total_norm + 1e-6)).clamp_(max=1.0))

