from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

# Uploaded photos have no open /media/ route: they are served by predictions:image after an access check.
# /healthz and /readyz are answered by infantino_site.health's middleware, ahead of every route.
# An unknown /api/… path answers {"error": …} like every other API error (with DEBUG off, as in production).
handler404 = "common.api_errors.not_found"
urlpatterns = [
    path("", include("predictions.urls")),
    path("api/", include("predictions.api_urls")),
    path("", include("modelops.urls")),
    path("api/", include("modelops.api_urls")),
    path("", include("annotations.urls")),
    path("api/", include("annotations.api_urls")),
    path("", include("videos.urls")),
    path("api/", include("videos.api_urls")),
    path("", include("accounts.urls")),
    path("api/", include("accounts.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Its script comes from /api/docs/?script rather than inline, so the page keeps the strict CSP (infantino_site.csp).
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api_docs.html"),
        name="api-docs",
    ),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]
