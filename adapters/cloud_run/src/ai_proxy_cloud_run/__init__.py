"""Google Cloud Run and Cloud Functions (gen2) entry points for ai-proxy."""
