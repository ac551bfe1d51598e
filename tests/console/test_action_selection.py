"""Every list in the console refuses an action selection that is not one of its ids with a
400, never a 500 (Django would filter the rows by the posted values and raise in the query)."""

import pytest
from django.contrib import admin
from django.test import Client


def lists_with_actions(client: Client) -> list[tuple[str, str, str]]:
    found = []
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        response = client.get(url)
        form = response.context.get("action_form") if response.status_code == 200 else None
        actions = form.fields["action"].choices if form is not None else []
        names = [name for name, _ in actions if name]
        if names:
            found.append((model._meta.label, url, names[0]))
    return found


@pytest.mark.parametrize("selection", ["abc", "1²", "9" * 30, "-1" + "0" * 20, "1 OR 1=1", "\x00"])
def test_a_selection_that_is_no_id_is_a_400_on_every_list(admin_client, selection):
    lists = lists_with_actions(admin_client)
    assert len(lists) >= 8  # clients, tokens, consents, keys, users, lockouts, ...
    for label, url, action in lists:
        response = admin_client.post(url, {"action": action, "_selected_action": [selection]})
        assert response.status_code == 400, (label, action, response.status_code)
