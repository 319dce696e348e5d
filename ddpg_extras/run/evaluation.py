"""Noiseless evaluation during training (--eval_interval), as test.py measures an actor."""
import numpy as np
import torch


def evaluate(actor, env, episodes, seed, paths=None):
    """The mean score of the actor without noise, as test.py measures it: `episodes`
    episodes, episode i from reset seed seed + i, the same at every evaluation. paths:
    a list that gets each episode's states, as an array (steps + 1, state size)."""
    low, high = env.action_space.low, env.action_space.high
    device = next(actor.parameters()).device
    scores = []
    for episode in range(episodes):
        state, _ = env.reset(seed=seed + episode)
        done, score, path = False, 0.0, [state]
        while not done:
            with torch.inference_mode():
                action = actor(torch.as_tensor(state, dtype=torch.float32, device=device))
            state, reward, terminated, truncated, _ = env.step(
                np.clip(action.cpu().numpy(), low, high))
            done = terminated or truncated
            score += reward
            path.append(state)
        scores.append(score)
        if paths is not None:
            paths.append(np.array(path))
    return float(np.mean(scores))
