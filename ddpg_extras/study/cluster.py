"""Ray for a study (not in the deck): starting it here or joining a cluster, and the one
line that says why not where it cannot, instead of Ray's own warnings; a finished
trial's outcome."""
import contextlib
import os
import socket
import sys
import tempfile

from ddpg_extras.run.checks import fail
from ddpg_extras.study.stops import held


def import_ray():
    try:
        import ray
    except ImportError:
        fail('Ray is not installed; install it with: pip install -r requirements/study.txt')
    return ray


def check_address(address):
    """One line if nothing answers at a head's host:port ('auto' and ray:// are Ray's)."""
    if address == 'auto' or address.startswith('ray://'):
        return
    host, _, port = address.rpartition(':')
    if not (host and port.isdigit()):
        fail('--address {!r} is not host:port (the head node\'s, as `ray start --head` '
             'prints it) or auto'.format(address))
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        fail('cannot reach a Ray cluster at --address {}: {}; start one with `ray start '
             '--head`, or drop --address to run on this machine'.format(address,
                                                                    e.strerror or e))


def start_ray(ray, args, root):
    """Start Ray on this machine for the study (args.workers), or join the cluster at
    args.address; else one line that says why not, and for a cluster's token what to
    set. Workers import the project from root: on a cluster, every node needs the
    repository at this same path (docs/studies.md, "On a cluster")."""
    env_vars = {'PYTHONPATH': root, 'OMP_NUM_THREADS': '1'}
    options = dict(log_to_driver=False, logging_level='ERROR')
    with held_back_stderr() as said:  # Ray's own warnings, from Python and from C++
        try:
            with held():  # a signal is acted on once Ray has started, not Ray's handler
                if args.address:
                    ray.init(address=args.address, runtime_env={'env_vars': env_vars},
                             **options)
                else:  # Ray's processes inherit this one's environment: the workers it
                    os.environ.update(env_vars)  # starts at once serve the trials (a
                    ray.init(address='local', num_cpus=args.workers,  # runtime_env would
                             include_dashboard=False, **options)  # start others)
            return
        except Exception as e:  # Ray raises ConnectionError, RuntimeError, ValueError, ...
            error = e
    fail(ray_error(error, said.read().decode(errors='replace'), args.address))


@contextlib.contextmanager
def held_back_stderr():
    """What is written to standard error (file descriptor 2) meanwhile, in a file."""
    sys.stderr.flush()
    saved, held = os.dup(2), tempfile.TemporaryFile()
    os.dup2(held.fileno(), 2)
    try:
        yield held
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        held.seek(0)


def ray_error(error, said, address):
    """The one line for a Ray that would not start or connect: for a cluster's token
    authentication (Ray 2.60's default), what to set."""
    causes, cause = [], error
    while cause is not None:
        causes.append('{}: {}'.format(type(cause).__name__, cause))
        cause = cause.__cause__ or cause.__context__
    text = '\n'.join(causes) + said
    where = ' at --address ' + address if address else ''
    how = ("this machine needs RAY_AUTH_MODE=token and the head's token, in "
           '~/.ray/auth_token (copied from the head) or in RAY_AUTH_TOKEN; see docs/studies.md, '
           '"On a cluster"')
    if 'InvalidAuthToken' in text:
        if os.environ.get('RAY_AUTH_MODE', '').lower() == 'token':
            return 'the Ray cluster{} refused this machine\'s token: {}'.format(where, how)
        return 'the Ray cluster{} asks for a token: {}'.format(where, how)
    if 'no authentication token was found' in text:
        return 'RAY_AUTH_MODE=token is set, but no token was found for the Ray cluster{}: {}' \
            .format(where, how)
    return 'cannot start Ray{}: {}'.format(where, str(error).split('\n')[0])


def outcome(ray, ref):
    """A finished task's result, or {'failed': why} where Ray gave it up."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as e:
        return {'failed': 'failed: ' + str(e).strip().split('\n')[-1]}
