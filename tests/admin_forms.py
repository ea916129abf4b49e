"""Build the POST body a browser would send for a Django admin add/change page, from its current values."""
from django import forms


def _encode(value):
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return [str(getattr(v, "pk", v)) for v in value]
    return str(getattr(value, "pk", value))


def _form_fields(form, data):
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field.widget, forms.CheckboxInput):
            if value:
                data[form.add_prefix(name)] = "on"
        elif isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField):
            data[form.add_prefix(name)] = _encode(value or [])
        else:
            data[form.add_prefix(name)] = _encode(value)


def admin_form_data(response, **changes):
    """The form's values as the page shows them, with `changes` applied (inline fields by full prefixed name)."""
    data = {}
    _form_fields(response.context["adminform"].form, data)
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        for name in formset.management_form.fields:
            data[formset.management_form.add_prefix(name)] = _encode(formset.management_form[name].value())
        for form in formset.forms:
            _form_fields(form, data)
    for name, value in changes.items():
        if value is False or value is None:
            data.pop(name, None)
        elif value is True:
            data[name] = "on"
        else:
            data[name] = value
    return data
