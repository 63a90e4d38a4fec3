"""A fake camera for Chromium: a picture written as a YUV4MPEG2 (.y4m) file for --use-file-for-fake-video-capture.

The format (from the YUV4MPEG2 description that ships with mjpegtools and ffmpeg's y4m muxer): one text header line
`YUV4MPEG2 W<width> H<height> F<num>:<den> Ip A1:1 C420jpeg`, then per frame a line `FRAME` followed by the Y plane
(width × height bytes) and the U and V planes (each width/2 × height/2 bytes, 4:2:0). A grey picture has U = V = 128.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

WIDTH, HEIGHT = 640, 480


def write_y4m(picture: Path, target: Path, frames: int = 5) -> Path:
    """`picture` centred on a white 640×480 frame (scaled to fit with a margin), repeated `frames` times."""
    image = Image.open(picture).convert("L")
    image.thumbnail((WIDTH - 40, HEIGHT - 40))
    frame = Image.new("L", (WIDTH, HEIGHT), 255)
    frame.paste(image, ((WIDTH - image.width) // 2, (HEIGHT - image.height) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
    with target.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            out.write(b"FRAME\n" + luma + chroma + chroma)
    return target
