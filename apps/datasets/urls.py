"""Pages of the datasets app, mounted under /p/<project>/."""

from django.urls import path  # noqa: F401

app_name = "datasets"

urlpatterns: list = []
