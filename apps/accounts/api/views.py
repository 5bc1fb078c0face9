from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import services, throttling
from apps.accounts.api.serializers import (
    MembershipSerializer,
    ProjectSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
    UserSerializer,
)
from apps.accounts.models import Membership, Project
from apps.accounts.permissions import Capability, SiteAdminPermission, check_capability
from apps.accounts.viewsets import ProjectScopedMixin


class TokenView(APIView):
    """Exchange a username and password for an API token (throttled like the login page)."""

    permission_classes = [AllowAny]
    # Only a token is accepted here: signing in needs none, revoking names the token itself.
    authentication_classes = [TokenAuthentication]

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenResponseSerializer})
    def post(self, request: Request) -> Response:
        body = TokenRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        username = body.validated_data["username"]
        if throttling.login_blocked(username, request._request):
            return Response(
                {"detail": "Too many failed sign-ins. Wait a few minutes and try again."},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        user = authenticate(
            request._request, username=username, password=body.validated_data["password"]
        )
        if user is None:
            throttling.login_failed(username, request._request)
            return Response(
                {"detail": "Wrong username or password."}, status=status.HTTP_400_BAD_REQUEST
            )
        throttling.login_succeeded(username, request._request)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request) -> Response:
        """Revoke the caller's token."""
        if not request.user.is_authenticated:
            return Response({"detail": "Not signed in."}, status=status.HTTP_401_UNAUTHORIZED)
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Site administration: list and create users."""

    queryset = get_user_model().objects.order_by("username")
    serializer_class = UserSerializer
    permission_classes = [SiteAdminPermission]
    filterset_fields = ["username"]

    def perform_create(self, serializer: UserSerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        serializer.instance = services.user_create(
            actor=self.request.user,
            username=data["username"],
            password=data["password"],
            email=data.get("email", ""),
        )


class ProjectViewSet(
    ProjectScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Projects the caller belongs to; any signed-in user may create one and becomes its admin."""

    queryset = Project.objects.order_by("name")
    serializer_class = ProjectSerializer
    project_lookup = "pk"
    filterset_fields = ["slug"]
    capabilities = {
        "list": Capability.PROJECT_VIEW,
        "retrieve": Capability.PROJECT_VIEW,
        "update": Capability.PROJECT_MANAGE,
        "partial_update": Capability.PROJECT_MANAGE,
    }
    public_to_members = False

    def get_queryset(self) -> Any:
        return Project.objects.for_user(self.request.user).order_by("name")

    def get_permissions(self) -> Any:
        if self.action == "create":
            from rest_framework.permissions import IsAuthenticated

            return [IsAuthenticated()]
        return super().get_permissions()

    def perform_create(self, serializer: ProjectSerializer) -> None:  # type: ignore[override]
        data = serializer.validated_data
        serializer.instance = services.project_create(
            actor=self.request.user,
            name=data["name"],
            slug=data.get("slug", ""),
            description=data.get("description", ""),
            webhook_url=data.get("webhook_url", ""),
        )

    def perform_update(self, serializer: ProjectSerializer) -> None:  # type: ignore[override]
        serializer.instance = services.project_update(
            actor=self.request.user, project=self.get_object(), **serializer.validated_data
        )


class MemberViewSet(viewsets.GenericViewSet):
    """``/api/projects/{id}/members/``: list (any member), add/change or remove (project admins)."""

    serializer_class = MembershipSerializer
    capabilities = {
        "list": Capability.PROJECT_VIEW,
        "create": Capability.PROJECT_MANAGE,
        "destroy": Capability.PROJECT_MANAGE,
        "remove": Capability.PROJECT_MANAGE,
    }
    pagination_class = None

    def get_project(self) -> Project:
        project = get_object_or_404(
            Project.objects.for_user(self.request.user), pk=self.kwargs["project_pk"]
        )
        check_capability(self.request.user, project, self.capabilities[self.action])
        return project

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no project
            return Membership.objects.none()
        return self.get_project().memberships.select_related("user").order_by("user__username")

    def list(self, request: Request, project_pk: str) -> Response:
        return Response(self.get_serializer(self.get_queryset(), many=True).data)

    def create(self, request: Request, project_pk: str) -> Response:
        project = self.get_project()
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = services.membership_set(
            actor=request.user,
            project=project,
            user=body.validated_data["user"],
            role=body.validated_data["role"],
        )
        return Response(self.get_serializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    def destroy(self, request: Request, project_pk: str, pk: str) -> Response:
        """Remove a member; ``pk`` is the username."""
        return self._remove(pk)

    @extend_schema(
        request=MembershipSerializer, responses={204: None}, operation_id="projects_members_remove"
    )
    def remove(self, request: Request, project_pk: str) -> Response:
        """Remove the member named by ``username`` in the body."""
        data = request.data if isinstance(request.data, dict) else {}
        return self._remove(str(data.get("username", "")))

    def _remove(self, username: str) -> Response:
        project = self.get_project()
        user = get_object_or_404(get_user_model(), username=username)
        services.membership_remove(actor=self.request.user, project=project, user=user)
        return Response(status=status.HTTP_204_NO_CONTENT)
