"""The shared test harness.

Two passes run the suite (see README): the embedded pass (SQLite, in-memory channel layer,
eager Celery) deselects ``services`` and ``browser`` tests; the services pass runs everything
against PostgreSQL and Redis, with a real Celery worker and a real Daphne where a test asks for
them. A test that needs a service that is not there is skipped with the reason, unless
``SUPPORTDESK_REQUIRE_SERVICES=1`` (set by CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRE_SERVICES = os.environ.get("SUPPORTDESK_REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
DEMO_PASSWORD = "demo-pass-2026"


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


def _services_problem() -> str | None:
    from django.conf import settings

    if not settings.DATABASE_URL or settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return "needs PostgreSQL: set DATABASE_URL"
    if not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL"
    try:
        import redis

        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"Redis at REDIS_URL is unreachable ({type(exc).__name__})"
    return None


def _browser_problem() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"needs Chromium at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "needs the playwright package"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("services"):
        problem = _services_problem()
        if problem:
            _unavailable(problem)
    if item.get_closest_marker("browser"):
        problem = _browser_problem() or _services_problem()
        if problem:
            _unavailable(problem)


def pytest_collection_modifyitems(config, items) -> None:
    """Runs browser tests after every other test of the session.

    The session-wide Playwright browser keeps its event loop running in the main thread; async
    tests and ``asyncio.run`` after it would fail with "cannot be called from a running event
    loop".
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(autouse=True)
def _fresh_budgets() -> None:
    """Every test starts with full budgets (chat.limits) and may open conversations again
    (chat.api's per-address count in the shared cache, which Daphne's process reads too):
    tests share one address."""
    from django.core.cache import cache

    from chat import limits

    try:
        limits.reset()
        cache.delete_many([f"chat:starts:{address}" for address in ("127.0.0.1", "::1")])
    except Exception:  # Redis not there: the tests that need it are skipped
        pass


@pytest.fixture(autouse=True)
def _celery_eager_unless_worker(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tasks run in-process unless the test asked for the real worker.

    Keeps the fast tests meaning the same in both passes; the real worker path is exercised by
    the tests that request ``celery_worker`` (with ``transactional_db``, so rows are committed).
    """
    from supportdesk.celery import app

    if "celery_worker" in request.fixturenames:
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = previous


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    """The URL of the test database pytest-django created, for subprocesses to share it."""
    from django.db import connection

    d = connection.settings_dict
    auth = quote(d["USER"] or "")
    if d.get("PASSWORD"):
        auth += ":" + quote(d["PASSWORD"])
    return f"postgres://{auth}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"


def _subprocess_env() -> dict[str, str]:
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CHANNEL_PREFIX": settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get(
                "prefix", "sd"
            ),
            "SUPPORTDESK_ENV": "development",
            "DEBUG": "0",
            "PYTHONUNBUFFERED": "1",
            # The demo's data connectors call the test Daphne's demo orders API on loopback.
            "CONNECTOR_ALLOW_PRIVATE_NETWORKS": "1",
            # The webhooks tests' receivers listen on loopback too.
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1",
        }
    )
    env.pop("PYTEST_VERSION", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def _wait_for(predicate, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s\n{tail}")


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup, django_db_blocker, artifacts_dir: Path
) -> Iterator[subprocess.Popen]:
    """A real Celery worker (prefork, two processes) on the test database and Redis broker."""
    problem = _services_problem()
    if problem:
        _unavailable(problem)
    from supportdesk.celery import app

    with django_db_blocker.unblock():
        env = _subprocess_env()
    app.control.purge()
    log = artifacts_dir / "celery.log"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "supportdesk", "worker",
            "--loglevel", "info", "--concurrency", "2", "--pool", "prefork",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--hostname", f"test-{os.getpid()}@%h", "--logfile", str(log),
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    global _worker_running
    try:
        _wait_for(
            lambda: log.exists() and " ready." in log.read_text(errors="replace"),
            60, "the Celery worker", log,
        )
        _worker_running = True
        yield proc
    finally:
        _worker_running = False
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


_worker_running = False
_settled_at = 0.0


def _settle(timeout: float = 15.0, quiet: float = 0.4) -> None:
    """Wait (up to ``timeout`` seconds) until the test's subprocesses leave the database alone.

    The test database's flush after a test (a ``TRUNCATE`` of every table) must not meet a
    write of the real worker or of Daphne still running (a bot turn being stored, a socket's
    close being recorded, a task queued by Daphne and run by the session's worker): PostgreSQL
    would end one of them as a deadlock and the next test would start on the rows left. Settled
    means: no answer owed while the worker runs, and no other session on the database inside a
    transaction for ``quiet`` seconds in a row (``pg_stat_activity``)."""
    global _settled_at
    from django.db import connection

    from chat.models import OwedAnswer

    if time.monotonic() - _settled_at < 0.1:
        return  # settled just now (the browser contexts' teardown, then Daphne's)
    deadline = time.monotonic() + timeout
    while _worker_running and OwedAnswer.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
            )
            busy = cursor.fetchone()[0]
        if busy:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            break
        time.sleep(0.05)
    _settled_at = time.monotonic()


@pytest.fixture
def celery_worker(
    celery_worker_process: subprocess.Popen, transactional_db
) -> Iterator[subprocess.Popen]:
    """Request this (it implies ``transactional_db``) for tasks to run in the real worker.

    After the test, waits until the worker and Daphne leave the database alone (``_settle``)."""
    assert celery_worker_process.poll() is None, "the Celery worker died"
    yield celery_worker_process
    _settle()


@pytest.fixture(scope="session")
def daphne_process(django_db_setup, django_db_blocker, artifacts_dir: Path) -> Iterator[str]:
    problem = _services_problem()
    if problem:
        _unavailable(problem)
    with django_db_blocker.unblock():
        env = _subprocess_env()
    port = _free_port()
    log = artifacts_dir / "daphne.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                "supportdesk.asgi:application",
            ],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as response:
                return response.status in (200, 503)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    try:
        _wait_for(answering, 60, "Daphne", log)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def daphne_server(daphne_process: str, transactional_db) -> Iterator[str]:
    """Base URL of a real Daphne serving the app on the test database (data must be committed).

    After the test (and its browser contexts, closed first), waits until Daphne and the worker
    leave the database alone (``_settle``)."""
    yield daphne_process
    _settle()


@pytest.fixture
def demo(db) -> dict:
    """The demo company, loaded through ``load_demo`` (with its trained classifier)."""
    from django.core.management import call_command

    call_command("load_demo", password=DEMO_PASSWORD, traffic_days=0, verbosity=0)
    return {"password": DEMO_PASSWORD, "widget": "demo"}


@pytest.fixture(scope="session")
def browser_instance() -> Iterator:
    problem = _browser_problem()
    if problem:
        _unavailable(problem)
    # Playwright's sync API runs an event loop in this thread; Django's ORM guard would then
    # refuse the test's own queries, which are safe here (one thread, no concurrency).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_context_factory(browser_instance, artifacts_dir: Path, request) -> Iterator:
    """Makes isolated browser contexts (one per person in a test); closes them afterwards."""
    contexts = []
    # What the browser saw, for the report of a failed test (``pytest_runtest_makereport``):
    # console errors and warnings, uncaught errors, failed requests and error answers.
    events: list[str] = []
    request.node.browser_events = events

    def watch(page) -> None:
        page.on("console", lambda m: m.type in ("error", "warning")
                and events.append(f"console {m.type}: {m.text}"))
        page.on("pageerror", lambda error: events.append(f"page error: {error}"))
        page.on("requestfailed", lambda r: events.append(f"request failed: {r.method} {r.url}"))
        page.on("response", lambda r: r.status >= 400
                and events.append(f"answer {r.status}: {r.request.method} {r.url}"))
        page.on("websocket", lambda ws: ws.on(
            "close", lambda _ws: events.append(f"socket closed: {ws.url}")))

    def make(**kwargs):
        context = browser_instance.new_context(**kwargs)
        context.set_default_timeout(15_000)
        context.on("page", watch)
        contexts.append(context)
        return context

    yield make
    failed = getattr(request.node, "rep_call", None)
    for index, context in enumerate(contexts):
        if failed is not None and failed.failed:
            for number, page in enumerate(context.pages):
                name = f"{request.node.name}-{index}-{number}.png"
                page.screenshot(path=str(artifacts_dir / name))
        context.close()
    if contexts and "daphne_server" in request.fixturenames:
        _settle()  # Daphne records the closed sockets: done before the database's flush


@pytest.fixture
def page(browser_context_factory):
    return browser_context_factory().new_page()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
        if report.failed:
            _add_service_logs(item, report)
    return report


def _add_service_logs(item: pytest.Item, report: pytest.TestReport) -> None:
    """A failed test that used the browser, Daphne or the worker reports what they logged: the
    browser's events during the test and the end of Daphne's and the worker's logs (CI keeps
    only the printed report)."""
    events = getattr(item, "browser_events", None)
    if events:
        report.sections.append(("browser events", "\n".join(events[-60:])))
    funcargs = getattr(item, "funcargs", {})
    artifacts = funcargs.get("artifacts_dir")
    if artifacts is None:
        return
    for fixture, name in (("daphne_server", "daphne.log"), ("celery_worker", "celery.log")):
        log = Path(artifacts) / name
        if fixture in funcargs and log.exists():
            tail = log.read_text(errors="replace").splitlines()[-60:]
            report.sections.append((f"end of {name}", "\n".join(tail)))


def login(page, base_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """Logs a browser page in through the real login form."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("[data-sd=login]")
    page.wait_for_load_state("networkidle")


@pytest.fixture
def browser_login():
    return login


def pytest_report_header(config) -> list[str]:
    from django.conf import settings

    return [
        f"supportdesk: database={settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]} "
        f"redis={'yes' if settings.REDIS_URL else 'no'} "
        f"require_services={REQUIRE_SERVICES} chromium={shutil.which(CHROMIUM) is not None}"
    ]
