"""Page and admin forms. They carry input to the services, which hold the rules (the API shares them)."""

from django import forms
from rest_framework.exceptions import ValidationError

from alerts.models import SEVERITIES, AlertRule, Webhook, WorkOrder
from alerts.services.rules import EDITABLE, rule_check
from gan.models import Job

SEVERITY_CHOICES = [(severity, severity.title()) for severity in SEVERITIES]


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's {field: [messages]} on the form's fields (the rest as form-wide errors)."""
    detail = exc.detail if isinstance(exc.detail, dict) else {"__all__": exc.detail}
    for field, messages in detail.items():
        target = field if field in form.fields else None
        for message in messages if isinstance(messages, list) else [messages]:
            form.add_error(target, str(message))


class AlertRuleForm(forms.ModelForm):
    job_kinds = forms.MultipleChoiceField(
        choices=Job.Kind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Job-failed rules: the kinds watched (none ticked: every kind).",
    )

    class Meta:
        model = AlertRule
        fields = list(EDITABLE)
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def clean(self):
        data = super().clean()
        try:
            checked = rule_check({field: data.get(field) for field in EDITABLE})
        except ValidationError as exc:
            add_service_errors(self, exc)
            return data
        data.update(checked)
        return data


class AlarmActionForm(forms.Form):
    comment = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class WorkOrderForm(forms.Form):
    task = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    recommended_actions = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text="One action per line."
    )
    priority = forms.ChoiceField(choices=SEVERITY_CHOICES, initial="warning")
    due_at = forms.DateTimeField(required=False, help_text="Empty: from the RUL lower bound or the priority.")
    assignee = forms.ModelChoiceField(queryset=None, required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, assignees, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignees
        self.fields["due_at"].widget = forms.DateTimeInput(attrs={"type": "datetime-local"})

    def clean_recommended_actions(self) -> list[str]:
        return [
            line.strip() for line in self.cleaned_data["recommended_actions"].splitlines() if line.strip()
        ]


class WorkOrderCloseForm(forms.Form):
    outcome = forms.ChoiceField(choices=WorkOrder.Outcome.choices)
    reset_baseline = forms.BooleanField(
        required=False, help_text="The machine was restored to health: its baseline starts again now."
    )
    failure_mode = forms.CharField(required=False, max_length=120)
    failed_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="Empty: now."
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PreferenceForm(forms.Form):
    browser_severities = forms.MultipleChoiceField(
        choices=SEVERITY_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    email_severities = forms.MultipleChoiceField(
        choices=SEVERITY_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    job_updates = forms.BooleanField(required=False, label="Tell me when a job I started ends")


class WebhookForm(forms.Form):
    name = forms.CharField(max_length=100)
    url = forms.URLField(max_length=500, assume_scheme="https")
    secret = forms.CharField(
        required=False,
        min_length=16,
        max_length=128,
        help_text="Empty: keep it (or generate one for a new webhook).",
    )
    severities = forms.MultipleChoiceField(
        choices=SEVERITY_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    events = forms.MultipleChoiceField(
        choices=Webhook.Event.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )
    enabled = forms.BooleanField(required=False, initial=True)
