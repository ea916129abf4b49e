from django.urls import path

from . import feeds, views

app_name = "site"
urlpatterns = [
    path("", views.dashboard, name="home"),
    path("coalitions/", views.coalition_list, name="coalitions"),
    path("coalitions/compare/", views.coalition_compare, name="compare"),
    path("coalitions/<slug:slug>/", views.dashboard, name="coalition"),
    path("coalitions/<slug:coalition>/objectives/<slug:slug>/", views.objective_detail, name="objective"),
    path("nations/<slug:slug>/", views.nation_detail, name="nation"),
    path("pledges/", views.pledge_list, name="pledges"),
    path("pledges/<int:pk>/", views.pledge_detail, name="pledge"),
    path("sources/<int:pk>/", views.source_detail, name="source"),
    path("charts/<slug:slug>/<slug:name>.svg", views.chart_svg, name="chart-svg"),
    path("embed/<slug:slug>/<slug:name>/", views.chart_embed, name="chart-embed"),
    path("methodology/", views.methodology, name="methodology"),
    path("releases/", views.release_list, name="releases"),
    path("feeds/changes.atom", feeds.ChangesFeed(), name="feed"),
    path("feeds/coalitions/<slug:slug>.atom", feeds.CoalitionChangesFeed(), name="coalition-feed"),
    path("feeds/nations/<slug:slug>.atom", feeds.NationChangesFeed(), name="nation-feed"),
    path("releases/<int:number>/", views.release_detail, name="release"),
    path("releases/<int:number>/dataset.<str:fmt>", views.release_dataset, name="release-dataset"),
]
