"""The docs' screenshot of the live page (docs/img/web_live.png): `hybrid-recommender serve` with the models of
`make run` (data/06_models), Debian's chromium with a fake camera playing a real held-out UTKFace face.

    .venv/bin/python scripts/web_screenshot.py [--out docs/img/web_live.png] [-- SERVE OPTIONS]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from tests.inference.web.helpers import (  # noqa: E402
    browser_with_camera,
    face_frames,
    held_out_faces,
    serve_process,
    write_y4m,
)

DATASETS = PROJECT.parent / "shared" / "datasets"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(PROJECT / "docs/img/web_live.png"))
    parser.add_argument("--face", type=int, default=0, help="which held-out face (index)")
    parser.add_argument("serve_options", nargs="*", help="passed to `serve` (e.g. --predictor DIR)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    fractions = yaml.safe_load((PROJECT / "conf/base/parameters_data_engineering.yml").read_text())[
        "data_engineering"]["utkface"]["split_fractions"]
    face = held_out_faces(DATASETS / "utkface_crop_part1.tar.gz", args.face + 1, fractions)[args.face]
    with tempfile.TemporaryDirectory() as tmp:
        frames, _ = face_frames(face, 30, x=230, y=130, size=190)
        clip = write_y4m(Path(tmp) / "camera.y4m", frames)
        server, url = serve_process(args.serve_options, Path(tmp) / "serve.log")
        try:
            with sync_playwright() as p:
                browser = browser_with_camera(p, clip)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(url)
                page.wait_for_selector("body[data-ready=true]")
                page.click("#camera-start")
                page.wait_for_function("document.querySelectorAll('#live-faces li.read').length >= 1 && "
                                       "document.querySelectorAll('#live-result ol.films li.film').length === 10",
                                       timeout=120_000)
                page.wait_for_timeout(1500)        # a few more readings, so the box shows the settled reading
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.out, full_page=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
