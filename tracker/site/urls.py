from django.urls import path

from . import views

app_name = "site"
urlpatterns = [
    path("", views.home, name="home"),
    path("pledges/<int:pk>/", views.pledge_detail, name="pledge"),
]
