"""Access-log import: parse host/CDN logs (combined, CloudFront, CSV) into chunks of raw requests."""
# Speed matters (a million-line log must import in seconds): combined.py says how lines are found, values.py
# why every conversion runs once per distinct value. The `_x as _x` imports are internals the unit tests
# reach for here.
import logging

from services.measurement.logs.chunks import FORMATS, iter_log_chunks
from services.measurement.logs.cloudfront import CLOUDFRONT_DEFAULT_FIELDS, CLOUDFRONT_REQUIRED
from services.measurement.logs.combined import _combined_regex as _combined_regex
from services.measurement.logs.combined import _combined_vectorised as _combined_vectorised
from services.measurement.logs.combined import _parse_combined as _parse_combined
from services.measurement.logs.csv_log import CSV_OPTIONAL, CSV_REQUIRED
from services.measurement.logs.reading import count_lines, file_fingerprint, fingerprint_and_lines
from services.measurement.logs.rows import COLUMNS, LogLineError, ParsedChunk
from services.measurement.logs.rows import _assemble as _assemble
from services.measurement.logs.values import EXCERPT_CHARS

logger = logging.getLogger(__name__)

__all__ = [
    "CLOUDFRONT_DEFAULT_FIELDS",
    "CLOUDFRONT_REQUIRED",
    "COLUMNS",
    "CSV_OPTIONAL",
    "CSV_REQUIRED",
    "EXCERPT_CHARS",
    "FORMATS",
    "LogLineError",
    "ParsedChunk",
    "count_lines",
    "file_fingerprint",
    "fingerprint_and_lines",
    "iter_log_chunks",
]
