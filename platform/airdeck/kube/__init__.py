"""The Kubernetes target seen from a laptop: a Helm release of the chart, reached through the Kubernetes API."""
