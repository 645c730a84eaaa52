from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Concat, Lower


class EscalationPolicy(models.TextChoices):
    NEVER = "never", "Never"
    NEGATIVE = "negative", "When the customer is negative"
    ANGRY = "angry", "When the customer is angry"
    ALWAYS = "always", "Always"


class Intent(models.Model):
    """One intent of the taxonomy.

    ``required_details`` is a list of ``{"name": "order_number", "question": "..."}``: details
    the dialog manager asks for before it answers.
    """

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    escalation_policy = models.CharField(
        max_length=16, choices=EscalationPolicy.choices, default=EscalationPolicy.NEVER
    )
    required_details = models.JSONField(default=list, blank=True)
    # A quick reply: the widget's greeting offers the labelled intents as topic buttons.
    button_label = models.CharField(
        max_length=40,
        blank=True,
        help_text="A topic button in the widget's greeting (e.g. \"Track my order\"); "
        "empty for none. The widget shows at most five.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class TrainingPhrase(models.Model):
    intent = models.ForeignKey(Intent, on_delete=models.CASCADE, related_name="phrases")
    text = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["intent", "text"], name="phrase_unique_per_intent")
        ]

    def __str__(self) -> str:
        return self.text


class SignalCategory(models.TextChoices):
    LEGAL = "legal", "Legal"
    FRAUD = "fraud", "Fraud"
    ANGER = "anger", "Anger"
    HUMAN_REQUEST = "human_request", "Human request"
    OTHER = "other", "Other"


class EscalationSignal(models.Model):
    phrase = models.CharField(max_length=120, unique=True)
    category = models.CharField(max_length=20, choices=SignalCategory.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "phrase"]

    def __str__(self) -> str:
        return f"{self.phrase} ({self.category})"


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class Article(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown. Rendered through a sanitiser, never as raw HTML.")
    status = models.CharField(
        max_length=16, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT, db_index=True
    )
    intents = models.ManyToManyField(Intent, related_name="articles", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Lower-cased title and body, kept by the database, so that search is one plain LIKE
    # per row instead of UPPER() over every body on every query.
    search_text = models.GeneratedField(
        expression=Lower(Concat("title", Value("\n"), "body", output_field=models.TextField())),
        output_field=models.TextField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class ArticleVersion(models.Model):
    """An earlier state of an article, kept so that it can be compared and restored."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=ArticleStatus.choices)
    intent_slugs = models.JSONField(default=list)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["article", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="article_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.number}"


class ClassifierStatus(models.TextChoices):
    TRAINING = "training", "Training"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class ClassifierModel(models.Model):
    """A trained offline classifier: versioned, with cross-validated metrics; one is active."""

    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(
        max_length=16, choices=ClassifierStatus.choices, default=ClassifierStatus.TRAINING
    )
    progress = models.FloatField(default=0.0)
    is_active = models.BooleanField(default=False)
    metrics = models.JSONField(default=dict, blank=True)
    n_intents = models.PositiveIntegerField(default=0)
    n_phrases = models.PositiveIntegerField(default=0)
    artifact = models.BinaryField(null=True, blank=True, editable=False)
    error = models.TextField(blank=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_classifier"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.version} ({self.status}{', active' if self.is_active else ''})"


class AuditLogEntry(models.Model):
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=40)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit log entries"

    def __str__(self) -> str:
        return f"{self.action} {self.object_type} {self.object_repr}"


class HttpMethod(models.TextChoices):
    GET = "GET", "GET"
    POST = "POST", "POST"


class Connector(models.Model):
    """A call to the company's own API that the bot makes for an intent (``knowledge.connectors``).

    ``headers`` maps a header name to its value; the values are write-only: pages, logs,
    traces, audit entries and exports show the names only. ``needs`` lists the details the
    call takes (``order_number``, ``email``, ``customer_id``: the verified customer's id).
    """

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(
        blank=True, help_text="What the Claude backend reads to decide when to use it."
    )
    intents = models.ManyToManyField(Intent, related_name="connectors", blank=True)
    needs = models.JSONField(default=list, blank=True)
    method = models.CharField(max_length=8, choices=HttpMethod.choices, default=HttpMethod.GET)
    url_template = models.CharField(max_length=1000)
    allowed_hosts = models.JSONField(default=list, blank=True)
    headers = models.JSONField(default=dict, blank=True, editable=False)
    timeout_seconds = models.FloatField(default=3.0)
    verified_only = models.BooleanField(default=False)
    reply_template = models.TextField()
    fallback_text = models.CharField(
        max_length=500, blank=True,
        help_text="Said when the API finds nothing (404) or a field the template uses is missing.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
