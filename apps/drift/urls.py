"""Pages of the drift app, mounted under /p/<project>/."""

from django.urls import path  # noqa: F401

app_name = "drift"

urlpatterns: list = []
