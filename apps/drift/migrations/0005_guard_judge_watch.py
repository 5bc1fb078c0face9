import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('drift', '0004_drift_guard'),
        ('judging', '0005_judge_checks_and_verdict_sources'),
    ]

    operations = [
        migrations.AddField(
            model_name='driftguard',
            name='judge_requested_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='driftguard',
            name='judge_state',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='driftguard',
            name='requested_judge',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='judging.judgeconfig'),
        ),
    ]
