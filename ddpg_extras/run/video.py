"""test.py's recordings: the episodes as an MP4, or as a GIF that plays in a README,
written to a .part file that is renamed only when complete, and never over a file that
is there."""
import os
import time

from ddpg_extras.run.checks import check_writable, fail
from ddpg_extras.run.environments import draw_off_screen, has_display
from ddpg_extras.run.files import first_free


def video_path(record, no_render, model_path):
    """Where test.py records: --record, or, where no display exists, a new file in
    videos/; None for a window (or for --no_render)."""
    if no_render or not (record or not has_display()):
        return None
    draw_off_screen()
    if record and os.path.exists(record):
        fail('--record {}: that file is there already, and a recording never replaces a '
             'file; give another name, or move it away'.format(record))
    name = os.path.join('videos', '{}_{}'.format(
        os.path.splitext(os.path.basename(model_path))[0], time.strftime('%Y%m%d-%H%M%S')))
    return record or first_free(name + '.mp4', (name + '_{}.mp4').format)


class Video:
    """Frames of an rgb_array environment into the file at path."""

    def __init__(self, path, env):
        import imageio.v2 as imageio  # only needed for videos
        check_writable(os.path.dirname(path) or '.', '--record')
        self.path, self.env = path, env
        stem, ext = os.path.splitext(path)
        # renamed when complete; a new one beside a stopped recording's
        self.partial = first_free(stem + '.part' + ext, (stem + '.part{}' + ext).format)
        fps = env.metadata.get('render_fps', 30)
        if ext == '.gif':  # Pillow's GIF writer: frame time in ms, loop forever
            self.writer = imageio.get_writer(self.partial, duration=1000 / fps, loop=0)
        else:
            self.writer = imageio.get_writer(self.partial, fps=fps, macro_block_size=2)

    def frame(self):
        self.writer.append_data(self.env.render())

    def close(self, complete):
        """The recording, under its name where it is complete; returns where it is. A
        stopped one, or one whose name another process took meanwhile, keeps its .part
        name."""
        self.writer.close()
        if not complete:
            return self.partial
        try:
            os.link(self.partial, self.path)  # never over a file: link fails where one is
        except FileExistsError:
            return self.partial
        os.remove(self.partial)
        return self.path
