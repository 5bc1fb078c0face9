from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.accounts.api import views

router = SimpleRouter()
router.register("users", views.UserViewSet, basename="user")
router.register("projects", views.ProjectViewSet, basename="project")

member_list = views.MemberViewSet.as_view({"get": "list", "post": "create", "delete": "remove"})
member_detail = views.MemberViewSet.as_view({"delete": "destroy"})

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="auth-token"),
    path("projects/<int:project_pk>/members/", member_list, name="project-members"),
    path(
        "projects/<int:project_pk>/members/<str:pk>/", member_detail, name="project-member-detail"
    ),
    *router.urls,
]
