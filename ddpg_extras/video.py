"""test.py's recordings: the episodes as an MP4, or as a GIF that plays in a README,
written to a .part file that is renamed only when complete."""
import os
import time

from ddpg_extras.checks import check_writable
from ddpg_extras.environments import draw_off_screen, has_display


def video_path(record, no_render, model_path):
    """Where test.py records: --record, or, where no display exists, a new file in
    videos/; None for a window (or for --no_render)."""
    if no_render or not (record or not has_display()):
        return None
    draw_off_screen()
    stem = os.path.splitext(os.path.basename(model_path))[0]
    return record or os.path.join('videos', '{}_{}.mp4'.format(
        stem, time.strftime('%Y%m%d-%H%M%S')))


class Video:
    """Frames of an rgb_array environment into the file at path."""

    def __init__(self, path, env):
        import imageio.v2 as imageio  # only needed for videos
        check_writable(os.path.dirname(path) or '.', '--record')
        self.path, self.env = path, env
        stem, ext = os.path.splitext(path)
        self.partial = stem + '.part' + ext  # renamed when complete
        fps = env.metadata.get('render_fps', 30)
        if ext == '.gif':  # Pillow's GIF writer: frame time in ms, loop forever
            self.writer = imageio.get_writer(self.partial, duration=1000 / fps, loop=0)
        else:
            self.writer = imageio.get_writer(self.partial, fps=fps, macro_block_size=2)

    def frame(self):
        self.writer.append_data(self.env.render())

    def close(self):
        self.writer.close()
        os.replace(self.partial, self.path)
