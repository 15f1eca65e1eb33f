"""The resident page in headless Chromium (Debian's ``chromium``, driven by playwright):
phone-sized screenshot, accessibility basics, each button clicked with JavaScript off,
the answer recorded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from alertsvc.config import Settings, WebhookSettings
from alertsvc.db import session_scope
from alertsvc.db.tables import Acknowledgement, Resident, Shelter
from alertsvc.models import ChannelName
from alertsvc.testing.fakes import resident_delivery
from alertsvc.web.app import create_app
from alertsvc.web.pages import page_link
from alertsvc.web.server import WebhookServer
from tests.integration.test_web_app import AUTH, SECRET, send_alert

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def served(engine: Engine, settings: Settings) -> tuple[WebhookServer, dict[str, str]]:
    from dataclasses import replace

    settings = replace(settings, webhooks=WebhookSettings(public_url="", port=0))
    with session_scope(engine) as s:
        s.add(Shelter(id="S1", name="植木小学校", address="福岡県直方市植木100", lat=33.76,
                      lon=130.714))  # fmt: skip
        s.add(Resident(id="R1", name="中村 二郎", address="直方市植木19番12号", lat=33.7559,
                       lon=130.7139, language="pt"))  # fmt: skip
        s.add(Resident(id="R2", name="白石 チヨ", address="直方市古町7番1号"))
    r1 = replace(resident_delivery("R1", ChannelName.SMS, "+819011110001"), language="pt",
                 data=(("action", "evacuate"), ("shelter_id", "S1")))  # fmt: skip
    keys = send_alert(
        engine, settings, [r1, resident_delivery("R2", ChannelName.SMS, "+819022220002")]
    )
    server = WebhookServer(create_app(engine, settings, auth_token=AUTH, ack_secret=SECRET))
    return server, keys


@pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="chromium not installed (apt-get install chromium)"
)
def test_page_in_headless_chromium(
    served: tuple[WebhookServer, dict[str, str]], engine: Engine, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    server, keys = served
    with server, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            # JavaScript off: the page must work as a plain form
            ctx = browser.new_context(viewport={"width": 390, "height": 844},
                                      java_script_enabled=False, device_scale_factor=1)  # fmt: skip
            page = ctx.new_page()
            page.goto(page_link(server.url, SECRET, keys["R1/sms"]))
            page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
            assert page.get_attribute("html", "lang") == "pt"
            safe = page.get_by_role(
                "button", name="Já evacuei / Estou bem / 避難しました・無事です"
            )
            help_ = page.get_by_role("button", name="Preciso de ajuda / 助けが必要です")
            assert safe.is_visible() and help_.is_visible()
            box = safe.bounding_box()
            assert box is not None and box["height"] >= 60 and box["width"] >= 300
            safe.click()
            page.wait_for_load_state()
            assert "Obrigado" in page.content()
            help_page = ctx.new_page()
            help_page.goto(page_link(server.url, SECRET, keys["R2/sms"]))
            help_page.get_by_role("button", name="助けが必要です").click()
            help_page.wait_for_load_state()
            assert "支援が必要なことを市に伝えました" in help_page.content()
            js = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
            js.goto(page_link(server.url, SECRET, keys["R1/sms"]))
            # every text in a button, the Japanese line too, is readable on its background
            for sel in ("button.help", "button.help .ja", "button.safe", "button.safe .ja"):
                fg = js.evaluate(f"() => getComputedStyle(document.querySelector('{sel}')).color")
                bg = js.evaluate(
                    "() => getComputedStyle(document.querySelector"
                    f"('{sel.split()[0]}')).backgroundColor"
                )
                assert _contrast(fg, bg) >= 4.5, sel
        finally:
            browser.close()
    shutil.copy(tmp_path / "phone.png", Path("/tmp/i10_resident_page.png"))
    with session_scope(engine) as s:
        got = sorted((a.resident_id, a.answer, a.via) for a in s.scalars(select(Acknowledgement)))
    assert got == [("R1", "safe", "web"), ("R2", "need_help", "web")]


def _contrast(fg: str, bg: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colours."""

    def lum(css: str) -> float:
        r, g, b = (int(x) / 255 for x in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="chromium not installed (apt-get install chromium)"
)
def test_supporter_page_in_headless_chromium(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """The supporter page at phone size with JavaScript off: one form per person, a
    click records the supporter's answer about that person (never the person's own)."""
    from dataclasses import replace

    from alertsvc.dispatch.alerts import PlannedDelivery
    from alertsvc.web.supporter_page import supporter_link

    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    settings = replace(settings, webhooks=WebhookSettings(public_url="", port=0))
    with session_scope(engine) as s:
        s.add(Resident(id="R1", name="中村 二郎", address="直方市植木19番12号", floor=2))
        s.add(Resident(id="R2", name="白石 チヨ", address="直方市古町7番1号", floor=1))
    digest = PlannedDelivery(
        resident_id="", recipient="supporter", supporter_id=None, step=0,
        channel=ChannelName.SMS, address="+819033334444", language="ja", title="",
        body="【警戒レベル4 避難指示】直方市：避難支援のお願い。あなたが支援する2人", data=(
            ("kind", "supporter_digest"),), priority=1.0, legal_basis="per_person",
        disclosures=(("R1", 1, "consent", "evacuate"),
                     ("R2", 2, "disaster_exception_49_11", "move_up")),
    )  # fmt: skip
    keys = send_alert(
        engine,
        settings,
        [
            resident_delivery("R1", ChannelName.SMS, "+819011110001"),
            resident_delivery("R2", ChannelName.SMS, "+819022220002"),
            digest,
        ],
    )
    server = WebhookServer(create_app(engine, settings, auth_token=AUTH, ack_secret=SECRET))
    with server, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            ctx = browser.new_context(viewport={"width": 390, "height": 844},
                                      java_script_enabled=False, device_scale_factor=1)  # fmt: skip
            page = ctx.new_page()
            page.goto(supporter_link(server.url, SECRET, keys["/sms"]))
            page.screenshot(path=str(tmp_path / "supporter.png"), full_page=True)
            assert page.get_attribute("html", "lang") == "ja"
            assert page.locator("form").count() == 2
            cannot = page.get_by_role("button", name="白石 チヨ: 連絡がつかない / Cannot reach")
            box = cannot.bounding_box()
            assert box is not None and box["height"] >= 50 and box["width"] >= 300
            cannot.click()
            page.wait_for_load_state()
            assert "記録しました" in page.content()
            page.get_by_role("button", name="中村 二郎: 支援中 / Helping now").click()
            page.wait_for_load_state()
            page.screenshot(path=str(tmp_path / "supporter_after.png"), full_page=True)
            for sel in ("button.cannot_reach", "button.helping", "button.safe"):
                fg = page.evaluate(f"() => getComputedStyle(document.querySelector('{sel}')).color")
                bg = page.evaluate(
                    f"() => getComputedStyle(document.querySelector('{sel}')).backgroundColor"
                )
                assert _contrast(fg, bg) >= 4.5, sel
        finally:
            browser.close()
    shutil.copy(tmp_path / "supporter_after.png", Path("/tmp/i10_supporter_page.png"))
    with session_scope(engine) as s:
        got = sorted(
            (a.resident_id, a.answer, a.answered_by) for a in s.scalars(select(Acknowledgement))
        )
    assert got == [("R1", "helping", "supporter"), ("R2", "cannot_reach", "supporter")]
