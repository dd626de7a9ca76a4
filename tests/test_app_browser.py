"""The web app (``contactflow app``) driven end to end in headless Chromium.

The app runs as its command line starts it (``python -m simulator app``), and
Playwright drives Debian's Chromium (``/usr/bin/chromium``; Playwright cannot
download its own browser here) through a whole what-if: open on the preset, load a centre whose channels
have their own agents, change chat agents and web resolve, watch the estimate change, simulate, add
a variant, compare, download the comparison and the scenario, break a routing
row and upload a malformed file; then a scenario with agent groups: edit a
group's agents and a skill priority, add a group, download it. Skipped, with
the reason, when Chromium or the ``app`` extra (shiny, playwright) is missing.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from simulator.scenario import Scenario, load_scenario, parse_toml

from conftest import DAILY_CENTRE

CHROMIUM = os.environ.get("CONTACTFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytest.importorskip("shiny", reason='the app extra is not installed: pip install ".[app]"')
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install playwright")
if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)

expect = sync_api.expect
TIMEOUT_MS = 60_000
expect.set_options(timeout=TIMEOUT_MS)  # a busy machine: simulations share two cores with other work


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    """``contactflow app`` on a free port, as a user starts it; stopped after the tests."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "simulator", "app", "--no-browser", "--port", str(port),
                                "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the app did not start: {process.stdout.read()}")
            time.sleep(0.3)
    yield url
    process.terminate()
    try:
        output, _ = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    assert f"contactflow app: http://127.0.0.1:{port}" in output
    assert "Traceback" not in output, output


@pytest.fixture(scope="module")
def page(app_url, tmp_path_factory):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which(CHROMIUM) or CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(app_url)
        yield page
        browser.close()
        assert not errors, errors


def _card(page, figure: str):
    return page.locator(f'#estimate .kpi-card[data-figure="{figure}"] .value')


def _open_section(page, title: str) -> None:
    page.get_by_role("button", name=title, exact=True).click()


def _number(page, element_id: str, value: str) -> None:
    field = page.locator(f"#{element_id}")
    field.fill(value)
    field.press("Tab")


def _widget(page, path: str, part: str = ""):
    """A field's widget, whichever form it belongs to (ids start with the form's load number)."""
    from simulator.app.forms import widget_id

    return page.locator(f'[id$="{widget_id(path, part)}"]')


def _type(locator, value: str) -> None:
    locator.fill(value)
    locator.press("Tab")


def _download(page, button_id: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.locator(f"#{button_id}").click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_a_whole_what_if_in_the_browser(page, tmp_path):
    # the app opens on the preset; the what-if below is on a centre whose channels have their own agents
    expect(page.locator("#form-state")).to_contain_text("nice_bcg_2016: valid")
    page.locator("#upload").set_input_files(DAILY_CENTRE)
    expect(page.locator("#load-ok")).to_have_text("loaded daily_centre.toml")
    expect(page.locator("#form-state")).to_contain_text("daily_centre: valid")
    calls = _card(page, "focal_contacts")
    expect(calls).not_to_be_empty()
    calls_before = calls.inner_text()

    # change chat agents and web resolve: the estimate follows
    _open_section(page, "Channel: Chat (chat)")
    _type(_widget(page, "channels.chat.agents", "count"), "12")
    _open_section(page, "Channel: Web self-service (web)")
    _type(_widget(page, "channels.web.resolve"), "0.5")
    expect(page.locator("#form-state")).to_contain_text("2 field(s) changed")
    expect(calls).not_to_have_text(calls_before)

    # an impossible value: the library's message next to the field, the last valid scenario kept
    _type(_widget(page, "channels.web.resolve"), "1.5")
    problem = _widget(page, "channels.web.resolve", "problem")
    expect(problem).to_have_text("must be a probability in [0, 1]; got 1.5")
    expect(page.locator("#form-state")).to_contain_text("1 problem(s)")
    _type(_widget(page, "channels.web.resolve"), "0.5")
    expect(problem).to_be_empty()

    # simulate a little: KPI cards with intervals, the survey's figures beside them
    page.get_by_role("tab", name="Simulate").click()
    _number(page, "sim_reps", "2")
    _number(page, "sim_days", "0.25")
    page.locator("#simulate").click()
    expect(page.locator("#sim_results .kpi-card").first).to_be_visible()
    expect(page.locator("#sim_status")).to_contain_text("done")
    expect(page.locator("#sim_results")).to_contain_text("2 replication(s) of 0.25 day(s)")
    expect(page.locator('#sim_results .kpi-card[data-figure="avoidable_call_share"]')).to_contain_text("published")

    # the form as a variant, compared with the preset on common random numbers
    page.get_by_role("tab", name="What-if").click()
    page.locator("#variant_name").fill("lean chat, better web")
    page.locator("#add_variant").click()
    expect(page.locator("#variants-table")).to_contain_text("channels.chat.agents = 12")
    expect(page.locator("#variants-table")).to_contain_text("channels.web.resolve = 0.5")
    _number(page, "cmp_reps", "2")
    _number(page, "cmp_days", "0.25")
    page.locator("#compare").click()
    table = page.locator("#comparison-table")
    expect(table).to_contain_text("calls a day")
    expect(page.locator("#cmp_status")).to_contain_text("done")

    name, content = _download(page, "dl_cmp_csv")
    assert name == "comparison.csv"
    frame = pd.read_csv(io.BytesIO(content))
    assert list(dict.fromkeys(frame["scenario"])) == ["daily_centre", "lean chat, better web"]
    rows = frame.set_index(["scenario", "kpi"])
    variant, base = rows.loc["lean chat, better web"], rows.loc["daily_centre"]
    # paired on common random numbers: the same customers, and each difference is the variant's
    # mean minus the base's (the mean of the replication-by-replication differences)
    assert variant.loc["customers", "diff"] == 0
    for kpi in ("focal_contacts", "give_up_rate", "channels.chat.service_level"):
        assert variant.loc[kpi, "diff"] == pytest.approx(variant.loc[kpi, "mean"] - base.loc[kpi, "mean"])
    assert variant.loc["channels.chat.agent_hours", "mean"] == pytest.approx(
        base.loc["channels.chat.agent_hours", "mean"] * 12 / 20)
    shown = table.locator("tr", has_text="focal_contacts").inner_text()
    per_day = variant.loc["focal_contacts", "diff"] / 0.25
    assert f"{per_day:+,.0f}".replace("-", "−") + " calls a day" in shown

    name, content = _download(page, "download_scenario")
    assert name == "daily_centre.toml"
    saved = Scenario.from_dict(parse_toml(content.decode("utf-8")), name)
    assert saved.channel("chat").agents == 12 and saved.channel("web").resolve == 0.5
    assert saved.channel("phone").agents == 31  # the rest as loaded

    # a routing row that does not sum to 1 is refused, with the library's message
    page.get_by_role("tab", name="Scenario").click()
    grid = page.locator("#routing")
    row = grid.locator("tbody tr").nth(3)  # first channel, then web, email and chat's next
    expect(row.locator("td").first).to_have_text("chat: next")
    cell = row.locator("td").nth(4)  # row, web, email, chat, phone: the phone column
    cell.dblclick()
    cell.locator("textarea").fill("0.9")
    cell.locator("textarea").press("Enter")
    expect(page.locator("#routing-problems")).to_contain_text(
        "channels.chat.next: probabilities must sum to 1; they sum to 1.2004")
    expect(row.locator("td").last).to_have_text("1.2004")
    _, content = _download(page, "download_scenario")
    assert parse_toml(content.decode("utf-8"))["channels"]["chat"]["next"]["phone"] == 0.6996  # last valid

    # a malformed upload: a clear message, no traceback, and the scenario stays
    broken = tmp_path / "broken.toml"
    broken.write_text("name = 'broken'\n[channels.web\nagents = 3\n", encoding="utf-8")
    page.locator("#upload").set_input_files(str(broken))
    expect(page.locator("#load-error")).to_contain_text("broken.toml: 1 problem(s)")
    expect(page.locator("#load-error")).to_contain_text("malformed TOML")
    expect(page.locator("#estimate")).to_contain_text("daily_centre")
    assert "Traceback" not in page.content()


def _grouped_toml() -> str:
    """The daily centre with phone and chat answered by a shared service desk (chat held two at a time, a call
    back on the phone line) and a weekly arrival profile."""
    data = load_scenario(DAILY_CENTRE).to_dict()
    for name in ("phone", "chat"):
        del data["channels"][name]["agents"]
        data["channels"][name].pop("cost_per_agent_hour", None)
    data["groups"] = {"desk": {"label": "Service desk", "agents": 40, "skills": {"phone": 1, "chat": 2},
                               "cost_per_agent_hour": 30.0}}
    data["channels"]["chat"]["concurrency"] = 2
    data["channels"]["phone"]["callback"] = {"offer_when_wait_above": 2.0, "accept": 0.6, "within_minutes": 60}
    data["arrivals"]["hourly_profile"] = [4.0 if 8 <= h % 24 < 20 else 1.0 for h in range(168)]
    data["name"] = "grouped_centre"
    return Scenario.from_dict(data, "grouped_centre.toml").to_toml()


def test_agent_groups_in_the_browser(page, tmp_path):
    upload = tmp_path / "grouped_centre.toml"
    upload.write_text(_grouped_toml(), encoding="utf-8")
    page.locator("#upload").set_input_files(str(upload))
    expect(page.locator("#load-ok")).to_have_text("loaded grouped_centre.toml")
    state = page.locator("#form-state")
    expect(state).to_have_text("grouped_centre: valid")
    strip = page.locator("#estimate_strip")
    # the instant estimate; or, where the network approximation does not handle groups yet, a plain message;
    # or, where it takes long, a note while it runs in the background (the page stays usable)
    expect(strip).to_contain_text(re.compile(r"Give-up rate|No instant estimate for grouped_centre|"
                                             r"Estimating grouped_centre"))
    estimated = page.locator("#estimate .kpi-card").count() > 0
    if estimated:
        calls_before = _card(page, "focal_contacts").inner_text()
    elif page.locator("#estimate-problem").count():
        expect(strip).to_contain_text("No instant estimate for grouped_centre: the network approximation does "
                                      "not handle agent groups")
    assert "Traceback" not in strip.inner_text()

    # the group's agents and a skill priority: the form, and the estimate, follow
    _open_section(page, "Agent group: Service desk (desk)")
    _type(_widget(page, "groups.desk.agents", "count"), "44")
    expect(state).to_contain_text("1 field(s) changed")
    if estimated:
        expect(_card(page, "focal_contacts")).not_to_have_text(calls_before)
    chat_priority = _widget(page, "groups.desk.skills", "chat")
    _type(chat_priority, "0")
    problem = _widget(page, "groups.desk.skills", "problem")
    expect(problem).to_have_text("chat: must be a priority, a whole number >= 1 (1 = highest); got 0")
    expect(state).to_contain_text(re.compile(r"\d+ problem\(s\); the estimate and runs use the last valid"))
    _type(chat_priority, "1")
    expect(problem).to_be_empty()
    expect(state).to_contain_text("2 field(s) changed")

    # a new group that takes email's own agents: the form is built again, the edits kept
    page.locator('[id$="_new_group"]').fill("back_office")
    page.locator('[id$="_new_group_channels"] input[value="email"]').check()
    page.locator("#add_group").click()
    expect(page.get_by_role("button", name="Agent group: back_office", exact=True)).to_be_visible()
    expect(state).to_contain_text("grouped_centre: valid")
    expect(_widget(page, "groups.desk.agents", "count")).to_have_value("44")

    name, content = _download(page, "download_scenario")
    assert name == "grouped_centre.toml"
    saved = Scenario.from_dict(parse_toml(content.decode("utf-8")), name)
    desk, back_office = saved.group("desk"), saved.group("back_office")
    assert desk.agents == 44 and desk.skills == {"phone": 1, "chat": 1}
    assert back_office.skills == {"email": 1} and back_office.agents == 24
    assert saved.channel("email").served_by_groups and saved.period_hours == 168
