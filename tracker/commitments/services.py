"""Every write to the commitment data goes through here: the admin, the API and the importer alike.

Each function validates (model validation plus the database's constraints), runs in one transaction,
and leaves a history entry naming who made the change, why, and which source it rests on.
"""
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from simple_history.signals import pre_create_historical_record

from . import selectors
from .models import (
    Coalition,
    DataVersion,
    Membership,
    Nation,
    NationFigures,
    Objective,
    Pledge,
    Source,
    StatusEvent,
)

VERSIONED = {Coalition, Nation, Membership, Objective, Source, Pledge, StatusEvent, NationFigures,
             Pledge.objectives.through, Pledge.sources.through, Objective.lead_nations.through}

PUBLISH_PERMISSION = "commitments.publish_pledge"


@receiver(pre_create_historical_record)
def _attach_cited_source(sender, instance, history_instance, **kwargs):
    history_instance.history_source = getattr(instance, "_history_source", None)


def bump_data_version():
    """Count one more write. Runs inside the writer's transaction, so readers see both or neither."""
    updated = DataVersion.objects.filter(pk=1).update(version=F("version") + 1, changed_at=timezone.now())
    if not updated:
        DataVersion.objects.get_or_create(pk=1, defaults={"version": 1, "changed_at": timezone.now()})


@receiver(post_save)
@receiver(post_delete)
def _data_changed(sender, **kwargs):
    if sender in VERSIONED:
        bump_data_version()


@receiver(m2m_changed)
def _relations_changed(sender, action, **kwargs):
    if sender in VERSIONED and action.startswith("post_"):
        bump_data_version()


def _attribute(instance, *, user, reason, source):
    instance._history_user = user if user is not None and user.is_authenticated else None
    instance._change_reason = (reason or "").strip()[:100] or None
    instance._history_source = source


def save_record(instance, *, user, reason="", source=None):
    """Validate and save any commitments record, attributed to `user` with a reason and cited source."""
    instance.full_clean()
    _attribute(instance, user=user, reason=reason, source=source)
    with transaction.atomic():
        instance.save()
    return instance


def _touch(instance):
    """Mark a record changed when only its related rows did, so its version (ETag) changes too."""
    instance.updated_at = timezone.now()
    type(instance).objects.filter(pk=instance.pk).update(updated_at=instance.updated_at)


def set_related(instance, field, values, *, user, reason="", source=None):
    """Replace a many-to-many field (a pledge's objectives or sources); history records the new set."""
    _attribute(instance, user=user, reason=reason, source=source)
    with transaction.atomic():
        getattr(instance, field).set(values)
        _touch(instance)


def record_status_event(pledge, *, user, status, occurred_on, source, note="", delivered_quantity=None,
                        delivered_eur=None, reason=""):
    """Add a dated status step, citing its source, and bring the pledge's current state up to date."""
    event = StatusEvent(pledge=pledge, status=status, occurred_on=occurred_on, source=source, note=note,
                        delivered_quantity=delivered_quantity, delivered_eur=delivered_eur, recorded_by=user)
    with transaction.atomic():
        save_record(event, user=user, reason=reason or f"Status: {event.get_status_display()}", source=source)
        refresh_state(pledge, user=user, reason=reason or f"Status: {event.get_status_display()}", source=source)
    return event


def save_status_event(event, *, user, reason="", source=None):
    """Save a new or edited status event and refresh its pledge's current state."""
    if event.recorded_by_id is None:
        event.recorded_by = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        save_record(event, user=user, reason=reason, source=source or event.source)
        refresh_state(event.pledge, user=user, reason=reason or f"Status: {event.get_status_display()}",
                      source=source or event.source)
    return event


def delete_status_event(event, *, user, reason=""):
    pledge = event.pledge
    _attribute(event, user=user, reason=reason or "Status event removed", source=None)
    with transaction.atomic():
        event.delete()
        refresh_state(pledge, user=user, reason=reason or "Status event removed", source=None)


def refresh_state(pledge, *, user, reason="", source=None):
    """Derive the pledge's status and delivered amounts from its events; save only if they changed."""
    state = selectors.pledge_state(pledge.status_events.all())
    current = (pledge.status, pledge.delivered_quantity, pledge.delivered_eur)
    if current == (state.status, state.delivered_quantity, state.delivered_eur):
        _touch(pledge)  # its timeline changed even if its current state did not
        return pledge
    pledge.status = state.status
    pledge.delivered_quantity = state.delivered_quantity
    pledge.delivered_eur = state.delivered_eur
    return save_record(pledge, user=user, reason=reason, source=source)


def can_publish(user):
    return user is not None and user.is_active and user.has_perm(PUBLISH_PERMISSION)


def publish_pledge(pledge, *, user, reason="", operator=False):
    """Make a pledge visible to readers. Only reviewers may, and only for a pledge that cites a source.

    `operator=True` is for commands run on the server by whoever operates it (the demo loader).
    """
    if not operator and not can_publish(user):
        raise PermissionDenied("Only reviewers may publish pledges.")
    if not pledge.sources.exists():
        raise ValidationError(
            {"sources": "A pledge must cite at least one source before it can be published."}, code="no_source"
        )
    if pledge.is_published:
        return pledge
    pledge.publication = Pledge.Publication.PUBLISHED
    pledge.published_at = timezone.now()
    pledge.published_by = user if user is not None and user.is_authenticated else None
    return save_record(pledge, user=user, reason=reason or "Published")


def unpublish_pledge(pledge, *, user, reason=""):
    """Take a pledge back to draft: readers no longer see it anywhere."""
    if not can_publish(user):
        raise PermissionDenied("Only reviewers may unpublish pledges.")
    if not pledge.is_published:
        return pledge
    pledge.publication = Pledge.Publication.DRAFT
    pledge.published_at = None
    pledge.published_by = None
    return save_record(pledge, user=user, reason=reason or "Unpublished")
