"""Every URL of the knowledge app is for admins: agents and managers get 403, anonymous users
go to the login page, for pages, htmx fragments, previews, imports and exports alike."""

import pytest
from django.urls import URLPattern, reverse

from knowledge import services
from knowledge.models import Article, ClassifierModel, EscalationSignal, Intent, TrainingPhrase
from knowledge.urls import urlpatterns

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(admin_user):
    intent = services.intent_create(
        actor=admin_user, slug="order_status", name="Order status", phrases=["where is my order"]
    )
    services.signal_create(actor=admin_user, phrase="lawyer", category="legal")
    article = services.article_create(actor=admin_user, title="T", body="b", intents=[intent])
    model = ClassifierModel.objects.create(version=1, status="ready")
    saved = services.connector_save(actor=admin_user, values=services.ConnectorFields(
        name="Orders", url_template="https://shop.example/o", reply_template="x",
        allowed_hosts=["shop.example"],
    ))
    return {
        "connector": saved.connector.pk,
        "intent": intent.pk,
        "phrase": TrainingPhrase.objects.get().pk,
        "signal": EscalationSignal.objects.get().pk,
        "article": article.pk,
        "model": model.pk,
    }


def url_for(pattern: URLPattern, objects: dict[str, int]) -> str:
    name = pattern.name
    kwargs = {}
    if "pk" in pattern.pattern.converters:
        kind = {"phrase_remove": "phrase", "model_detail": "model", "model_activate": "model"}.get(
            name, name.split("_")[0]
        )
        kwargs["pk"] = objects[kind]
    if "number" in pattern.pattern.converters:
        kwargs["number"] = 1
    return reverse(f"knowledge:{name}", kwargs=kwargs)


NAMES = [p.name for p in urlpatterns]


def snapshot():
    return (
        Intent.objects.count(), TrainingPhrase.objects.count(), EscalationSignal.objects.count(),
        Article.objects.count(), list(Intent.objects.values_list("is_active", flat=True)),
        list(EscalationSignal.objects.values_list("is_active", flat=True)),
        ClassifierModel.objects.filter(is_active=True).count(),
    )


def test_every_url_is_covered():
    assert len(NAMES) == len(set(NAMES)) >= 25


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("role", ["agent_user", "manager_user"])
@pytest.mark.parametrize("htmx", [False, True])
def test_agents_and_managers_get_403(client, objects, request, name, role, htmx):
    client.force_login(request.getfixturevalue(role))
    url = url_for(next(p for p in urlpatterns if p.name == name), objects)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    before = snapshot()
    assert client.get(url, **headers).status_code == 403
    response = client.post(
        url,
        {"text": "x", "phrase": "fraud", "category": "fraud", "title": "t", "body": "b",
         "status": "draft", "slug": "hijack", "name": "h", "escalation_policy": "never",
         "kind": "csv"},
        **headers,
    )
    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("name", NAMES)
def test_anonymous_users_go_to_login(client, objects, name):
    url = url_for(next(p for p in urlpatterns if p.name == name), objects)
    for response in (client.get(url), client.post(url, {"text": "x"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("name", NAMES)
def test_admins_can_open_every_url(admin_client, objects, name):
    url = url_for(next(p for p in urlpatterns if p.name == name), objects)
    response = admin_client.get(url)
    assert response.status_code in (200, 405), (name, response.status_code)


def test_import_endpoint_refuses_agents_with_a_file(client, agent_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(agent_user)
    response = client.post(
        reverse("knowledge:import_export"),
        {"kind": "csv", "file": SimpleUploadedFile("p.csv", b"text,intent\nhello,greet\n")},
    )
    assert response.status_code == 403
    assert not Intent.objects.exists()
