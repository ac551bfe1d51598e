from django.urls import path

from apps.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("signed-out/", views.SignedOutView.as_view(), name="signed-out"),
    path("apps/", views.ConnectedAppsView.as_view(), name="connected-apps"),
]
