"""Connection arguments for `airflow db migrate` on a database that starts below Airflow 3.2.

Airflow 3.3.2's migration 0094 (``replace deadline inline callback with fkey``) passes a parameter
inside ``json_build_object(...)`` that PostgreSQL cannot type when psycopg 3 binds it on the server
("could not determine data type of parameter $8"); the psycopg2 driver Airflow's CI uses interpolates
parameters on the client, so Airflow does not see it. psycopg 3's :class:`psycopg.ClientCursor` binds
the same way psycopg2 does. airdeck points ``[database] sql_alchemy_connect_args`` here only for that
one command (``AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS``); the services keep server-side binding.

Imported by Airflow inside its own process: nothing here may import airdeck.
"""

from __future__ import annotations

import psycopg

CONNECT_ARGS = {"cursor_factory": psycopg.ClientCursor}
#: The value of ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS`` that selects :data:`CONNECT_ARGS`.
IMPORT_PATH = f"{__name__}.CONNECT_ARGS"
