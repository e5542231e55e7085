"""A default portrait for a card that never had one, so it can still travel as a PNG.

Deterministic: the colours come from the character's name, so exporting twice gives the
same picture. No text is drawn (a CJK font may not be installed).
"""

from __future__ import annotations

import colorsys
import hashlib
import io

from PIL import Image, ImageDraw

SIZE = (400, 600)  # the 2:3 portrait most card front ends show


def default_avatar(name: str) -> bytes:
    """PNG bytes of a soft two-tone portrait tinted by `name`."""
    hue = hashlib.sha256(name.encode("utf-8")).digest()[0] / 255

    def rgb(lightness: float, saturation: float) -> tuple[int, int, int]:
        return tuple(round(c * 255) for c in colorsys.hls_to_rgb(hue, lightness, saturation))

    width, height = SIZE
    image = Image.new("RGB", SIZE, rgb(0.22, 0.35))
    draw = ImageDraw.Draw(image)
    for y in range(height):  # a vertical glow, dark at the bottom like a hearth's light
        draw.line([(0, y), (width, y)], fill=rgb(0.75 - 0.5 * y / height, 0.45))
    head = (width * 0.3, height * 0.22, width * 0.7, height * 0.49)
    body = (width * 0.14, height * 0.53, width * 0.86, height * 1.05)
    draw.ellipse(head, fill=rgb(0.9, 0.3))
    draw.ellipse(body, fill=rgb(0.9, 0.3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
