"""Small clients that do what Argo Rollouts, Flagger and Kargo do when they call the gate service, rule by rule
from their source (docs/gate-service.md cites the lines). There is no cluster here; these are the controllers'
evaluation, run against the real service."""
