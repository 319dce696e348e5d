"""--device: cpu by default, cuda when asked and available, one clear line otherwise.
The cuda tests run only where PyTorch sees a GPU."""
import pytest
import torch
import torch.optim as optim
from test_train_model import GAMMA, LR, assert_same_weights, fixed_batch, make_nets
from test_train_seeds import batches, make_seed

import train
import train_seeds
from conftest import assert_clean_error, run_script
from ddpg_extras.run.fast_update import adam_step, fast_train_model
from ddpg_extras.run.files import load_actor_weights
from ddpg_extras.seeds.batched import SeedNets
from utils import ReplayBuffer

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='PyTorch sees no CUDA GPU')


@pytest.mark.skipif(torch.cuda.is_available(), reason='a CUDA GPU is available here')
def test_cuda_without_a_gpu_gets_one_clear_line(tmp_path):
    result = run_script('train.py', '--save_path', tmp_path, '--logdir', tmp_path,
                        '--device', 'cuda')
    assert_clean_error(result, 'error: --device cuda', 'sees no CUDA GPU', '--device cpu')
    assert not list(tmp_path.iterdir())  # nothing was started


def test_a_device_pytorch_does_not_know_gets_argparses_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        train.main(['--device', 'gpu0'])
    assert exit_.value.code == 2
    assert "--device 'gpu0' is not a device PyTorch knows; use cpu or cuda" in (
        capsys.readouterr().err)


def test_other_kinds_of_device_are_refused(tmp_path):
    result = run_script('train.py', '--save_path', tmp_path, '--logdir', tmp_path,
                        '--device', 'meta')
    assert_clean_error(result, 'error: --device meta: only cpu and cuda', '--device cpu')


def test_the_buffer_hands_out_batches_on_its_device():
    buffer = ReplayBuffer(10, 3, 1, seed=0, device='cpu')
    for i in range(10):
        buffer.append(([i, i, i], [0.5], -1.0, [i + 1] * 3, 1))
    batch = buffer.sample(4)
    assert all(t.device.type == 'cpu' for t in batch)
    # On the CPU the batch shares the sampled rows' memory instead of copying them.
    assert batch[0].data_ptr() + 12 == batch[1].data_ptr()


@cuda
def test_train_model_on_cuda_matches_the_autograd_form_on_the_cpu():
    nets, ref = make_nets(), make_nets()
    nets = [net.to('cuda') for net in nets]
    opts = [optim.Adam(n.parameters(), lr=LR, fused=True) for n in nets[:2]]
    ref_opts = [optim.Adam(n.parameters(), lr=LR, fused=True) for n in ref[:2]]
    for step in range(10):
        batch = fixed_batch()
        batch = (batch[0] + step, *batch[1:])
        losses = fast_train_model(*nets, *opts, [t.cuda() for t in batch], GAMMA)
        ref_losses = train.train_model(*ref, *ref_opts, batch, GAMMA)
        for mine, theirs in zip(losses, ref_losses):
            assert abs(mine - theirs) <= 1e-4 * max(1.0, abs(theirs))
    for mine, theirs in zip(nets, ref):
        assert_same_weights(mine.cpu(), theirs, atol=1e-4)


@cuda
def test_adam_step_on_cuda_is_fused_adams_step():
    a, b = make_nets()[1].cuda(), make_nets()[1].cuda()  # two identical critics
    opt_a, opt_b = (optim.Adam(n.parameters(), lr=LR, fused=True) for n in (a, b))
    for _ in range(3):
        for p, q in zip(a.parameters(), b.parameters()):
            p.grad = torch.randn_like(p)
            q.grad = p.grad.clone()
        opt_a.step()
        adam_step(opt_b)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


@cuda
def test_a_run_on_cuda_saves_an_actor_that_loads_on_the_cpu(tmp_path):
    result = run_script('train.py', '--save_path', tmp_path, '--logdir', tmp_path,
                        '--device', 'cuda', '--max_iter_num', 2)
    assert result.returncode == 0, result.stderr
    saved = next(tmp_path.glob('Pendulum-v1_seed500_*[0-9].pth'))  # the actor
    weights = torch.load(saved, weights_only=True)  # no map_location: as the deck loads
    assert all(t.device.type == 'cpu' for t in weights.values())
    load_actor_weights(str(saved))


@cuda
def test_train_seeds_on_cuda_trains_and_matches_the_cpu_update(tmp_path):
    results = train_seeds.main(['--seeds', '500-503', '--max_iter_num', '2', '--device', 'cuda',
                                '--save_path', str(tmp_path), '--logdir', str(tmp_path / 'l')])
    assert [r['episodes'] for r in results] == [2] * 4
    on_cpu = [make_seed(s) for s in range(3)]
    on_gpu = [make_seed(s) for s in range(3)]
    for agent in on_gpu:
        for net in agent[:4]:
            net.to('cuda')
    cpu, gpu = SeedNets(on_cpu), SeedNets(on_gpu)
    for step in range(5):
        mini_batch = batches(step, 3)
        cpu.train_model(mini_batch, GAMMA)
        gpu.train_model(tuple(x.cuda() for x in mini_batch), GAMMA)
    for a, b in zip(on_cpu, on_gpu):
        for mine, theirs in zip(a[:4], b[:4]):
            assert_same_weights(mine, theirs.cpu(), atol=1e-5)
