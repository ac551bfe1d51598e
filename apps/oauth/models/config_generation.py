"""One row whose value changes with every change to the token endpoint's configuration."""

from django.db import models


class ConfigGeneration(models.Model):
    """Changed (to a fresh random number) by every save or delete of a client, API resource,
    scope or exchange policy. The token endpoint reads it in the same query as the client's
    row and reuses its per-process copy of that client's configuration while the value is
    unchanged (apps/clients/config_cache.py). Random rather than a counter, so a
    rolled-back change can never make an old value current again."""

    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "configuration generation"

    def __str__(self) -> str:
        return str(self.value)
