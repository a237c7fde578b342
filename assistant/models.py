"""The assistant's records: explanations of predictions, conversations, uploaded manuals, PDF reports."""

from django.conf import settings
from django.db import models


class Explanation(models.Model):
    """A prediction explained: the grounded draft (always) and the text shown (the model's rewrite or the
    draft). One per prediction: a finished one is reused; a draft stored because the model failed is
    replaced by the next request that gets a model answer."""

    class Source(models.TextChoices):
        LLM = "llm", "Language model"
        DRAFT = "draft", "Grounded draft"

    prediction = models.OneToOneField(
        "predictions.Prediction", on_delete=models.CASCADE, related_name="explanation"
    )
    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="explanations")
    text = models.TextField(help_text="Markdown; escaped when shown.")
    source = models.CharField(max_length=5, choices=Source.choices)
    draft_text = models.TextField()
    summary = models.TextField()
    # The core's draft parts, as its to_dict() writes them.
    risk_factors = models.JSONField(default=list, blank=True)
    findings = models.JSONField(default=list, blank=True)
    recommendations = models.JSONField(default=list, blank=True)
    citations = models.JSONField(default=list, blank=True)
    urgency = models.JSONField(default=dict, blank=True)
    facts = models.JSONField(default=dict, blank=True, help_text="What the draft was built from.")
    cited = models.JSONField(default=list, blank=True, help_text="Citation numbers the text uses.")
    model_name = models.CharField(max_length=200, blank=True)
    seconds = models.FloatField(default=0)
    finish_reason = models.CharField(max_length=20, blank=True)
    error = models.TextField(blank=True, help_text="Why the draft is shown instead of the model's text.")
    stats = models.JSONField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"explanation of prediction {self.prediction_id} ({self.source})"

    @property
    def urgency_level(self) -> str:
        return self.urgency.get("level", "")


class Conversation(models.Model):
    """One user's chat thread, optionally about a machine (its state and category steer the answers)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    machine = models.ForeignKey(
        "machines.Machine", null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    title = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["user", "-updated_at"], name="conversation_user_recent")]

    def __str__(self):
        return f"{self.title} ({self.user_id})"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField(help_text="Markdown; escaped when shown.")
    # Answers only: where the text came from ("llm" or "retrieval") and the passages it may cite.
    source = models.CharField(max_length=10, blank=True)
    citations = models.JSONField(default=list, blank=True)
    cited = models.JSONField(default=list, blank=True)
    model_name = models.CharField(max_length=200, blank=True)
    seconds = models.FloatField(default=0)
    finish_reason = models.CharField(max_length=20, blank=True, help_text='"cancelled": stopped by the user.')
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.role} message {self.pk} of conversation {self.conversation_id}"

    @property
    def stopped(self) -> bool:
        return self.finish_reason == "cancelled"


class ManualDocument(models.Model):
    """A maintenance manual an admin uploaded; its text joins the shipped manuals in the search index."""

    class Format(models.TextChoices):
        TEXT = "text", "Text"
        MARKDOWN = "markdown", "Markdown"
        PDF = "pdf", "PDF"

    name = models.CharField(max_length=200, unique=True, help_text="The uploaded file's name; cited as such.")
    title = models.CharField(max_length=300)
    format = models.CharField(max_length=10, choices=Format.choices)
    category = models.ForeignKey(
        "machines.MachineCategory",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="manuals",
        help_text="Empty: a general manual, searched for every machine.",
    )
    # Storage name made by the server (assistant/manuals/<uuid><suffix>), never the uploaded name.
    file = models.FileField(max_length=300, editable=False)
    bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    text = models.TextField(help_text="The extracted text the index is built from.")
    chunks = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Report(models.Model):
    """A PDF report of one machine or of the whole fleet, made by a Job (kind "report")."""

    class Scope(models.TextChoices):
        MACHINE = "machine", "Machine"
        FLEET = "fleet", "Fleet"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    machine = models.ForeignKey(
        "machines.Machine", null=True, blank=True, on_delete=models.CASCADE, related_name="reports"
    )
    job = models.OneToOneField("gan.Job", on_delete=models.CASCADE, related_name="report")
    file = models.FileField(max_length=300, blank=True, editable=False)
    bytes = models.PositiveIntegerField(default=0)
    pages = models.PositiveSmallIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope="fleet", machine__isnull=True)
                | models.Q(scope="machine", machine__isnull=False),
                name="report_scope_matches_machine",
            )
        ]

    def __str__(self):
        return f"{self.label} report #{self.pk}"

    @property
    def label(self) -> str:
        return self.machine.machine_id if self.machine_id else "Fleet"

    @property
    def is_ready(self) -> bool:
        return bool(self.file)

    @property
    def filename(self) -> str:
        stamp = self.created_at.strftime("%Y%m%d-%H%M")
        return f"{'fleet' if self.scope == self.Scope.FLEET else self.machine.machine_id}-report-{stamp}.pdf"
