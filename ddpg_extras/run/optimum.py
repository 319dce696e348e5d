"""The optimum DDPG is learning on Pendulum (not in the deck): V*(s) and the greedy
policy mu*(s) over the state plane (the angle and the angular velocity), by value
iteration on Pendulum-v1's own dynamics, as Gymnasium's source defines them:

    cost = angle_normalize(th)**2 + 0.1 * thdot**2 + 0.001 * u**2   (the reward: -cost)
    thdot' = clip(thdot + (3 g / (2 l) * sin(th) + 3 / (m l**2) * u) * dt, -8, 8)
    th' = th + thdot' * dt

with g = 10, m = l = 1, dt = 0.05 and the torque u in [-2, 2], discounted by the run's
--gamma. V is kept on a grid of angles (periodic, the upright state one of them) x
speeds and read between its points bilinearly; the torques are a grid too. Modified
policy iteration: each round takes the greedy torque of every state, then evaluates that
policy by repeated sweeps. Seconds, once per discount: kept in a cache file named by
everything it depends on, so it cannot go stale.

mu* anywhere is the greedy torque with one step of look-ahead (greedy()): the best of
81 torques for the reward now plus the discounted V* where it leads. Over the 1,000
starts of test.py --seed 20000 --episodes 1000 it scores (python benchmarks/optimum.py):
-138.9 with V* on 100x101 angles x speeds, -137.4 on 200x201, -136.8 on 300x301,
-136.6 on 400x401 (GRID), -136.4 on 600x601.

value_of() evaluates any policy on a grid the same way: V^mu, the value DDPG's critic
learns (tests/test_landscape.py checks both against rollouts in the real environment)."""
import os
import sys

import numpy as np

G, MASS, LENGTH, DT, MAX_SPEED, MAX_TORQUE = 10.0, 1.0, 1.0, 0.05, 8.0, 2.0
GRID = (400, 401, 21)  # angles (an even number: upright is one), speeds, torques
VERSION = 2  # of the dynamics and the solver: a new one makes new cache files
# The highest discount the landscapes are drawn for: the optimum takes seconds up to it,
# and an actor's value (value_of) 1 / (1 - gamma) sweeps, at 1 for ever.
MAX_GAMMA = 0.999
ROUNDS = 300  # at most: value iteration that has not settled by then stops with a line
TORQUES = np.linspace(-MAX_TORQUE, MAX_TORQUE, 81)  # greedy()'s choices


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

    def greedy(self, angle, speed):
        """mu* at any states: the torque of TORQUES with the most reward now plus the
        discounted V* where it leads (one step of look-ahead)."""
        angle, speed = np.asarray(angle, dtype=float), np.asarray(speed, dtype=float)
        reward, angle2, speed2 = step(angle[..., None], speed[..., None], TORQUES)
        return TORQUES[(reward + self.gamma * self.at(self.value, angle2, speed2)).argmax(-1)]


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


def axes(grid):
    """The grid's angles (from -pi, an even number of them holds 0 exactly), speeds and
    torques."""
    n_angles, n_speeds, n_torques = grid
    return ((np.arange(n_angles) - n_angles / 2) * (2 * np.pi / n_angles),
            np.linspace(-MAX_SPEED, MAX_SPEED, n_speeds),
            np.linspace(-MAX_TORQUE, MAX_TORQUE, n_torques))


def solve(gamma, grid=GRID, tolerance=1e-4, sweeps=30, rounds=None):
    """Value iteration: the Optimum for this discount, on this grid; ValueError where
    it has not settled within rounds rounds (ROUNDS; a discount of 1 never settles)."""
    n_angles, n_speeds, n_torques = grid
    rounds = rounds or ROUNDS
    angles, speeds, torques = axes(grid)
    a, s, u = np.meshgrid(angles, speeds, torques, indexing='ij')
    reward, a2, s2 = step(a, s, u)
    weights, index = corners(n_angles, n_speeds, a2, s2)  # (4, angles, speeds, torques)
    del a, s, u, a2, s2  # (single precision: half the memory, 200 MB on GRID)
    weights, index = weights.astype(np.float32), index.astype(np.int32)
    reward, weights = reward.reshape(-1, n_torques), weights.reshape(4, -1, n_torques)
    index, states = index.reshape(4, -1, n_torques), np.arange(n_angles * n_speeds)
    value = np.zeros(n_angles * n_speeds)
    for _ in range(rounds):
        q = reward + gamma * (weights * value[index]).sum(0)
        greedy = q.argmax(1)  # the policy ...
        r, w, i = reward[states, greedy], weights[:, states, greedy], index[:, states, greedy]
        new = q[states, greedy]
        for _ in range(sweeps):  # ... and its value
            new = r + gamma * (w * new[i]).sum(0)
        change, value = np.abs(new - value).max(), new
        if change < tolerance:
            break
    else:
        raise ValueError('value iteration did not settle within {} rounds at gamma {:g} (its '
                         'last round changed the values by {:.3g})'.format(rounds, gamma, change))
    shape = (n_angles, n_speeds)
    return Optimum(angles, speeds, value.reshape(shape), torques[greedy].reshape(shape), gamma)


LOOK = 10  # real steps value_of() follows a policy from each grid point between two reads


def value_of(policy, gamma, angles, speeds, start=None, tolerance=1e-3):
    """V^mu on a grid of angles (periodic) x speeds: the discounted return of a policy
    (a function of arrays of angles and speeds, giving torques) from each point, by
    policy evaluation. Each sweep follows the policy LOOK real steps from every point,
    then reads V between the points: a tenth of the reads, so a tenth of their blur
    (the optimum's own greedy policy, evaluated so on the landscapes' 100x101 grid, comes
    within 0.25 of V* on average over Pendulum's starts; 0.84 with LOOK 5).
    start: a first guess (the last picture's); the sweeps stop where what is left is
    below tolerance, so within a bounded number of them (1 / (1 - gamma) times a log)."""
    angle, speed = (a.ravel() for a in np.meshgrid(angles, speeds, indexing='ij'))
    rewards, discount = np.zeros(angle.shape), 1.0
    for _ in range(LOOK):
        reward, angle, speed = step(angle, speed, np.clip(policy(angle, speed), -MAX_TORQUE,
                                                          MAX_TORQUE))
        rewards, discount = rewards + discount * reward, discount * gamma
    if not np.isfinite(rewards).all():  # an actor gone to NaN has no value to find
        return np.full((len(angles), len(speeds)), np.nan)
    weights, index = corners(len(angles), len(speeds), angle, speed)
    value = start.ravel() if start is not None and np.isfinite(start).all() else np.zeros(
        angle.shape)
    while True:  # each sweep shrinks the error by discount: the sup-norm bound below
        new = rewards + discount * (weights * value[index]).sum(0)
        change, value = np.abs(new - value).max(), new
        if change * discount / (1 - discount) < tolerance:
            return value.reshape(len(angles), len(speeds))


def cache_path(gamma, grid=GRID):
    """Where the optimum for this discount and grid is kept: the user's cache folder
    ($XDG_CACHE_HOME where it is an absolute path, as the XDG specification says; else
    ~/.cache)."""
    home = os.environ.get('XDG_CACHE_HOME', '')
    folder = os.path.join(home if os.path.isabs(home) else os.path.expanduser('~/.cache'),
                          'ddpg-deck')
    return os.path.join(folder, 'pendulum-optimum-v{}-gamma{!r}-{}x{}x{}.npz'.format(
        VERSION, float(gamma), *grid))


def read_cache(path, gamma, grid=GRID):
    """The Optimum kept at path, or None where there is none, or it is not whole and as
    solve() makes it (its grid's own angles and speeds, finite values and torques of
    the grid's shape): garbage, a file cut short, another kind of file."""
    try:
        with np.load(path, allow_pickle=False) as kept:
            arrays = [np.asarray(kept[key]) for key in ('angles', 'speeds', 'value', 'policy')]
    except Exception:  # none yet; or a damaged one: NumPy raises many kinds (OSError,
        return None  # ValueError, KeyError, EOFError, BadZipFile, TypeError, ...)
    angles, speeds, _ = axes(grid)
    if not (all(a.dtype == np.float64 for a in arrays) and arrays[0].shape == angles.shape
            and arrays[1].shape == speeds.shape and np.array_equal(arrays[0], angles)
            and np.array_equal(arrays[1], speeds)
            and arrays[2].shape == arrays[3].shape == grid[:2]
            and np.isfinite(arrays[2]).all() and np.isfinite(arrays[3]).all()
            and (np.abs(arrays[3]) <= MAX_TORQUE).all()):
        return None
    return Optimum(*arrays, gamma)


def optimum(gamma, grid=GRID):
    """The Optimum for this discount: from the cache where it reads back whole and as it
    must be, else solved and kept there (a cache that cannot be written is no error)."""
    from ddpg_extras.run.checks import fail
    from ddpg_extras.run.files import atomic_write
    path = cache_path(gamma, grid)
    found = read_cache(path, gamma, grid)
    if found is not None:
        return found
    print('solving the optimum for --gamma {:g} on a {}x{} grid, once: a few seconds (kept '
          'in {})'.format(gamma, *grid[:2], os.path.dirname(path)), file=sys.stderr, flush=True)
    try:
        found = solve(gamma, grid)
    except ValueError as e:
        fail('the optimum for --gamma {:g}: {}; the landscapes are drawn for a --gamma of at '
             'most {:g}'.format(gamma, e, MAX_GAMMA))
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, lambda f: np.savez(f, angles=found.angles, speeds=found.speeds,
                                              value=found.value, policy=found.policy))
    except OSError:
        pass
    return found
