"""Pages of the annotations app, mounted under /p/<project>/."""

from django.urls import path  # noqa: F401

app_name = "annotations"

urlpatterns: list = []
