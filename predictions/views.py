from django.shortcuts import render

from accounts.decorators import role_required


@role_required()
def dashboard(request):
    return render(request, "predictions/dashboard.html")
