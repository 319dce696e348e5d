"""The TensorBoard log: one folder per run, so `tensorboard --logdir logs` shows runs
side by side, and one event file per checkpoint, so a killed run loses nothing that
its checkpoint holds; and a run's scalars read back (plot.py, a study's curves).

TensorBoard shows its groups in alphabetical order, so the deck's log/score comes first
only where every other group sorts after `log`: train/, policy/, test/."""
import io
import os
import time

from PIL import Image
from tensorboardX import SummaryWriter
from tensorboardX.proto.summary_pb2 import Summary

from ddpg_extras.run.files import first_free


def make_run_name(logdir, env_name, seed):
    """<env>_seed<seed>_<date>-<time>, unique under logdir; the run's checkpoint takes
    the same name."""
    name = os.path.join(logdir, '{}_seed{}_{}'.format(env_name, seed,
                                                      time.strftime('%Y%m%d-%H%M%S')))
    return os.path.basename(first_free(name, '{}_{{}}'.format(name).format))


def hyperparameters_table(args):
    """Every flag of the run, as a Markdown table for TensorBoard's text tab."""
    return '|flag|value|\n|-|-|\n' + '\n'.join(
        '|{}|{}|'.format(k, v) for k, v in sorted(vars(args).items()))


class RunWriter:
    """A tensorboardX SummaryWriter on run_dir that can start a new event file
    (next_file) without losing anything it has queued."""

    def __init__(self, run_dir, purge_step=None):
        self.run_dir = run_dir
        self.writer = self.open(purge_step)

    def open(self, purge_step=None):
        # tensorboardX names its files by the second, so each part of a run gets a
        # numbered suffix and never overwrites the one before. purge_step hides what a
        # killed run logged after its last checkpoint, which the resumed run logs again.
        os.makedirs(self.run_dir, exist_ok=True)
        part = sum(name.startswith('events.out.tfevents.')
                   for name in os.listdir(self.run_dir)) + 1
        return SummaryWriter(self.run_dir, purge_step=purge_step,
                             filename_suffix='.part{:03d}'.format(part))

    def next_file(self):
        """Only close() makes tensorboardX write out all it has queued: the log must be
        on disk before the checkpoint that follows it is."""
        self.writer.close()
        self.writer = self.open()

    def add_scalar(self, tag, value, step):
        self.writer.add_scalar(tag, value, step)

    def add_image(self, tag, image, step):
        """An RGB array (height, width, 3), as TensorBoard's image tab shows it: a PNG
        of the fastest compression, a third of the time of tensorboardX's add_image
        (which also resamples it to its own size), in the same record."""
        png = io.BytesIO()
        Image.fromarray(image).save(png, format='PNG', compress_level=1)
        picture = Summary.Image(height=image.shape[0], width=image.shape[1], colorspace=3,
                                encoded_image_string=png.getvalue())
        self.writer.file_writer.add_summary(
            Summary(value=[Summary.Value(tag=tag, image=picture)]), step)

    def add_text(self, tag, text):
        self.writer.add_text(tag, text)

    def close(self):
        self.writer.close()


# Groups that older runs logged under other names, which sorted before log/ in TensorBoard
RENAMED = {'actor/': 'policy/', 'eval/': 'test/'}


def tag_name(tag):
    """Today's name of a tag, also where an older run logged it under another."""
    for old, new in RENAMED.items():
        if tag.startswith(old):
            return new + tag[len(old):]
    return tag


def scalars(run_dir, tags=None):
    """{tag: (episodes, values)} of the tags (all, without tags) that the run's event
    files hold, read with TensorBoard's own reader, by today's names (an older run's
    too); none where the folder is gone."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    if not os.path.isdir(run_dir):
        return {}
    events = EventAccumulator(run_dir, size_guidance={'scalars': 0})  # 0: every point
    events.Reload()
    wanted = None if tags is None else {tag_name(tag) for tag in tags}
    return {tag_name(tag): ([e.step for e in events.Scalars(tag)],
                            [e.value for e in events.Scalars(tag)])
            for tag in events.Tags()['scalars'] if wanted is None or tag_name(tag) in wanted}


def logged_flags(run_dir):
    """{flag: its value, as text} of the hyperparameters table a run logged (its first),
    read with TensorBoard's own reader; {} where there is none or it cannot be read."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util
    events = EventAccumulator(run_dir, size_guidance={'tensors': 1})
    events.Reload()
    if 'hyperparameters/text_summary' not in events.Tags().get('tensors', []):
        return {}
    try:
        text = tensor_util.make_ndarray(events.Tensors('hyperparameters/text_summary')[0]
                                        .tensor_proto).item().decode()
    except (ValueError, UnicodeDecodeError, IndexError):
        return {}
    cells = (line.strip('|').split('|') for line in text.splitlines()[2:])
    return {cell[0]: cell[1] for cell in cells if len(cell) == 2}
