"""The admin's import screens: upload -> preview of every row's outcome -> confirm; blank templates; exports.

Between preview and confirm the upload waits in the database under its SHA-256 (services.keep_upload), where every
app server sees it, so the confirmed import is exactly the previewed file, and is checked again (the data may have
changed in between).
"""
import datetime
import os
import re

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from . import selectors, services
from .imports import importer, template
from .models import Coalition

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV or XLSX, up to 50 MB.")
    format = forms.ChoiceField(choices=[("template", "This tracker's template"),
                                        ("kiel", "Kiel Ukraine Support Tracker, main sheet")])
    coalition = forms.ModelChoiceField(Coalition.objects.all(), required=False, empty_label="The default coalition",
                                       help_text="For rows that name no coalition (every Kiel row).",
                                       to_field_name="slug")
    release_date = forms.DateField(
        required=False, label="Release date", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="For a dataset release (Kiel): the day it was published. Its deliveries, which Kiel does not "
                  "date, and the figures it changes count from that day. Required when the file reports deliveries.")
    publish = forms.BooleanField(required=False, label="Publish the imported pledges",
                                 help_text="Reviewers only. Otherwise they arrive as drafts.")

    def __init__(self, *args, can_publish=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_publish:
            del self.fields["publish"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 50 MB.")
        if not upload.name.lower().endswith((".csv", ".xlsx", ".txt")):
            raise forms.ValidationError("Upload a .csv or .xlsx file.")
        return upload


def _safe_name(name):
    return re.sub(r"[^\w.\- ()]", "_", os.path.basename(name or "upload"))[:150]


def import_view(model_admin, request):
    if not (model_admin.has_add_permission(request) and model_admin.has_change_permission(request)):
        raise PermissionDenied
    can_publish = services.can_publish(request.user)
    context = {**model_admin.admin_site.each_context(request), "opts": model_admin.model._meta,
               "title": "Import pledges", "columns": template.COLUMNS}
    if request.method == "POST" and "confirm" in request.POST:
        return _confirm(model_admin, request, context, can_publish)
    form = ImportForm(request.POST or None, request.FILES or None, can_publish=can_publish)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["file"].read()
        options = {"fmt": form.cleaned_data["format"], "coalition": form.cleaned_data["coalition"],
                   "publish": form.cleaned_data.get("publish", False),
                   "release_date": form.cleaned_data.get("release_date")}
        name = _safe_name(form.cleaned_data["file"].name)
        report = importer.import_file(data, name, user=request.user, dry_run=True, **options)
        context.update(report=report, preview=True, digest=services.keep_upload(data), filename=name,
                       chosen={"format": options["fmt"],
                               "coalition": options["coalition"].slug if options["coalition"] else "",
                               "publish": "1" if options["publish"] else "",
                               "release_date": options["release_date"].isoformat() if options["release_date"] else ""})
        status = 200 if report.ok else 400
        return TemplateResponse(request, "admin/commitments/pledge/import.html", {**context, "form": form},
                                status=status)
    context["form"] = form
    return TemplateResponse(request, "admin/commitments/pledge/import.html", context,
                            status=400 if form.is_bound else 200)


def _confirm(model_admin, request, context, can_publish):
    data = selectors.kept_upload(request.POST.get("digest"))
    fmt = request.POST.get("format")
    publish = request.POST.get("publish") == "1"
    coalition = Coalition.objects.filter(slug=request.POST.get("coalition") or "").first()
    if data is None or fmt not in importer.FORMATS or (publish and not can_publish):
        messages.error(request, "That upload is no longer available: please upload the file again.")
        return redirect("admin:commitments_pledge_import")
    name = _safe_name(request.POST.get("filename"))
    try:
        release_date = datetime.date.fromisoformat(request.POST.get("release_date") or "") \
            if request.POST.get("release_date") else None
    except ValueError:
        release_date = None
    report = importer.import_file(data, name, fmt=fmt, user=request.user, coalition=coalition, publish=publish,
                                  release_date=release_date)
    if not report.ok:
        context.update(report=report, form=ImportForm(can_publish=can_publish))
        return TemplateResponse(request, "admin/commitments/pledge/import.html", context, status=400)
    messages.success(request, f"Imported {name}: {report.summary()}.")
    return redirect("admin:commitments_pledge_changelist")


def blank_template_view(model_admin, request, fmt):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    return download(template.blank(fmt), "pledge-template", fmt)


def download(content, name, fmt):
    response = HttpResponse(content, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def export(queryset, fmt):
    return download(template.export_file(queryset, fmt), "pledges", fmt)
