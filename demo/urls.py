from django.urls import path

from demo import config, services

ROUTES = {
    "eventcatalog": [path("events", services.Events.as_view())],
    "discount": [path("discount", services.Discount.as_view())],
    "shoppingbasket": [
        path("basket", services.Basket.as_view()),
        path("discount-rate", services.DiscountRate.as_view()),
    ],
    "web": [path("", services.home), path("login", services.login), path("callback", services.callback)],
}
urlpatterns = ROUTES[config.SERVICE]
