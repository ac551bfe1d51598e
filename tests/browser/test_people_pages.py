"""The pages a person meets off the happy path, in Chromium: an empty form, a lockout, a
wrong address, the home page."""

from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery staple"


def test_empty_form_lockout_and_the_way_back(chromium, live_server, transactional_db, screenshot):
    get_user_model().objects.create_user("bob", password=PASSWORD)
    page = chromium.new_context().new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.locator("#username-error").inner_text() == "Enter your username."
    assert page.locator("#password-error").inner_text() == "Enter your password."

    for _ in range(5):
        page.fill("#id_username", "bob")
        page.fill("#id_password", "wrong")
        with page.expect_navigation():
            page.click("button[type=submit]")
    assert page.locator("h1").inner_text() == "Too many sign-in attempts"
    assert "try again in 15 minutes" in page.locator("p.error").inner_text()
    screenshot(page, "lockout")
    with page.expect_navigation():
        page.click("text=Back to sign-in")
    assert page.url.endswith("/accounts/login/")
    page.context.close()


def test_home_page_and_not_found_page(chromium, live_server, transactional_db):
    get_user_model().objects.create_user("alice", password=PASSWORD)
    page = chromium.new_context().new_page()
    page.goto(f"{live_server.url}/")
    with page.expect_navigation():
        page.click("text=Sign in")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.goto(f"{live_server.url}/")
    assert "You are signed in as alice" in page.locator("p.lead").inner_text()
    response = page.goto(f"{live_server.url}/no/such/page/")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    with page.expect_navigation():
        page.click("a:text-is('Home')")
    assert "You are signed in as alice" in page.locator("p.lead").inner_text()
    page.context.close()
