from rest_framework import serializers

from gan.models import Job


class JobSerializer(serializers.ModelSerializer):
    machine_id = serializers.CharField(source="machine.machine_id", default=None, read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", default=None, read_only=True)
    ws_url = serializers.CharField(read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "machine_id",
            "parent",
            "params",
            "result",
            "current",
            "total",
            "progress",
            "stage",
            "message",
            "error",
            "loss_history",
            "cancel_requested",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "ws_url",
        ]
        read_only_fields = fields


class JobStartedSerializer(serializers.Serializer):
    """The 202 answer of every endpoint that starts a job."""

    job = serializers.IntegerField(source="pk")
    status = serializers.CharField()
    kind = serializers.CharField()
    ws_url = serializers.CharField()
    url = serializers.SerializerMethodField()

    def get_url(self, job) -> str:
        return f"/api/v1/jobs/{job.pk}/"
