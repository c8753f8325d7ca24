FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DJANGO_SECRET_KEY=build-only-build-only-build-only-build DJANGO_DEBUG=false \
    DJANGO_SETTINGS_MODULE=config.django.production python manage.py collectstatic --noinput
EXPOSE 8000
