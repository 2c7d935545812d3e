"""StatsD → Prometheus bridge with statsd_exporter's mapping semantics (``airdeck metrics-bridge``).

Modules, one job each: ``line`` parses StatsD lines, ``mapping`` loads and validates the mapping
file, ``fsm``/``mapper`` find the mapping for a metric, ``registry`` stores series and renders
them, ``summary`` computes summary quantiles, ``exporter`` applies events, ``selfmetrics`` counts
what happened, ``bridge`` runs the UDP and HTTP servers, ``cli`` is the command line entry point.
"""
