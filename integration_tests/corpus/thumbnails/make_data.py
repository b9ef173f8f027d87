"""Writes three photos (PNG) into photos/ for script.py."""

import os

from PIL import Image, ImageDraw

os.makedirs("photos", exist_ok=True)
for index, colour in enumerate(["tomato", "seagreen", "steelblue"]):
    image = Image.new("RGB", (64, 48), colour)
    ImageDraw.Draw(image).ellipse((8 + 8 * index, 8, 40 + 8 * index, 40), fill="white")
    image.save(f"photos/photo_{index}.png")
