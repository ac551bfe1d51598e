"""The project's URLs plus ``/bench/ceiling``: the cheapest JSON view Django can serve
as the token endpoint is served: the framework's ceiling for a token request."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from idp.urls import urlpatterns as idp_urlpatterns


@csrf_exempt
def ceiling(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/ceiling", ceiling, name="bench-ceiling"), *idp_urlpatterns]
