"""The public, read-only article page that a bot reply links to."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from knowledge import services
from knowledge.links import article_public_url, article_slug
from knowledge.models import ArticleStatus

pytestmark = pytest.mark.django_db


class Elements(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def make(title="Shipping costs & times", body="", status=ArticleStatus.PUBLISHED, intents=()):
    return services.article_create(actor=None, title=title, body=body or "Some text.",
                                   status=status, intents=intents)


def test_a_published_article_is_shown_to_anyone_with_its_markdown_rendered(client):
    article = make(body=(
        "Costs by zone:\n\n| zone | cost |\n| --- | --- |\n| Near | $4.95 |\n\n"
        "Use `FREE_SHIP_50` and see [rates](https://shop.example/rates_2026)."
    ))
    url = article_public_url(article.pk, article.title)
    assert url == f"/help/articles/{article.pk}-shipping-costs-times/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Shipping costs &amp; times</h1>" in html
    assert "<td>$4.95</td>" in html and "<code>FREE_SHIP_50</code>" in html
    assert 'href="https://shop.example/rates_2026" target="_blank"' in html
    assert 'data-sd="nav"' not in html  # no staff navigation for an anonymous reader


@pytest.mark.parametrize("status", [ArticleStatus.DRAFT])
def test_a_draft_is_not_found(client, status):
    article = make(status=status)
    assert client.get(article_public_url(article.pk, article.title)).status_code == 404
    assert client.get(f"/help/articles/{article.pk}/").status_code == 404


def test_an_unknown_article_is_not_found(client):
    assert client.get("/help/articles/987654-anything/").status_code == 404


def test_an_article_unpublished_later_disappears(client):
    article = make()
    url = article_public_url(article.pk, article.title)
    assert client.get(url).status_code == 200
    services.article_update(actor=None, article=article, title=article.title, body=article.body,
                            status=ArticleStatus.DRAFT, intents=[])
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("path", ["{pk}/", "{pk}-old-title/", "{pk}-shipping-costs/"])
def test_a_short_or_outdated_address_redirects_to_the_current_one(client, path):
    article = make()
    response = client.get("/help/articles/" + path.format(pk=article.pk))
    assert response.status_code == 301
    assert response["Location"] == article_public_url(article.pk, article.title)


def test_the_page_is_read_only(client):
    article = make()
    assert client.post(article_public_url(article.pk, article.title)).status_code == 405


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))", '<a href="javascript:alert(1)">x</a>',
    "<iframe src=https://evil.example></iframe>", "[a](/admin/)",
])
def test_hostile_html_in_an_article_is_escaped(client, hostile):
    article = make(title="Hostile <b>title</b>", body=f"Before {hostile} after")
    html = client.get(article_public_url(article.pk, article.title)).content.decode()
    body = html.split('class="help-body">', 1)[1].split("</div>", 1)[0]
    for tag, attrs in Elements(body).elements:
        assert tag in {"p", "a"}, tag
        assert not [a for a in attrs if a.startswith("on")]
        assert attrs.get("href") in (None, "https://evil.example")
    assert "Hostile &lt;b&gt;title&lt;/b&gt;" in html


def test_a_slug_is_made_of_the_titles_words():
    assert article_slug("Returns policy: 30-day returns") == "returns-policy-30-day-returns"
    assert article_slug("¿Qué? ***") == "que"
    assert article_slug("!!!") == "article"


def test_the_page_is_headed_by_the_help_center_and_leads_back_to_the_website(client, settings):
    settings.HELP_CENTER_NAME = "Northwind Help"
    settings.HELP_CENTER_HOME_URL = "https://northwind.example/"
    article = make()
    html = client.get(article_public_url(article.pk, article.title)).content.decode()
    assert "<title>Shipping costs &amp; times · Northwind Help</title>" in html
    assert '<span class="help-name">Northwind Help</span>' in html
    links = [a for tag, a in Elements(html).elements if a.get("data-sd") == "help-home"]
    assert [link["href"] for link in links] == ["https://northwind.example/"]
    assert "SupportDesk" not in html


def test_without_a_home_address_there_is_no_back_link(client, settings):
    settings.HELP_CENTER_HOME_URL = ""
    article = make()
    html = client.get(article_public_url(article.pk, article.title)).content.decode()
    assert 'data-sd="help-home"' not in html
    assert '<span class="help-name">Help center</span>' in html


def test_related_articles_share_an_intent_and_are_published(client):
    shipping = services.intent_create(actor=None, slug="shipping", name="Shipping", phrases=[])
    returns = services.intent_create(actor=None, slug="returns", name="Returns", phrases=[])
    article = make(intents=[shipping])
    abroad = make(title="Shipping abroad", intents=[shipping, returns])
    make(title="Shipping drafts", status=ArticleStatus.DRAFT, intents=[shipping])
    make(title="Return labels", intents=[returns])
    html = client.get(article_public_url(article.pk, article.title)).content.decode()
    related = html.split('data-sd="help-related"', 1)[1]
    assert f'href="/help/articles/{abroad.pk}-{article_slug(abroad.title)}/"' in related
    assert "Shipping drafts" not in related and "Return labels" not in related
    assert "Shipping costs" not in related  # not itself


def test_an_article_without_intents_has_no_related_list(client):
    article = make()
    assert 'data-sd="help-related"' not in client.get(
        article_public_url(article.pk, article.title)
    ).content.decode()
