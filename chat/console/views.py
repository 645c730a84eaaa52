from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from supportdesk.roles import AGENTS, role_required


@role_required(AGENTS)
def console(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/console/index.html")
