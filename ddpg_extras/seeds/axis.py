"""A cohort's replay buffers and OU noise with the seed first (train_seeds.py): each
step writes all K seeds' transitions at once and draws all K seeds' noise at once,
while each seed keeps what train.py would give it: its own buffer, sampled by its own
generator, and its own stream of noise."""
import numpy as np

from utils import ReplayBuffer


class SeedBuffers:
    """K utils.ReplayBuffers, made as train.py makes its one, whose memories are the
    rows of one (K, capacity, row) array. index and size are arrays here; a seed's own
    buffer gets them (sync) before anything reads it whole: its checkpoint, the
    instruments' probe, its result."""

    def __init__(self, seeds, capacity, state_size, action_size, device='cpu'):
        self.buffers = [ReplayBuffer(capacity, state_size, action_size, seed, device)
                        for seed in seeds]
        self.memory = np.stack([buffer.memory for buffer in self.buffers])
        for buffer, memory in zip(self.buffers, self.memory):
            buffer.memory = memory
        self.capacity, self.seeds = capacity, np.arange(len(seeds))
        self.loaded()

    def loaded(self):
        """Take index and size from the seeds' buffers (after a checkpoint was loaded)."""
        self.index = np.array([buffer.index for buffer in self.buffers])
        self.size = np.array([buffer.size for buffer in self.buffers])

    def sync(self, seeds):
        for i in seeds:
            self.buffers[i].index, self.buffers[i].size = int(self.index[i]), int(self.size[i])

    def append(self, transition, active):
        """Each active seed's (state, action, reward, next_state, mask), rows of (K, ...)
        arrays, written to its own buffer in one assignment: first in, first out."""
        states, actions, rewards, next_states, masks = transition
        rows = np.concatenate([states, actions, rewards[:, None], next_states, masks[:, None]], 1)
        seeds = self.seeds[active]
        self.memory[seeds, self.index[seeds]] = rows[seeds]
        self.index[seeds] = (self.index[seeds] + 1) % self.capacity
        self.size[seeds] = np.minimum(self.size[seeds] + 1, self.capacity)

    def sample(self, batch_size, updating):
        """A mini-batch for every seed as (K, B, ...) tensors, each seed's drawn from its
        own buffer by its own generator, as train.py draws. Seeds not updating get zeros
        and draw nothing, as a single run draws nothing before it has a batch."""
        index, sizes = np.zeros((len(self.buffers), batch_size), np.intp), self.size.tolist()
        for i in self.seeds[updating].tolist():
            index[i] = self.buffers[i].rng.choice(sizes[i], batch_size, replace=False)
        rows = self.memory[self.seeds[:, None], index]  # every seed's rows, one gather
        if not updating.all():
            rows[~updating] = 0
        return self.buffers[0].tensors(rows)


class SeedStreams:
    """K seeds' own NumPy streams, each RandomState(seed) as train.py's np.random.seed
    makes its noise's, drawn for all K at once: randn(K, A) is what each seed's
    randn(A) would give, in order. The draws are made `block` steps ahead, and
    state(i) is seed i's stream as if drawn one step at a time."""

    def __init__(self, seeds, block=256):
        self.streams = [np.random.RandomState(seed) for seed in seeds]
        self.block, self.used, self.drawn, self.before = block, block, None, None

    def randn(self, seeds, action_size):
        if self.used == self.block:
            self.before = [stream.get_state() for stream in self.streams]
            self.drawn = np.stack([stream.randn(self.block, action_size)
                                   for stream in self.streams], 1)
            self.used = 0
        self.used += 1
        return self.drawn[self.used - 1]

    def state(self, i):
        """Seed i's stream, as far as it has been used (for its checkpoint)."""
        if self.used == self.block:
            return self.streams[i]
        stream = np.random.RandomState()
        stream.set_state(self.before[i])
        stream.randn(self.used * self.drawn.shape[2])
        return stream

    def restore(self, i, state):
        """Seed i's stream from its checkpoint, before the cohort has drawn any noise."""
        assert self.used == self.block, 'a stream is restored before any draw'
        self.streams[i].set_state(state)


class SeedNoise:
    """Seed i's OU noise in a cohort's utils.OUNoise of shape (K, A), as a checkpoint
    reads and restores one run's: X, and rng.get_state / rng.set_state."""

    def __init__(self, ou_noise, i):
        self.ou_noise, self.i, self.rng = ou_noise, i, _SeedRng(ou_noise.rng, i)

    @property
    def X(self):
        return self.ou_noise.X[self.i]

    @X.setter
    def X(self, value):
        self.ou_noise.X[self.i] = value


class _SeedRng:
    def __init__(self, streams, i):
        self.streams, self.i = streams, i

    def get_state(self, legacy=False):
        return self.streams.state(self.i).get_state(legacy=legacy)

    def set_state(self, state):
        self.streams.restore(self.i, state)
