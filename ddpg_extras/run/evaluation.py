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


def optimum_scores(best, seeds, chunk=100):
    """The scores of the optimum's greedy policy (best.greedy: V* and one step of
    look-ahead) in the real Pendulum-v1, one episode from each reset seed, as test.py
    runs an actor: `chunk` environments stepped side by side, their torques chosen at
    once."""
    import gymnasium as gym
    scores = []
    for first in range(0, len(seeds), chunk):
        envs = [gym.make('Pendulum-v1') for _ in seeds[first:first + chunk]]
        states = np.array([env.reset(seed=seed)[0] for env, seed in zip(envs, seeds[first:])])
        totals, done = np.zeros(len(envs)), np.zeros(len(envs), dtype=bool)
        while not done.all():
            torques = best.greedy(np.arctan2(states[:, 1], states[:, 0]), states[:, 2])
            for k in np.flatnonzero(~done):
                states[k], reward, terminated, truncated, _ = envs[k].step(
                    torques[k:k + 1].astype(np.float32))
                totals[k], done[k] = totals[k] + reward, terminated or truncated
        scores.extend(totals)
        for env in envs:
            env.close()
    return [float(score) for score in scores]
