"""The person's own pages: profile, password change, sessions, and the password reset. Bad
input gets a clear message and changes nothing; ending a session ends what it produced."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client

from apps.accounts.models import UserSession
from apps.oauth.models import RefreshToken
from tests.support.flows import Pkce, approve, redeem, refresh

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a new and rather long passphrase"


@pytest.fixture
def carol(db):
    return get_user_model().objects.create_user("carol", email="carol@example.test", password=PASSWORD)


def signed_in(username: str = "carol", password: str = PASSWORD, agent: str = "Firefox on Linux") -> Client:
    """A browser that signs in through the sign-in page, as a person would."""
    browser = Client(HTTP_USER_AGENT=agent)
    response = browser.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.content
    return browser


def refresh_token_from(browser: Client, api: Client, web) -> str:
    """A refresh token the web app got through a code approved in ``browser``'s session."""
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, "openid eventcatalog.read", pkce)["code"]
    response = redeem(api, web, code, pkce.verifier)
    assert response.status_code == 200, response.content
    return response.json()["refresh_token"]


def test_the_account_page_needs_a_sign_in(client, db):
    response = client.get("/accounts/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_sign_in_lands_on_the_account_page_which_links_everything(carol):
    browser = Client()
    response = browser.post("/accounts/login/", {"username": "carol", "password": PASSWORD})
    assert response["Location"] == "/accounts/"
    page = browser.get("/accounts/").content.decode()
    for link in ("/accounts/password/", "/accounts/sessions/", "/accounts/apps/"):
        assert f'href="{link}"' in page
    assert 'href="/accounts/"' in browser.get("/accounts/apps/").content.decode()  # from every page


def test_the_profile_is_saved(carol):
    browser = signed_in()
    response = browser.post("/accounts/", {"first_name": "Carol", "last_name": "Jones", "email": "c@example.test"})
    assert response.status_code == 302
    carol.refresh_from_db()
    assert (carol.first_name, carol.last_name, carol.email) == ("Carol", "Jones", "c@example.test")
    assert "Your profile is saved." in browser.get("/accounts/").content.decode()


def test_a_bad_email_address_is_refused_and_nothing_changes(carol):
    browser = signed_in()
    response = browser.post("/accounts/", {"first_name": "Mallory", "last_name": "", "email": "not an address"})
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    carol.refresh_from_db()
    assert (carol.first_name, carol.email) == ("", "carol@example.test")


def test_a_weak_new_password_is_refused_and_the_old_one_still_works(carol):
    browser = signed_in()
    data = {"old_password": PASSWORD, "new_password1": "password", "new_password2": "password"}
    response = browser.post("/accounts/password/", data)
    assert response.status_code == 200
    assert "This password is too common." in response.content.decode()
    carol.refresh_from_db()
    assert carol.check_password(PASSWORD)


def test_changing_the_password_signs_out_the_other_sessions_and_their_apps(client, carol, web):
    here, there = signed_in(agent="Here"), signed_in(agent="There")
    mine, theirs = refresh_token_from(here, client, web), refresh_token_from(there, client, web)
    data = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    response = here.post("/accounts/password/", data, follow=True)
    assert "Your password is changed. 1 other session signed out." in response.content.decode()
    assert here.get("/accounts/").status_code == 200  # this one stays signed in
    assert there.get("/accounts/").status_code == 302  # the other one is out
    assert refresh(client, web, theirs).json()["error"] == "invalid_grant"
    assert refresh(client, web, mine).status_code == 200  # this session's apps keep working
    # Django gave this session a new key; it is still the one listed, and still ends its apps.
    assert list(UserSession.objects.values_list("user_agent", flat=True)) == ["Here"]


def test_the_sessions_page_lists_each_browser_this_one_first(carol):
    signed_in(agent="Old phone")
    here = signed_in(agent="This laptop")
    page = here.get("/accounts/sessions/").content.decode()
    assert page.index("This laptop") < page.index("Old phone")
    assert "(this browser)" in page
    assert page.count('name="session"') == 2
    assert all(row.session_key not in page for row in UserSession.objects.all())  # keys are credentials


def test_signing_out_one_session_ends_it_and_revokes_its_refresh_tokens_only(client, carol, web):
    here, there = signed_in(agent="Here"), signed_in(agent="There")
    mine, theirs = refresh_token_from(here, client, web), refresh_token_from(there, client, web)
    there_ref = UserSession.objects.get(user_agent="There").ref
    response = here.post("/accounts/sessions/", {"session": there_ref}, follow=True)
    assert "That session is signed out." in response.content.decode()
    assert there.get("/accounts/").status_code == 302
    assert refresh(client, web, theirs).json()["error"] == "invalid_grant"
    assert refresh(client, web, mine).status_code == 200


def test_sign_out_everywhere_else(client, carol, web):
    here, there, elsewhere = signed_in(agent="Here"), signed_in(agent="There"), signed_in(agent="Elsewhere")
    theirs = refresh_token_from(there, client, web)
    response = here.post("/accounts/sessions/", {"others": "1"}, follow=True)
    assert "Signed out everywhere else (2 sessions)." in response.content.decode()
    assert [there.get("/accounts/").status_code, elsewhere.get("/accounts/").status_code] == [302, 302]
    assert here.get("/accounts/").status_code == 200
    assert refresh(client, web, theirs).json()["error"] == "invalid_grant"
    assert list(UserSession.objects.values_list("user_agent", flat=True)) == ["Here"]


def test_signing_out_this_session_from_the_list_signs_out(carol):
    here = signed_in()
    response = here.post("/accounts/sessions/", {"session": UserSession.objects.get().ref})
    assert response["Location"] == "/accounts/signed-out/"
    assert here.get("/accounts/").status_code == 302


def test_someone_elses_session_cannot_be_ended(carol):
    get_user_model().objects.create_user("dave", password=PASSWORD)
    daves = signed_in("dave")
    mine = signed_in()
    dave_ref = UserSession.objects.get(user__username="dave").ref
    assert mine.post("/accounts/sessions/", {"session": dave_ref}).status_code == 404
    assert daves.get("/accounts/").status_code == 200


# --- password reset -------------------------------------------------------------------------


def ask_for_reset(client: Client, email: str, **headers):
    return client.post("/accounts/password/reset/", {"email": email}, **headers)


def reset_link() -> str:
    (message,) = mail.outbox
    return re.search(r"https?://\S+/accounts/reset/\S+/", message.body).group(0)


def test_the_sign_in_page_links_the_reset(client, db):
    assert 'href="/accounts/password/reset/"' in client.get("/accounts/login/").content.decode()


def test_the_same_answer_whether_or_not_the_address_has_an_account(client, carol):
    unknown = ask_for_reset(client, "nobody@example.test")
    assert not mail.outbox
    known = ask_for_reset(client, "carol@example.test")
    assert len(mail.outbox) == 1
    assert unknown.status_code == known.status_code == 302
    assert unknown["Location"] == known["Location"] == "/accounts/password/reset/sent/"


def test_the_mail_links_to_the_issuer_whatever_the_host_header(client, carol, settings):
    settings.ALLOWED_HOSTS = ["*"]
    ask_for_reset(client, "carol@example.test", HTTP_HOST="evil.test")
    assert reset_link().startswith("https://idp.test/accounts/reset/")
    assert mail.outbox[0].to == ["carol@example.test"]


def test_a_reset_link_sets_the_password_once_and_ends_every_session(client, carol, web):
    elsewhere = signed_in()
    theirs = refresh_token_from(elsewhere, client, web)
    ask_for_reset(client, "carol@example.test")
    link = reset_link().split("idp.test", 1)[1]
    form = client.get(link, follow=True)
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == "/accounts/reset/done/"
    carol.refresh_from_db()
    assert carol.check_password(NEW_PASSWORD)
    assert elsewhere.get("/accounts/").status_code == 302
    assert refresh(client, web, theirs).json()["error"] == "invalid_grant"
    assert not RefreshToken.objects.filter(user=carol, revoked__isnull=True).exists()
    again = Client().get(link, follow=True)  # used: the password it was bound to is gone
    assert "This link does not work" in again.content.decode()


def test_a_weak_password_on_the_reset_form_changes_nothing(client, carol):
    ask_for_reset(client, "carol@example.test")
    form = client.get(reset_link().split("idp.test", 1)[1], follow=True)
    response = client.post(form.redirect_chain[-1][0], {"new_password1": "12345678", "new_password2": "12345678"})
    assert response.status_code == 200
    assert "This password is entirely numeric." in response.content.decode()
    carol.refresh_from_db()
    assert carol.check_password(PASSWORD)


def test_an_expired_reset_link_says_so_and_changes_nothing(client, carol, settings):
    ask_for_reset(client, "carol@example.test")
    link = reset_link().split("idp.test", 1)[1]
    later = default_token_generator._now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)
    with mock.patch.object(type(default_token_generator), "_now", return_value=later):
        response = client.get(link, follow=True)
    assert "This link does not work" in response.content.decode()
    assert "The link has expired or was already used. Nothing was changed." in response.content.decode()
    carol.refresh_from_db()
    assert carol.check_password(PASSWORD)


def test_reset_requests_are_rate_limited_per_address_and_per_email(client, carol, rate_limits):
    rate_limits(account_mail=(2, 3600))
    for _ in range(2):
        assert ask_for_reset(client, "carol@example.test", REMOTE_ADDR="10.0.0.1").status_code == 302
    slowed = ask_for_reset(client, "carol@example.test", REMOTE_ADDR="10.0.0.1")
    assert slowed.status_code == 429 and "Too many requests for mail" in slowed.content.decode()
    # The same inbox from another address is slowed too: no mail bombing from many places.
    assert ask_for_reset(client, "CAROL@example.test", REMOTE_ADDR="10.0.0.2").status_code == 429
    assert len(mail.outbox) == 2


@pytest.mark.parametrize(
    ("user_agent", "shown"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Safari/537.36 Edg/126.0",
            "Edge on Windows",
        ),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Linux"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.5 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.5.0", "Unknown browser"),
        ("", "Unknown browser"),
    ],
)
def test_sessions_are_named_by_browser_and_system(user_agent, shown):
    from apps.accounts.templatetags.people import device

    assert device(user_agent) == shown


def test_a_code_approved_in_an_ended_session_is_no_longer_redeemable(client, carol, web):
    here, there = signed_in(agent="Here"), signed_in(agent="There")
    pkce = Pkce.new()
    code = approve(there, web.client.client_id, "eventcatalog.read", pkce)["code"]
    here.post("/accounts/sessions/", {"others": "1"})
    assert redeem(client, web, code, pkce.verifier).json()["error"] == "invalid_grant"


def test_a_first_party_apps_refresh_tokens_end_with_the_session_too(client, carol, apis, make_client):
    """A client that skips the consent screen gets its code without the screen's form: the
    code still carries the session (and its sign-in time)."""
    first_party = make_client(
        "first-party",
        grants=["authorization_code", "refresh_token"],
        scopes=["openid", "eventcatalog.read"],
        redirect_uris=["https://web.test/callback"],
        skip_authorization=True,
    )
    here, there = signed_in(agent="Here"), signed_in(agent="There")
    theirs = refresh_token_from(there, client, first_party)
    assert RefreshToken.objects.get(revoked__isnull=True).session_ref == UserSession.objects.get(user_agent="There").ref
    here.post("/accounts/sessions/", {"others": "1"})
    assert refresh(client, first_party, theirs).json()["error"] == "invalid_grant"


def test_a_code_approved_before_a_password_change_follows_the_session_to_its_new_key(client, carol, web):
    """Django gives the session a new key when the password changes: a code approved just
    before, redeemed after, still belongs to this session, and ending it revokes the token."""
    here = signed_in(agent="Here")
    pkce = Pkce.new()
    code = approve(here, web.client.client_id, "openid eventcatalog.read", pkce)["code"]
    data = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    here.post("/accounts/password/", data)
    mine = redeem(client, web, code, pkce.verifier).json()["refresh_token"]
    here.post("/accounts/sessions/", {"session": UserSession.objects.get().ref})
    assert refresh(client, web, mine).json()["error"] == "invalid_grant"


@pytest.mark.parametrize("consent", ["²", "¹²", "１", "9" * 30, "", "x"])
def test_revoking_an_app_with_a_bad_id_is_a_404(carol, consent):
    """Unicode digits pass str.isdigit() but not int(); 30 digits overflow the column."""
    response = signed_in().post("/accounts/apps/", {"consent": consent})
    assert response.status_code == 404 and "Page not found" in response.content.decode()


def test_guessing_the_current_password_counts_towards_the_lockout(carol):
    """The password change checks the current password through the authentication backends:
    each wrong guess is a failed sign-in for django-axes, and the fifth locks the form (the
    right password too) as the sign-in page would be."""
    browser = signed_in()
    data = {"old_password": "guess", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    for expected in range(1, 5):
        response = browser.post("/accounts/password/", data)
        assert response.status_code == 200
        assert "Your old password was entered incorrectly. Please enter it again." in response.content.decode()
        assert AccessAttempt.objects.get(username="carol").failures_since_start == expected
    assert browser.post("/accounts/password/", data).status_code == 429
    right = {**data, "old_password": PASSWORD}
    assert browser.post("/accounts/password/", right).status_code == 429
    carol.refresh_from_db()
    assert carol.check_password(PASSWORD)
