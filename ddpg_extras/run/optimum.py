"""The optimum DDPG is learning on Pendulum (not in the deck): V*(s) and the greedy
policy mu*(s) over the state plane (the angle and the angular velocity), by value
iteration on Pendulum-v1's own dynamics, as Gymnasium's source defines them:

    cost = angle_normalize(th)**2 + 0.1 * thdot**2 + 0.001 * u**2   (the reward: -cost)
    thdot' = clip(thdot + (3 g / (2 l) * sin(th) + 3 / (m l**2) * u) * dt, -8, 8)
    th' = th + thdot' * dt

with g = 10, m = l = 1, dt = 0.05 and the torque u in [-2, 2], discounted by the run's
--gamma. V is kept on a grid of angles (periodic) x speeds and read between its points
bilinearly; the torques are a grid too. Modified policy iteration: each round takes the
greedy torque of every state, then evaluates that policy by repeated sweeps. About a
second; kept in a cache file named by everything it depends on, so it cannot go stale.

tests/test_landscape.py checks it against the real environment: its greedy policy,
read off the grid, scores about -141 per episode (the best achievable is about -138),
and V* is the discounted return of its own rollouts."""
import os
import zipfile

import numpy as np

G, MASS, LENGTH, DT, MAX_SPEED, MAX_TORQUE = 10.0, 1.0, 1.0, 0.05, 8.0, 2.0
GRID = (101, 101, 21)  # angles, speeds, torques
VERSION = 1  # of the dynamics and the solver: a new one makes new cache files


class Optimum:
    """V* and mu* on the grid: value[i, j] and policy[i, j] at angle angles[i] (radians,
    upright at 0) and speed speeds[j] (rad/s)."""

    def __init__(self, angles, speeds, value, policy, gamma):
        self.angles, self.speeds, self.value, self.policy = angles, speeds, value, policy
        self.gamma = gamma

    def at(self, grid, angle, speed):
        """A grid's values at any states (arrays of angles and speeds), bilinearly."""
        weights, index = corners(len(self.angles), len(self.speeds), angle, speed)
        return (weights * grid.ravel()[index]).sum(0)


def corners(n_angles, n_speeds, angle, speed):
    """The bilinear weights (4, ...) and flat indices (4, ...) of the grid points around
    each state; the angle wraps around, the speed is clipped to its range."""
    a = (np.asarray(angle) + np.pi) % (2 * np.pi) / (2 * np.pi) * n_angles
    s = (np.clip(speed, -MAX_SPEED, MAX_SPEED) + MAX_SPEED) / (2 * MAX_SPEED) * (n_speeds - 1)
    i0, j0 = np.floor(a).astype(np.int64), np.clip(np.floor(s).astype(np.int64), 0, n_speeds - 2)
    da, ds = a - i0, s - j0
    i0, i1 = i0 % n_angles, (i0 + 1) % n_angles
    index = np.stack([i0 * n_speeds + j0, i0 * n_speeds + j0 + 1,
                      i1 * n_speeds + j0, i1 * n_speeds + j0 + 1])
    weights = np.stack([(1 - da) * (1 - ds), (1 - da) * ds, da * (1 - ds), da * ds])
    return weights, index


def step(angle, speed, torque):
    """Pendulum-v1's step: (the reward, the next angle, the next speed)."""
    cost = (((angle + np.pi) % (2 * np.pi)) - np.pi) ** 2 + 0.1 * speed ** 2 + 0.001 * torque ** 2
    speed2 = np.clip(speed + (3 * G / (2 * LENGTH) * np.sin(angle)
                              + 3.0 / (MASS * LENGTH ** 2) * torque) * DT, -MAX_SPEED, MAX_SPEED)
    return -cost, angle + speed2 * DT, speed2


def solve(gamma, grid=GRID, tolerance=1e-4, sweeps=120):
    """Value iteration: the Optimum for this discount, on this grid."""
    n_angles, n_speeds, n_torques = grid
    angles = np.linspace(-np.pi, np.pi, n_angles, endpoint=False)
    speeds = np.linspace(-MAX_SPEED, MAX_SPEED, n_speeds)
    torques = np.linspace(-MAX_TORQUE, MAX_TORQUE, n_torques)
    a, s, u = np.meshgrid(angles, speeds, torques, indexing='ij')
    reward, a2, s2 = step(a, s, u)
    weights, index = corners(n_angles, n_speeds, a2, s2)  # (4, angles, speeds, torques)
    reward, weights = reward.reshape(-1, n_torques), weights.reshape(4, -1, n_torques)
    index, states = index.reshape(4, -1, n_torques), np.arange(n_angles * n_speeds)
    value = np.zeros(n_angles * n_speeds)
    while True:
        q = reward + gamma * (weights * value[index]).sum(0)
        greedy = q.argmax(1)  # the policy ...
        r, w, i = reward[states, greedy], weights[:, states, greedy], index[:, states, greedy]
        new = q[states, greedy]
        for _ in range(sweeps):  # ... and its value
            new = r + gamma * (w * new[i]).sum(0)
        change, value = np.abs(new - value).max(), new
        if change < tolerance:
            break
    shape = (n_angles, n_speeds)
    return Optimum(angles, speeds, value.reshape(shape), torques[greedy].reshape(shape), gamma)


def cache_path(gamma, grid=GRID):
    """Where the optimum for this discount and grid is kept: the user's cache folder."""
    folder = os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'),
                          'ddpg-deck')
    return os.path.join(folder, 'pendulum-optimum-v{}-gamma{!r}-{}x{}x{}.npz'.format(
        VERSION, float(gamma), *grid))


def optimum(gamma, grid=GRID):
    """The Optimum for this discount: from the cache where it reads back whole and as it
    must be, else solved and kept there (a cache that cannot be written is no error)."""
    from ddpg_extras.run.files import atomic_write
    path = cache_path(gamma, grid)
    try:
        with np.load(path) as kept:
            found = Optimum(kept['angles'], kept['speeds'], kept['value'], kept['policy'], gamma)
        if (found.value.shape == found.policy.shape == grid[:2] and np.isfinite(found.value).all()
                and np.isfinite(found.policy).all()):
            return found
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # none yet, or
        pass  # a damaged one (garbage, cut short): solved again
    found = solve(gamma, grid)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, angles=found.angles, speeds=found.speeds,
                                              value=found.value, policy=found.policy))
    except OSError:
        pass
    return found
