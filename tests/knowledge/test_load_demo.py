import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from chat.models import Widget
from knowledge.models import Article, ClassifierModel, EscalationSignal, Intent, TrainingPhrase

BRIEF_INTENTS = {
    "order_status", "return_request", "billing_dispute", "product_question", "complaint",
    "cancellation", "technical_support", "account_access", "shipping_issue", "general_inquiry",
}
BRIEF_SIGNALS = {
    "legal", "lawsuit", "attorney", "lawyer", "supervisor", "manager", "escalate", "furious",
    "unacceptable", "never using again", "fraud", "scam", "stolen", "unauthorized",
}


def snapshot() -> dict:
    return {
        "intents": Intent.objects.count(),
        "phrases": TrainingPhrase.objects.count(),
        "signals": EscalationSignal.objects.count(),
        "articles": Article.objects.count(),
        "article_links": Article.intents.through.objects.count(),
        "widgets": Widget.objects.count(),
        "users": User.objects.count(),
        "models": ClassifierModel.objects.count(),
    }


@pytest.mark.django_db
def test_load_demo_loads_the_brief_and_is_idempotent():
    call_command("load_demo", password="first-pass-123", traffic_days=0, verbosity=0)
    first = snapshot()
    assert set(Intent.objects.values_list("slug", flat=True)) == BRIEF_INTENTS
    for intent in Intent.objects.all():
        assert intent.phrases.count() >= 25, intent.slug
        assert intent.articles.filter(status="published").exists(), intent.slug
    assert BRIEF_SIGNALS <= set(EscalationSignal.objects.values_list("phrase", flat=True))
    assert first["articles"] >= 20
    assert Intent.objects.get(slug="billing_dispute").escalation_policy == "always"
    assert Intent.objects.get(slug="order_status").required_details[0]["name"] == "order_number"
    assert Widget.objects.get(public_key="demo").allowed_origins == ["self"]
    assert ClassifierModel.objects.filter(is_active=True).count() == 1

    call_command("load_demo", password="second-pass-456", traffic_days=0, verbosity=0)
    assert snapshot() == first
    for username, role in [("admin", "admins"), ("agent", "agents"), ("manager", "managers")]:
        user = User.objects.get(username=username)
        assert user.check_password("second-pass-456")
        assert list(user.groups.values_list("name", flat=True)) == [role]


@pytest.mark.django_db
def test_load_demo_without_password_prints_a_random_one(capsys):
    call_command("load_demo", traffic_days=0)
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "login agent" in line)
    password = line.split("password", 1)[1].strip()
    assert len(password) >= 10
    assert User.objects.get(username="agent").check_password(password)
