"""Forms of the admin screens: project creation and members."""

from __future__ import annotations

from typing import Any

from django import forms

from apps.accounts.models import Role


class ProjectForm(forms.Form):
    """A new project; its creator becomes its first admin."""

    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=80,
        required=False,
        help_text="The project's part of every address (/p/<slug>/). Made from the name if empty.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class MemberAddForm(forms.Form):
    """Add a user to the project, or create the account first (site admins only)."""

    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Only for a new account: leave empty to add an existing user.",
    )

    def __init__(self, *args: Any, can_create_users: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not can_create_users:  # only site admins create accounts (as with the users API)
            del self.fields["password"]


class MemberRoleForm(forms.Form):
    """A member's new role."""

    role = forms.ChoiceField(choices=Role.choices)
