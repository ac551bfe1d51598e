"""Operators with few permissions see only what those permissions cover, on the pages that
are not changelists: the dashboard on the admin index and a client's token preview."""

from django.contrib.auth import get_user_model

from apps.keys.services import get_signing_key
from tests.oauth.test_token_preview import claims_in
from tests.support.admin import permissions


def test_staff_without_permissions_see_no_counts_or_key_ids(db, operator_client):
    kid = get_signing_key("RS256").kid
    page = operator_client([]).get("/admin/").content.decode()
    assert "idp-dashboard" not in page
    assert "tokens-issued" not in page
    assert kid[:12] not in page


def test_each_figure_needs_the_permission_of_what_it_counts(db, operator_client):
    kid = get_signing_key("RS256").kid
    tokens_only = operator_client(permissions("oauth.view_accesstoken")).get("/admin/").content.decode()
    assert "tokens-issued" in tokens_only
    assert "exchanges-granted" not in tokens_only and kid[:12] not in tokens_only

    everything = operator_client(
        permissions("oauth.view_accesstoken", "audit.view_auditevent", "oauth.view_signingkey"), username="lead"
    ).get("/admin/")
    html = everything.content.decode()
    assert "tokens-issued" in html and "exchanges-refused" in html and kid[:12] in html and "<svg" in html


def test_the_token_preview_lists_no_usernames(apis, make_client, operator_client):
    get_user_model().objects.create_user("bob-the-secret-account")
    web = make_client("web", grants=["client_credentials"], scopes=["eventcatalog.read"]).client
    viewer = operator_client(permissions("oauth.view_application"))
    page = viewer.get(f"/admin/oauth/application/{web.pk}/preview/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "bob-the-secret-account" not in html
    assert 'name="user"' not in html
    # The field is gone, so a username sent anyway is ignored: the client's own token is shown.
    page = viewer.get(f"/admin/oauth/application/{web.pk}/preview/?user=bob-the-secret-account").content.decode()
    assert claims_in(page)["sub"] == web.client_id


def test_with_view_user_a_username_is_typed_not_picked(apis, make_client, operator_client):
    get_user_model().objects.create_user("alice")
    web = make_client(
        "web", grants=["authorization_code"], scopes=["eventcatalog.read"], redirect_uris=["https://w.test/cb"]
    )
    viewer = operator_client(permissions("oauth.view_application", "auth.view_user"))
    page = viewer.get(f"/admin/oauth/application/{web.client.pk}/preview/").content.decode()
    assert '<input type="text" name="user"' in page and "<option" not in page.split('name="user"')[1][:200]
    unknown = viewer.get(f"/admin/oauth/application/{web.client.pk}/preview/?user=nobody")
    assert unknown.status_code == 200 and "No user has this username." in unknown.content.decode()
    known = viewer.get(f"/admin/oauth/application/{web.client.pk}/preview/?user=alice").content.decode()
    assert claims_in(known)["sub"] == str(get_user_model().objects.get(username="alice").pk)


def test_filters_offer_only_what_the_list_holds_or_the_operator_may_view(apis, make_client, operator_client):
    from django.contrib.auth import get_user_model

    from apps.tokens.issuance import issue_user_token

    used = make_client(
        "client-with-tokens",
        grants=["authorization_code"],
        scopes=["eventcatalog.read"],
        redirect_uris=["https://u.test/cb"],
    ).client
    make_client("client-without-tokens", scopes=["eventcatalog.read"])
    issue_user_token(client=used, user=get_user_model().objects.create_user("alice"), scopes=["eventcatalog.read"])

    tokens_only = operator_client(permissions("oauth.view_accesstoken"))
    page = tokens_only.get("/admin/oauth/accesstoken/").content.decode()
    assert "client-with-tokens" in page
    assert "client-without-tokens" not in page
    assert "?audience=discount" not in page  # every API's name, to someone who may not view APIs

    with_apis = operator_client(permissions("oauth.view_accesstoken", "resources.view_apiresource"), username="lead")
    assert "?audience=discount" in with_apis.get("/admin/oauth/accesstoken/").content.decode()
