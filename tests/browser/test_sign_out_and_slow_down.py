"""RP-initiated sign-out without a return address, a broken sign-out link, and the page a
browser sees when sign-ins to one account are being slowed, in Chromium."""

from django.contrib.auth import get_user_model

from apps.ratelimit import middleware

PASSWORD = "correct horse battery staple"


def sign_in(page, live_server, username: str, password: str = PASSWORD):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_sign_out_without_a_return_address_ends_on_the_signed_out_page(chromium, live_server, transactional_db):
    get_user_model().objects.create_user("alice", password=PASSWORD)
    page = chromium.new_context().new_page()
    sign_in(page, live_server, "alice")

    page.goto(f"{live_server.url}/o/logout/?id_token_hint=not-a-token")
    assert page.locator("h1").inner_text() == "This sign-out link is not valid"
    assert "You are still signed in here." in page.content()

    page.goto(f"{live_server.url}/o/logout/")
    assert page.locator("h1").inner_text() == "Sign out?"
    with page.expect_navigation():
        page.click("button[name=allow]")
    assert page.url == f"{live_server.url}/accounts/signed-out/"
    assert page.locator("h1").inner_text() == "You are signed out"
    page.goto(f"{live_server.url}/")
    assert page.locator("a", has_text="Sign in").count() == 1  # signed out indeed
    page.context.close()


def test_a_slowed_sign_in_says_how_long_to_wait(chromium, live_server, transactional_db, rate_limits, monkeypatch):
    # Ten minutes before the hour's window ends (windows follow the wall clock: near the end
    # of one, the wait would be seconds, not minutes).
    monkeypatch.setattr(middleware, "now", lambda: 1_800_000_000.0 + 3000)
    get_user_model().objects.create_user("bob", password=PASSWORD)
    rate_limits(login_username=(2, 3600))
    page = chromium.new_context().new_page()
    for _ in range(2):
        sign_in(page, live_server, "bob", "wrong")
    sign_in(page, live_server, "bob")
    assert page.locator("h1").inner_text() == "Too many sign-in attempts"
    assert "try again in" in page.locator("p.error").inner_text()
    assert page.locator("p.error").inner_text() == "Please wait: try again in 10 minutes."
    with page.expect_navigation():
        page.click("a:text-is('Back to sign-in')")
    assert page.url.endswith("/accounts/login/")
    page.context.close()
