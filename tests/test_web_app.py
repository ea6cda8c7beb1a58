"""The browser app as the relay serves it: what is served, with which headers, and what not.

A stranger with only the relay's URL may load the app (that is how a phone gets it), but
nothing else from the package: not the developer files, not a path outside the app.
"""

import re
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient

from relay_server import web_vendor
from relay_server.web_app import WEB_DIR, WebApp, import_map_hashes
from stream.demo.local_relay import LocalRelay
from tests.browser import chromium_or_skip, chromium_page

MakeClient = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


@pytest_asyncio.fixture
async def client(aiohttp_client: MakeClient) -> TestClient[web.Request, web.Application]:
    app = web.Application()
    app.add_routes(WebApp().route_table())
    return await aiohttp_client(app)


@pytest.mark.asyncio
async def test_the_phone_page_is_served_with_a_strict_policy(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/app/phone/")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    scripts = re.search(r"script-src ([^;]*)", policy)
    assert scripts is not None
    sources = scripts.group(1).split()
    assert "'unsafe-inline'" not in sources
    assert "'unsafe-eval'" not in sources
    assert sources[:2] == ["'self'", "'wasm-unsafe-eval'"]
    page = await response.read()
    assert sources[2:] == import_map_hashes(page)  # the page's import map, by its hash
    assert "frame-ancestors 'none'" in policy
    assert "camera=(self)" in response.headers["Permissions-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/app/lib/format.js", "text/javascript; charset=utf-8"),
        ("/app/vendor/libsodium-wrappers.mjs", "text/javascript; charset=utf-8"),
        ("/app/vendor/mediabunny.mjs", "text/javascript; charset=utf-8"),
        ("/app/phone/style.css", "text/css; charset=utf-8"),
    ],
)
@pytest.mark.asyncio
async def test_modules_have_their_mime_types(
    client: TestClient[web.Request, web.Application], path: str, content_type: str
) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert response.headers["Content-Type"] == content_type


@pytest.mark.parametrize(
    "path",
    [
        "/app/package.json",
        "/app/package-lock.json",
        "/app/tsconfig.json",
        "/app/node_modules/typescript/package.json",
        "/app/vendor/LICENSE-libsodium.txt",
        "/app/../app.py",
        "/app/%2e%2e/web_app.py",
        "/app/phone/../../serve.py",
        "/app/lib/",
    ],
)
@pytest.mark.asyncio
async def test_nothing_else_is_served(
    client: TestClient[web.Request, web.Application], path: str
) -> None:
    response = await client.get(path)
    assert response.status == 404


@pytest.mark.asyncio
async def test_an_unchanged_file_is_not_sent_again(
    client: TestClient[web.Request, web.Application],
) -> None:
    first = await client.get("/app/lib/verify.js")
    again = await client.get("/app/lib/verify.js", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304
    assert await again.read() == b""


def test_the_vendored_files_match_their_pins() -> None:
    assert web_vendor.problems() == []
    pins = web_vendor.pinned_versions()
    assert pins["libsodium-wrappers-sumo"] == "0.8.4"  # the build with Argon2id (issue 12)


def test_a_changed_vendored_file_is_caught(tmp_path: Path) -> None:
    shutil.copytree(WEB_DIR / "vendor", tmp_path / "vendor")
    shutil.copy(WEB_DIR / "package.json", tmp_path / "package.json")
    target = tmp_path / "vendor" / "libsodium-sumo.mjs"
    target.write_bytes(target.read_bytes().replace(b"crypto", b"crypt0", 1))
    assert web_vendor.problems(tmp_path / "vendor", tmp_path) == [
        "libsodium-sumo.mjs does not have the recorded sha256"
    ]


def test_every_string_is_in_english_and_spanish() -> None:
    source = (WEB_DIR / "i18n" / "strings.js").read_text("utf-8")
    tables = re.findall(r"(en|es): Object\.freeze\(\{(.*?)\}\)", source, re.DOTALL)
    keys = {name: re.findall(r'"([a-z_.]+)": "(.+?)",?\n', body) for name, body in tables}
    assert set(keys) == {"en", "es"}
    english, spanish = dict(keys["en"]), dict(keys["es"])
    assert english.keys() == spanish.keys()
    assert len(english) >= 10
    used = set()
    for path in (WEB_DIR / "phone").glob("*"):
        used |= set(re.findall(r'data-text="([a-z_.]+)"', path.read_text("utf-8")))
        used |= set(re.findall(r'\bt\("([a-z_.]+)"\)', path.read_text("utf-8")))
    assert used <= english.keys()
    assert all(text.strip() for text in (*english.values(), *spanish.values()))


@pytest.mark.parametrize(("locale", "ready_text"), [
    ("en-US", "This browser can record with Testigo."),
    ("es-MX", "Este navegador puede grabar con Testigo."),
])  # fmt: skip
def test_the_page_runs_in_chromium_under_its_policy(
    tmp_path: Path, locale: str, ready_text: str
) -> None:
    chromium_or_skip()
    with LocalRelay(tmp_path) as relay, chromium_page(tmp_path / "profile", locale=locale) as page:
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(relay.url + "/")  # the relay's home sends the phone to its page
        verdict = page.locator("#verdict[data-ready]")
        verdict.wait_for()
        assert page.url == relay.url + "/app/phone/"
        assert verdict.get_attribute("data-ready") == "true", verdict.text_content()
        assert verdict.text_content() == ready_text
        crypto = page.locator('[data-capability="crypto"]')
        assert crypto.get_attribute("data-ok") == "true"  # libsodium's wasm ran under the CSP
        assert problems == []


def test_the_rights_card_opens_in_the_persons_language(tmp_path: Path) -> None:
    chromium_or_skip()
    with LocalRelay(tmp_path) as relay, chromium_page(tmp_path / "p", locale="es-419") as page:
        page.goto(relay.url + "/app/phone/")
        page.click("#rights-open")
        card = page.locator("dialog#rights[open]")
        card.wait_for()
        assert (
            page.locator("#rights-title").text_content() == "Conoce tus derechos (Estados Unidos)"
        )
        assert page.locator("#rights-points li").count() >= 5
        sources = page.locator("#rights-sources a")
        assert sources.count() >= 2  # every card names its sources
        assert (sources.first.get_attribute("href") or "").startswith("https://")
        page.click("#rights form button")
        assert page.locator("dialog#rights[open]").count() == 0


def test_both_rights_cards_say_the_same_points() -> None:
    import json

    cards = {lang: json.loads((WEB_DIR / "i18n" / f"rights.{lang}.json").read_text("utf-8"))
             for lang in ("en", "es")}  # fmt: skip
    assert len(cards["en"]["points"]) == len(cards["es"]["points"])
    assert [s["url"] for s in cards["en"]["sources"]] == [s["url"] for s in cards["es"]["sources"]]
