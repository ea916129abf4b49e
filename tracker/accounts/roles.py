"""The two staff roles. Editors add and change everything but cannot publish; reviewers may also publish.

The groups are (re)created after every `migrate`, so a fresh database has them and a changed list
of permissions reaches existing databases too.
"""
from django.contrib.auth.models import Group, Permission

EDITORS = "Editors"
REVIEWERS = "Reviewers"

EDITABLE_MODELS = ["coalition", "nation", "nationfigures", "membership", "objective", "source", "pledge",
                   "statusevent", "pledgeitem", "itemdelivery"]
# Editors may remove a mistaken status step, membership, item line or item delivery; deleting pledges and sources is
# for superusers.
DELETABLE_MODELS = ["statusevent", "membership", "pledgeitem", "itemdelivery"]


def editor_codenames():
    codenames = [f"{action}_{model}" for model in EDITABLE_MODELS for action in ("add", "change", "view")]
    codenames += [f"delete_{model}" for model in DELETABLE_MODELS]
    return codenames


def ensure_groups(sender=None, **kwargs):
    if sender is not None and sender.label != "commitments":
        return
    editor_perms = list(Permission.objects.filter(content_type__app_label="commitments",
                                                  codename__in=editor_codenames()))
    publish = list(Permission.objects.filter(content_type__app_label="commitments", codename="publish_pledge"))
    editors, _ = Group.objects.get_or_create(name=EDITORS)
    editors.permissions.set(editor_perms)
    reviewers, _ = Group.objects.get_or_create(name=REVIEWERS)
    reviewers.permissions.set(editor_perms + publish)
