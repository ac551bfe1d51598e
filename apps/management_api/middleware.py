from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

API_PREFIX = "/api/"


class EnglishApiMiddleware:
    """The management API answers programs: its messages stay in the project's language
    whatever the caller's Accept-Language (LocaleMiddleware, before this one, chose for people)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE  # as LocaleMiddleware sets it
        return self.get_response(request)
