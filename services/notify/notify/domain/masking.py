"""Moved to ``backbone.masking``; this name stays only while devtools/smsc.py imports it."""

from backbone.masking import mask_email as mask_email
from backbone.masking import mask_phone as mask_phone
from backbone.masking import mask_pii as mask_pii
