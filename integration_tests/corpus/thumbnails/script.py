"""Grayscale thumbnails of a folder of photos, and an animated contact sheet."""

from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image, ImageOps

Path("thumbs").mkdir(exist_ok=True)
frames = []
for path in sorted(Path("photos").glob("*.png")):
    with Image.open(path) as image:
        thumb = ImageOps.grayscale(image).resize((32, 24))
    thumb.save(Path("thumbs") / path.name)
    frames.append(np.asarray(thumb))

iio.imwrite("thumbs/contact_sheet.gif", np.stack(frames), duration=200, loop=0)
sheet = iio.imread("thumbs/contact_sheet.gif", index=None)
print(sheet.shape)
