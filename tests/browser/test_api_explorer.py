"""An operator opens the management API's explorer in Chromium: Swagger UI, served by the IdP
itself (nothing fetched from elsewhere), lists the API's operations under the page's CSP without
a single violation, and a call tried from it with a client-credentials token works."""

import pytest
from django.contrib.auth import get_user_model

from apps.clients.services import save_client
from apps.management_api.authentication import READ_SCOPE, WRITE_SCOPE
from apps.resources.models import ApiResource, ApiScope
from apps.resources.privileged import MANAGEMENT_API_AUDIENCE

PASSWORD = "operator-password-for-tests"
# Reported by the page itself, whatever the console says (Playwright's own scripts are exempt).
WATCH_CSP = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@pytest.fixture
def console(transactional_db, settings, live_server):
    settings.IDP = {**settings.IDP, "ISSUER": live_server.url}
    get_user_model().objects.create_user("operator", password=PASSWORD, is_staff=True)
    get_user_model().objects.create_user("carol", email="carol@example.test", password=PASSWORD)
    # The management API's own API is a migration's data, which a transactional test run
    # before this one flushed: made again as that migration makes it.
    admin_api, _created = ApiResource.objects.get_or_create(
        audience=MANAGEMENT_API_AUDIENCE, defaults={"name": "IdP management API", "resource_uri": "urn:idp:admin"}
    )
    for name in (READ_SCOPE, WRITE_SCOPE):
        ApiScope.objects.get_or_create(name=name, defaults={"resource": admin_api, "description": name})
    return save_client(name="automation", grant_types=["client_credentials"], scopes=[READ_SCOPE, WRITE_SCOPE])


def test_an_operator_explores_the_api_and_tries_a_call(chromium, live_server, console, screenshot):
    page = chromium.new_context().new_page()
    page.add_init_script(WATCH_CSP)
    requests, console_errors = [], []

    def on_console(message) -> None:
        # The sign-in page on the way names no icon, so Chromium asks for /favicon.ico (a 404);
        # the explorer names its own.
        if message.type == "error" and message.location["url"] != f"{live_server.url}/favicon.ico":
            console_errors.append(f"{message.text} ({message.location['url']})")

    page.on("request", lambda request: requests.append(request.url))
    page.on("console", on_console)
    page.on("pageerror", lambda error: console_errors.append(str(error)))

    # Not signed in: the console's sign-in first, then back to the explorer.
    page.goto(f"{live_server.url}/api/admin/docs/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation(url="**/api/admin/docs/"):
        page.click("main button[type=submit]")

    page.wait_for_selector(".opblock-summary-path")
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert {
        "/api/admin/users/",
        "/api/admin/users/{username}/disable/",
        "/api/admin/consents/{id}/",
        "/api/admin/tokens/{jti}/revoke/",
        "/api/admin/keys/rotate/",
        "/api/admin/clients/{client_id}/rotate-secret/",
    } <= {path.replace("\u200b", "") for path in paths}
    assert page.locator(".opblock-post").count() >= 8  # the actions, creations and rotations

    # Authorize with the automation client (client credentials at /o/token/), then try a call.
    page.click("button.authorize")
    dialog = page.locator(".modal-ux")
    dialog.locator("input#client_id_clientCredentials").fill(console.client.client_id)
    dialog.locator("input#client_secret_clientCredentials").fill(console.client_secret)
    dialog.locator("label[for^='idp.admin.read']").first.click()
    dialog.locator("button.modal-btn.authorize").click()
    dialog.get_by_text("Authorized").first.wait_for()
    dialog.locator("button.btn-done").click()

    operation = page.locator("#operations-users-users_list")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    body = operation.locator(".responses-table.live-responses-table .response-col_description pre").first
    body.wait_for()
    assert '"username": "carol"' in body.inner_text()
    assert operation.locator(".live-responses-table tbody .response-col_status").first.inner_text().strip() == "200"
    screenshot(page, "api-explorer")

    assert page.evaluate("window.__violations") == []
    assert not [error for error in console_errors if "Content Security Policy" in error], console_errors
    assert not console_errors, console_errors
    elsewhere = [url for url in requests if not url.startswith((live_server.url, "data:"))]
    assert elsewhere == []
