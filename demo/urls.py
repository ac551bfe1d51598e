from django.urls import path

from demo import config, services, web

ROUTES = {
    "eventcatalog": [path("events", services.Events.as_view())],
    "discount": [path("discount", services.Discount.as_view())],
    "shoppingbasket": [
        path("basket", services.Basket.as_view()),
        path("order", services.Order.as_view()),
        path("discount-rate", services.DiscountRate.as_view()),
    ],
    "web": [
        path("", web.home),
        path("client-credentials", web.client_credentials),
        path("order", web.order),
        path("login", web.login),
        path("callback", web.callback),
        path("logout", web.logout),
    ],
}
urlpatterns = ROUTES[config.SERVICE]
