app_name = "rm_jobs"
urlpatterns: list = []  # type: ignore[type-arg]
