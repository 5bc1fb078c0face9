"""A project's members page: ``/p/<project>/members/``."""

from django.urls import path

from apps.accounts import views

app_name = "members"

urlpatterns = [
    path("", views.MemberListView.as_view(), name="list"),
    path("add/", views.MemberAddView.as_view(), name="add"),
    path("<int:member>/", views.MemberChangeView.as_view(), name="change"),
]
