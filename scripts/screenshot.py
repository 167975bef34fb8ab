"""Renders a terminal capture with colours (`tmux capture-pane -e -p`) to a PNG, the way the
terminal showed it. Used to make assets/dashboard.png:

    tmux capture-pane -e -p -t SESSION > capture.ans
    python3 scripts/screenshot.py capture.ans assets/dashboard.png 120 36

Needs `pip install pillow pyte` and the DejaVu Sans Mono font (fonts-dejavu-core)."""

import sys

import pyte
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
# The mono face has no braille patterns (the charts' dots); DejaVu Sans has them.
BRAILLE = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
PALETTE = {
    "black": (30, 30, 30), "red": (220, 80, 70), "green": (110, 200, 90), "brown": (220, 190, 70),
    "yellow": (230, 200, 80), "blue": (90, 140, 230), "magenta": (200, 110, 210),
    "cyan": (90, 200, 210), "white": (220, 220, 220), "default": (215, 215, 215),
    "brightblack": (120, 120, 120), "brightred": (240, 110, 100), "brightgreen": (140, 230, 120),
    "brightyellow": (250, 230, 120), "brightblue": (130, 170, 250),
    "brightmagenta": (230, 150, 240), "brightcyan": (140, 230, 240), "brightwhite": (250, 250, 250),
}
BACKGROUND = (24, 24, 28)


def colour(name: str, default):
    if name == "default":
        return default
    if name in PALETTE:
        return PALETTE[name]
    if len(name) == 6:
        return tuple(int(name[i:i + 2], 16) for i in (0, 2, 4))
    return default


def main() -> None:
    source, target, cols, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    screen = pyte.Screen(cols, rows)
    stream = pyte.ByteStream(screen)
    # One line per row; a trailing newline would scroll the first row away.
    data = open(source, "rb").read().rstrip(b"\n").replace(b"\n", b"\r\n")
    stream.feed(data)
    size = 15
    font, bold = ImageFont.truetype(FONT, size), ImageFont.truetype(BOLD, size)
    braille = ImageFont.truetype(BRAILLE, size)
    cell_w = round(font.getlength("M"))
    cell_h = size + 4
    image = Image.new("RGB", (cols * cell_w + 16, rows * cell_h + 16), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for y in range(rows):
        line = screen.buffer[y]
        for x in range(cols):
            char = line[x]
            fg = colour(char.fg, PALETTE["default"])
            bg = colour(char.bg, BACKGROUND)
            if char.reverse:
                fg, bg = bg, fg
            left, top = 8 + x * cell_w, 8 + y * cell_h
            if bg != BACKGROUND:
                draw.rectangle([left, top, left + cell_w, top + cell_h], fill=bg)
            if char.data.strip():
                face = braille if "\u2800" <= char.data <= "\u28ff" else bold if char.bold else font
                draw.text((left, top + 1), char.data, font=face, fill=fg)
    image.save(target)


if __name__ == "__main__":
    main()
