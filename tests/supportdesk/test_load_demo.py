import io
import json
import re
import sys

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from chat.models import Widget
from knowledge.importexport import taxonomy_export
from knowledge.models import Article, ClassifierModel, EscalationSignal, Intent, TrainingPhrase
from supportdesk.management.commands import load_demo
from supportdesk.management.commands.load_demo import DEMO_KNOWLEDGE
from tests.supportdesk.demo_snapshot import SNAPSHOT_PATH, demo_snapshot

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
    assert_same_rows_as_the_python_demo_data()
    assert_the_demo_file_is_an_export()

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


@pytest.mark.django_db
def test_a_refused_demo_file_stops_the_command_and_writes_nothing(tmp_path, monkeypatch):
    demo = json.loads(DEMO_KNOWLEDGE.read_text(encoding="utf-8"))
    demo["articles"][0]["intents"] = ["no_such_intent"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(demo), encoding="utf-8")
    monkeypatch.setattr(load_demo, "DEMO_KNOWLEDGE", broken)
    with pytest.raises(CommandError, match='unknown intent "no_such_intent"'):
        call_command("load_demo", password="refused-pass-1", traffic_days=0, verbosity=0)
    assert (Intent.objects.count(), Widget.objects.count(), User.objects.count()) == (0, 0, 0)


def assert_same_rows_as_the_python_demo_data() -> None:
    """The snapshot was taken from the command as it was when the demo was Python literals
    (see ``demo_snapshot``): the JSON export must load into exactly the same rows."""
    expected = json.loads(SNAPSHOT_PATH.read_text(encoding="utf-8"))
    actual = json.loads(json.dumps(demo_snapshot()))
    assert actual.keys() == expected.keys()
    for part in expected:
        assert actual[part] == expected[part], part


def assert_the_demo_file_is_an_export() -> None:
    """Loaded, then exported as /knowledge/export/ does, the demo gives back its own file (in
    the export's order: the file keeps the order the demo was written in, which is the order
    its rows are created and the classifier reads them): an ordinary export."""
    demo = json.loads(DEMO_KNOWLEDGE.read_text(encoding="utf-8"))
    for article in demo["articles"]:
        article["intents"] = sorted(article["intents"])
    exported = taxonomy_export()
    assert exported["format"] == demo["format"] and exported["version"] == demo["version"]
    assert exported["intents"] == sorted(demo["intents"], key=lambda i: i["slug"])
    assert exported["signals"] == sorted(demo["signals"], key=lambda s: s["phrase"])
    assert exported["articles"] == sorted(demo["articles"], key=lambda a: a["title"])


@pytest.mark.django_db
def test_load_demo_gives_agents_labels_and_canned_responses_and_keeps_their_edits():
    from chat.models import CannedResponse, Label

    call_command("load_demo", password="first-pass-123", traffic_days=0, verbosity=0)
    assert set(Label.objects.values_list("name", flat=True)) == {"vip", "bug", "follow-up"}
    hello = CannedResponse.objects.get(shortcut="hello")
    assert "{{ contact.name }}" in hello.text and "{{ agent.name }}" in hello.text
    assert "{{ conversation.order_number }}" in CannedResponse.objects.get(shortcut="order").text
    CannedResponse.objects.filter(shortcut="hello").update(text="Our own greeting.")
    Label.objects.filter(name="vip").update(color="#000000")
    call_command("load_demo", password="second-pass-456", traffic_days=0, verbosity=0)
    assert CannedResponse.objects.get(shortcut="hello").text == "Our own greeting."
    assert Label.objects.get(name="vip").color == "#000000"
    assert CannedResponse.objects.count() == 3


class Terminal(io.StringIO):
    """A stream that says it is an interactive terminal, as a console's stderr is."""

    def isatty(self) -> bool:
        return True


BAR = re.compile(r"\d+%\|")  # tqdm's "40%|████" (a bar's every redraw)


@pytest.mark.django_db
def test_load_demo_prints_no_progress_bars_when_stderr_is_not_a_terminal(capsys):
    """Under CI or ``docker logs`` stderr is a pipe: the command's lines, no bars."""
    call_command("load_demo", password="pipe-pass-123", traffic_days=1)
    captured = capsys.readouterr()
    assert "Generated 40 conversations over 1 days" in captured.out
    assert "Rebuilt the rollup" in captured.out
    assert not BAR.search(captured.err), captured.err[:300]
    assert "conversations:" not in captured.err and "weeks:" not in captured.err


@pytest.mark.django_db
@pytest.mark.parametrize(("verbosity", "shown"), [(1, True), (0, False)])
def test_the_demo_commands_show_progress_on_a_terminal_unless_quiet(
    monkeypatch, verbosity, shown
):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    call_command("load_demo", password="tty-pass-123", traffic_days=0, verbosity=0)
    call_command("generate_traffic", conversations=3, days=1, seed=2, verbosity=verbosity,
                 stdout=io.StringIO())
    call_command("rebuild_rollups", verbosity=verbosity, stdout=io.StringIO())
    written = terminal.getvalue()
    assert bool(BAR.search(written)) is shown, written[:300]
    assert ("conversations:" in written and "weeks:" in written) is shown


@pytest.mark.django_db
def test_the_demos_traffic_fills_the_dashboards_data_connectors_section(client):
    """The generated conversations about orders look them up through the demo's connectors,
    so a fresh demo's dashboard has the section before anyone has looked an order up."""
    call_command("load_demo", password="traffic-pass-123", traffic_days=7, verbosity=0)
    client.force_login(User.objects.get(username="manager"))
    response = client.get("/analytics/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-sd="connector-stats"' in page and 'data-sd="connector-calls"' in page
    calls = dict(response.context["connector_call_counts"])
    assert set(calls) == {"Order status", "My recent orders"}
    assert all(counts["succeeded"] > 0 for counts in calls.values())
    replies = dict(response.context["connector_counts"])
    assert replies["Order status"]["answered"] > 0
