"""The real TensorBoard server, started as the README says, serves a run's curve."""
import json
import os
import re
import socket
import subprocess
import sys
import urllib.parse
import urllib.request

import train


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_tensorboard_serves_the_runs_scalars_over_http(tmp_path):
    result = train.main(['--max_iter_num', '3', '--save_path', str(tmp_path),
                         '--logdir', str(tmp_path / 'logs')])
    run = os.path.basename(result['run_dir'])
    tensorboard = os.path.join(os.path.dirname(sys.executable), 'tensorboard')
    # the logs are read once, before the server answers: no waiting is needed
    server = subprocess.Popen([tensorboard, '--logdir', str(tmp_path / 'logs'), '--host',
                               '127.0.0.1', '--port', str(free_port()), '--load_fast', 'false',
                               '--reload_task', 'blocking', '--reload_interval', '0'],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in server.stderr:  # 'TensorBoard 2.21.0 at http://127.0.0.1:PORT/ ...'
            address = re.search(r'at (http://127\.0\.0\.1:\d+/)', line)
            if address:
                break
        assert address, 'TensorBoard did not start'
        runs = json.load(urllib.request.urlopen(address.group(1) + 'data/runs', timeout=30))
        assert runs == [run]
        query = urllib.parse.urlencode({'run': run, 'tag': 'log/score'})
        points = json.load(urllib.request.urlopen(
            address.group(1) + 'data/plugin/scalars/scalars?' + query, timeout=30))
        # [wall time, episode, score] for each of the 3 episodes
        assert [step for _, step, _ in points] == [0, 1, 2]
        assert [round(value, 2) for _, _, value in points] == [
            round(score, 2) for score in result['scores']]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_tensorboard_opens_on_the_decks_curve(tmp_path):
    # TensorBoard's time series shows groups (the part before '/') in alphabetical order,
    # and each group's cards so: log/score, the deck's tag, must come first of all.
    from ddpg_extras.run.writer import scalars
    result = train.main(['--max_iter_num', '2', '--eval_interval', '1', '--eval_episodes', '1',
                         '--save_path', str(tmp_path), '--logdir', str(tmp_path / 'logs')])
    tags = sorted(scalars(result['run_dir']), key=lambda tag: (tag.split('/')[0], tag))
    assert tags[0] == 'log/score'
    assert [tag.split('/')[0] for tag in tags] == sorted(tag.split('/')[0] for tag in tags)
    assert {tag.split('/')[0] for tag in tags} == {'log', 'policy', 'test', 'train', 'truth'}
    assert all(group > 'log' for group in {tag.split('/')[0] for tag in tags} - {'log'})


def test_an_older_runs_tags_still_plot_by_their_new_names(tmp_path):
    from tensorboardX import SummaryWriter

    from ddpg_extras.run.writer import scalars
    with SummaryWriter(str(tmp_path)) as writer:  # as runs logged them before the renaming
        writer.add_scalar('actor/out_of_bounds', 0.5, 0)
        writer.add_scalar('eval/score', -150.0, 0)
    assert scalars(str(tmp_path)) == {'policy/out_of_bounds': ([0], [0.5]),
                                      'test/score': ([0], [-150.0])}
    assert scalars(str(tmp_path), ['actor/out_of_bounds']) == {
        'policy/out_of_bounds': ([0], [0.5])}  # asked by its old name
