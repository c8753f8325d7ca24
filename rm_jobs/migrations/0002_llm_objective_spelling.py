"""One spelling for objectives: the engine's (``margin_bt``, ``scaled_bt``, …) replaces the hyphenated job values."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

RENAMES = {
    "margin-bt": "margin_bt",
    "scaled-bt": "scaled_bt",
    "regression-helpfulness": "regression_helpfulness",
    "regression-then-scaled-bt": "regression_then_scaled_bt",
}


def _rename(apps: Any, mapping: dict[str, str]) -> None:
    TrainingJob = apps.get_model("rm_jobs", "TrainingJob")
    for old, new in mapping.items():
        for job in TrainingJob.objects.filter(objective=old).only("id", "config"):
            config = dict(job.config or {})
            if config.get("objective") == old:
                config["objective"] = new
            TrainingJob.objects.filter(id=job.id).update(objective=new, config=config)


def forwards(apps: Any, schema_editor: Any) -> None:
    _rename(apps, RENAMES)


def backwards(apps: Any, schema_editor: Any) -> None:
    _rename(apps, {new: old for old, new in RENAMES.items()})


class Migration(migrations.Migration):
    dependencies = [("rm_jobs", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="trainingjob",
            name="objective",
            field=models.CharField(
                choices=[
                    ("bt", "Bradley-Terry"),
                    ("margin_bt", "Bradley-Terry with margin"),
                    ("scaled_bt", "Scaled Bradley-Terry"),
                    ("regression", "Regression, every attribute"),
                    ("regression_helpfulness", "Regression, helpfulness only"),
                    ("regression_then_scaled_bt", "Regression (helpfulness) then Scaled BT"),
                ],
                max_length=32,
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
