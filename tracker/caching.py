"""What a shared cache (a CDN, a caching proxy) may keep.

An anonymous reader's GET of a public page or API read is the same for every reader: it may be kept briefly by
browsers (`max-age`) and a little longer by shared caches (`s-maxage`), which may also serve it while they fetch a
fresh copy (`stale-while-revalidate`); ETags let them check back cheaply. Anything an editor or an API client with a
key sees, anything that sets a cookie, and the admin are `private`: no shared cache keeps them. `Vary` names the
request headers an answer depends on, so a cache never hands one person's view to another.
"""
from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils.cache import patch_cache_control, patch_vary_headers

PRIVATE_PREFIXES = ("/admin/",)


class PublicCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return response
        patch_vary_headers(response, ["Cookie", "Authorization"])
        shareable = self._shareable(request, response)
        if shareable or "public" in response.get("Cache-Control", ""):
            del response.headers["Cache-Control"]  # this policy replaces a view's own
        if shareable:
            patch_cache_control(response, public=True, max_age=settings.PUBLIC_CACHE_MAX_AGE,
                                s_maxage=settings.PUBLIC_CACHE_S_MAXAGE,
                                stale_while_revalidate=settings.PUBLIC_CACHE_STALE_WHILE_REVALIDATE)
        else:
            patch_cache_control(response, private=True, no_cache=True)
        return response

    @staticmethod
    def _shareable(request, response):
        control = response.get("Cache-Control", "")
        user = getattr(request, "user", None)
        return (response.status_code in (200, 301, 304, 404)
                and not request.path.startswith(PRIVATE_PREFIXES)
                and "HTTP_AUTHORIZATION" not in request.META
                and not (user is not None and user.is_authenticated)
                and not response.cookies
                and "private" not in control and "no-store" not in control)


class LanguageByPathMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware, for a site whose URL alone names its language (English unprefixed, /de/, /fr/,
    /uk/; the API and admin always English): no answer depends on Accept-Language, so none says it varies on it.
    Django's would, for every unprefixed URL, and a shared cache would keep a copy per browser language."""

    def process_response(self, request, response):
        response = super().process_response(request, response)
        if response.has_header("Vary"):
            kept = [h.strip() for h in response["Vary"].split(",") if h.strip().lower() != "accept-language"]
            if kept:
                response["Vary"] = ", ".join(kept)
            else:
                del response.headers["Vary"]
        return response
