"""/api/docs/ needs nothing from the internet: every script and stylesheet it loads is served by this app."""

from __future__ import annotations

import re
import urllib.request
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

pytestmark = pytest.mark.django_db


class Assets(HTMLParser):
    """The URLs a browser would fetch to draw the page: scripts, stylesheets, icons."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.urls.append(found["src"] or "")
        if tag == "link" and found.get("href"):
            self.urls.append(found["href"] or "")


def fetch(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8", errors="replace")


def test_every_asset_of_the_api_docs_is_same_origin_and_answers(live_server):
    page_url = f"{live_server.url}/api/docs/"
    status, html = fetch(page_url)
    parser = Assets()
    parser.feed(html)
    urls = [urljoin(page_url, url) for url in parser.urls]

    assert status == 200
    assert any(url.endswith(".js") for url in urls) and any(url.endswith(".css") for url in urls)
    assert [url for url in urls if urlsplit(url).netloc != urlsplit(live_server.url).netloc] == []
    assert {url: fetch(url)[0] for url in urls} == dict.fromkeys(urls, 200)


def test_the_docs_script_reads_its_schema_from_this_app(live_server):
    _, html = fetch(f"{live_server.url}/api/docs/")
    parser = Assets()
    parser.feed(html)
    setup = next(url for url in parser.urls if "script" in urlsplit(url).query)

    _, script = fetch(urljoin(f"{live_server.url}/api/docs/", setup))
    schema_url = re.search(r'"(/api/schema/[^"]*)"', script)

    assert schema_url is not None, script[:500]
    assert fetch(live_server.url + schema_url.group(1))[0] == 200
    assert "http://" not in script and "https://" not in script  # nothing fetched from elsewhere
