"""A DAG file for the live observability test that takes longer to parse than the dag-processor allows.

The dag-processor kills its parsing process after ``[dag_processor] dag_file_processor_timeout``
and counts ``dag_processing.processor_timeouts``; the file also shows up as an import error.
(The words airflow and DAG appear here so that the processor's safe mode parses the file.)
"""

from __future__ import annotations

import time

time.sleep(3600)
