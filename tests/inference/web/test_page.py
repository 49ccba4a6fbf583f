"""The page in a real browser (Debian's chromium driven by playwright) with a fake camera playing a real held-out
UTKFace face: boxes with attributes, a list of 10 films, uploads (a photo, a photo with no face, bad files)
and the model card. Screenshots are saved to $WEB_TEST_ARTIFACTS (or the test's tmp_path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.inference.clips import background, paste, write_image
from tests.inference.web.helpers import browser_with_camera, face_frames, write_y4m

pytestmark = pytest.mark.real_data


def upload(page, path: Path, mode: str):
    page.evaluate("document.querySelector('#upload-result').dataset.mode = 'sent'")   # not the last answer's
    page.set_input_files("#upload-file", str(path))
    page.click("#upload-send")
    page.wait_for_selector(f"#upload-result[data-mode={mode}]", timeout=60_000)
    return page.locator("#upload-result")


def test_the_page_reads_the_camera_shows_boxes_and_a_list_and_handles_uploads(web_server, test_faces, tmp_path,
                                                                               artifacts):
    from playwright.sync_api import sync_playwright

    frames, _ = face_frames(test_faces[0], 30, x=230, y=140)
    clip = write_y4m(tmp_path / "camera.y4m", frames)
    photo = background()
    paste(photo, test_faces[1], 240, 130, 180)
    photo_path = write_image(tmp_path / "viewer.jpg", photo)
    wall = write_image(tmp_path / "wall.png", background())
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    corrupt_video = tmp_path / "clip.mp4"
    corrupt_video.write_bytes(b"\x00\x00\x00 not a video" * 50)
    huge = write_image(tmp_path / "huge.jpg", np.full((5480, 7300, 3), 128, np.uint8))    # 40 MP

    with sync_playwright() as p:
        browser = browser_with_camera(p, clip)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(web_server.url)
            page.wait_for_selector("body[data-ready=true]")
            assert "never written to disk" in page.inner_text("#privacy")

            # live: a box with age group, gender and emotion (and their confidences), and 10 films
            page.click("#camera-start")
            page.wait_for_function(
                "document.querySelector('#overlay').dataset.boxes >= 1"
                " && document.querySelectorAll('#live-faces li.read').length >= 1"
                " && document.querySelectorAll('#live-result ol.films li.film').length === 10", timeout=60_000)
            face = page.inner_text("#live-faces li.read")
            assert "age " in face and "%" in face and any(g in face for g in ("male", "female"))
            live = page.locator("#live-result")
            assert live.get_attribute("data-mode") == "single_viewer"
            assert "Favoured cluster" in live.inner_text() and "Viewer " in live.inner_text()
            assert all(t.strip() for t in page.locator("#live-result .film .title").all_inner_texts())
            assert any(t.strip() for t in page.locator("#live-result .film .genres").all_inner_texts())
            assert "updates/s" in page.inner_text("#live-status")
            page.screenshot(path=str(artifacts / "live.png"), full_page=True)

            # uploads: a photo, a photo with nobody in it, then files the page must refuse with a clear message
            result = upload(page, photo_path, "single_viewer")
            assert result.locator("ol.films li.film").count() == 10 and result.locator(".viewer").count() == 1
            page.screenshot(path=str(artifacts / "upload_photo.png"), full_page=True)
            result = upload(page, wall, "cold_start")
            assert "Cold-start list" in result.inner_text() and "no face found" in result.inner_text()
            assert result.locator("ol.films li.film").count() == 10
            page.screenshot(path=str(artifacts / "upload_no_face.png"), full_page=True)
            for path, messages in ((notes, ["unsupported file type '.txt'"]),
                                   (corrupt_video, ["could not be opened", "no frame could be decoded"]),
                                   (huge, ["megapixels, over the 16 MP limit"])):
                text = upload(page, path, "error").inner_text()
                assert any(m in text for m in messages) and path.name in text and "HTTP 4" in text, text
            page.evaluate("document.querySelector('#upload-result').dataset.mode = 'sent'")
            page.set_input_files("#upload-file", [])
            page.click("#upload-send")
            page.wait_for_selector("#upload-result[data-mode=error]")
            assert "no file chosen" in page.inner_text("#upload-result")
            page.screenshot(path=str(artifacts / "upload_error.png"), full_page=True)

            # the model card, one click away; and the camera still running after all that
            page.click("#model-card-open")
            page.wait_for_function("!document.querySelector('#model-card-text').textContent.startsWith('loading')")
            assert "face attribute predictor" in page.inner_text("#model-card-text")
            page.screenshot(path=str(artifacts / "model_card.png"))
            page.click("#model-card-close")
            before = page.evaluate("document.querySelector('#live-status').textContent")
            page.wait_for_function(f"document.querySelector('#live-status').textContent !== {before!r}")
        finally:
            browser.close()
