"""One-time JWT ids, remembered until the JWT they came with expires.

Client assertions (RFC 7523 section 3, item 7) and DPoP proofs (RFC 9449 section 11.1) are
accepted once: their ``jti`` is remembered here, in the database, when no Redis is configured
(with Redis, apps/protocol/replay.py keeps them there and this table stays empty). A model of
this app, not of apps/oauth: the replay check is protocol, used by client authentication and
DPoP alike, and this app sits below both.
"""

from django.db import models


class UsedJwtId(models.Model):
    # A digest of (kind, issuer, jti): fixed length whatever a client sends, and unique, so a
    # second INSERT of the same one fails: that failure is the replay check, race-free.
    key = models.CharField(max_length=64, primary_key=True)
    expires = models.DateTimeField(db_index=True, help_text="When the JWT expires; the row can go after.")

    class Meta:
        verbose_name = "used JWT id"

    def __str__(self) -> str:
        return self.key
