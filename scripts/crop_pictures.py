"""Draw docs/images/crops.png: what each crop option keeps of a CelebA-shaped frame.

The face is drawn, not photographed, where an aligned CelebA face sits in
its 178x218 frame (eyes near row 112), so the picture needs no dataset.
"""

from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw

from ganforge.data.imagefiles import Preprocess, crop_box, decode

W, H = 178, 218
CROPS = ("none", "center178", "center160", "center140")
COLORS = {"center178": (230, 60, 60), "center160": (60, 160, 60), "center140": (60, 90, 230)}


def face() -> Image.Image:
    image = Image.new("RGB", (W, H), (196, 214, 232))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 170, W, H), fill=(90, 110, 150))  # shoulders
    draw.ellipse((44, 58, 134, 176), fill=(236, 196, 164))  # face
    draw.pieslice((38, 40, 140, 130), 180, 360, fill=(92, 60, 40))  # hair
    for x in (70, 108):
        draw.ellipse((x - 7, 106, x + 7, 118), fill="white")
        draw.ellipse((x - 3, 109, x + 3, 115), fill=(40, 40, 40))
    draw.line((89, 118, 84, 138, 92, 138), fill=(180, 130, 110), width=2)
    draw.arc((72, 138, 106, 158), 20, 160, fill=(170, 60, 60), width=3)
    return image


def main() -> None:
    frame = face()
    encoded = BytesIO()
    frame.save(encoded, format="PNG")
    scale, gap = 2, 12
    outlined = frame.copy()
    draw = ImageDraw.Draw(outlined)
    for crop, color in COLORS.items():
        draw.rectangle(crop_box(W, H, crop), outline=color, width=2)
    outputs = [Image.fromarray(decode(encoded.getvalue(), Preprocess(crop, 64, 3))) for crop in CROPS]
    sheet = Image.new("RGB", (W * scale + gap + len(CROPS) * (64 * scale + gap), H * scale + 28), "white")
    sheet.paste(outlined.resize((W * scale, H * scale), Image.Resampling.NEAREST), (0, 0))
    label = ImageDraw.Draw(sheet)
    label.text((4, H * scale + 8), "178x218 frame", fill="black")
    x = W * scale + gap
    for crop, output in zip(CROPS, outputs):
        sheet.paste(output.resize((64 * scale, 64 * scale), Image.Resampling.NEAREST), (x, (H - 64) * scale // 2))
        label.text((x, (H + 64) * scale // 2 + 6), f'crop = "{crop}"', fill=COLORS.get(crop, (0, 0, 0)))
        x += 64 * scale + gap
    target = Path(__file__).resolve().parents[1] / "docs" / "images" / "crops.png"
    sheet.save(target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
