"""A service's refusal lands on the form field it names, or above the form."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from apps.core.forms import form_add_service_errors, service_error_messages


class RunForm(forms.Form):
    name = forms.CharField(required=False)
    target = forms.CharField(required=False)


def test_problems_go_to_their_field_its_alias_or_above_the_form() -> None:
    form = RunForm(data={})
    assert form.is_valid()
    error = ValidationError({"name": ["Taken."], "dataset": ["Empty."], "judge": ["Unreachable."]})
    form_add_service_errors(form, error, aliases={"dataset": "target"})
    assert form.errors["name"] == ["Taken."]
    assert form.errors["target"] == ["Empty."]
    assert form.non_field_errors() == ["Unreachable."]


def test_messages_name_their_field_and_bare_messages_stay_bare() -> None:
    assert service_error_messages(ValidationError({"name": ["Taken."]})) == ["name: Taken."]
    assert service_error_messages(ValidationError("Nothing to do.")) == ["Nothing to do."]
