from django.urls import path

from apps.accounts import factor_views, views

app_name = "accounts"

urlpatterns = [
    path("", views.AccountView.as_view(), name="account"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/second-factor/", factor_views.SecondFactorView.as_view(), name="second-factor"),
    path("security/", factor_views.SecurityView.as_view(), name="security"),
    path("security/app/begin/", factor_views.TotpBeginView.as_view(), name="totp-begin"),
    path("security/app/confirm/", factor_views.TotpConfirmView.as_view(), name="totp-confirm"),
    path("security/app/remove/", factor_views.TotpRemoveView.as_view(), name="totp-remove"),
    path("security/passkeys/remove/", factor_views.PasskeyRemoveView.as_view(), name="passkey-remove"),
    path("security/recovery-codes/", factor_views.RecoveryCodesView.as_view(), name="recovery-codes"),
    path(
        "passkeys/registration-options/",
        factor_views.PasskeyRegistrationOptionsView.as_view(),
        name="passkey-registration-options",
    ),
    path("passkeys/register/", factor_views.PasskeyRegisterView.as_view(), name="passkey-register"),
    path(
        "passkeys/authentication-options/",
        factor_views.PasskeyAuthenticationOptionsView.as_view(),
        name="passkey-authentication-options",
    ),
    path("passkeys/authenticate/", factor_views.PasskeyAuthenticateView.as_view(), name="passkey-authenticate"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("signed-out/", views.SignedOutView.as_view(), name="signed-out"),
    path("apps/", views.ConnectedAppsView.as_view(), name="connected-apps"),
    path("sessions/", views.SessionsView.as_view(), name="sessions"),
    path("password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password/reset/sent/", views.PasswordResetSentView.as_view(), name="password-reset-sent"),
    path("reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("reset/done/", views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("register/", views.RegisterView.as_view(), name="register"),
    path("register/sent/", views.RegisterSentView.as_view(), name="register-sent"),
    path("register/verify/<uidb64>/<token>/", views.RegisterVerifyView.as_view(), name="register-verify"),
]
