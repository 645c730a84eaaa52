"""URLs the widget uses: the conversation API and the panel page framed by customers' sites."""

urlpatterns: list = []
