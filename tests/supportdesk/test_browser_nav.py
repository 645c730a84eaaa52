import pytest
from django.contrib.auth.models import Group, User

from tests.conftest import DEMO_PASSWORD, login

EXPECTED = {
    "admin": ("admins", {"knowledge", "analytics"}),
    "agent": ("agents", {"console"}),
    "manager": ("managers", {"analytics"}),
}


@pytest.mark.services
@pytest.mark.browser
def test_each_role_sees_its_navigation(daphne_server, browser_context_factory):
    for username, (role, _) in EXPECTED.items():
        user = User.objects.create_user(username=username, password=DEMO_PASSWORD)
        user.groups.add(Group.objects.get(name=role))
    for username, (_, areas) in EXPECTED.items():
        page = browser_context_factory().new_page()
        login(page, daphne_server, username)
        nav = page.locator("[data-sd=nav] a")
        shown = {nav.nth(i).get_attribute("data-sd").removeprefix("nav-")
                 for i in range(nav.count())}
        assert shown == areas, username
        # Other areas answer 403 to this role.
        for area in {"console", "knowledge", "analytics"} - areas:
            response = page.goto(f"{daphne_server}/{area}/")
            assert response.status == 403, (username, area)
    wrong = browser_context_factory().new_page()
    login(wrong, daphne_server, "agent", "not-the-password")
    assert wrong.locator("[data-sd=login-error]").is_visible()
