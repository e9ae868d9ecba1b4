output "cluster_name" {
  description = "Name of the GKE cluster (GitHub variable GKE_CLUSTER)."
  value       = google_container_cluster.primary.name
}

output "cluster_location" {
  description = "Zone or region of the GKE cluster (GitHub variable GKE_LOCATION)."
  value       = google_container_cluster.primary.location
}

output "cluster_endpoint" {
  description = "Endpoint of the cluster's control plane."
  value       = google_container_cluster.primary.endpoint
  sensitive   = true
}

output "bucket_name" {
  description = "GCS bucket for images (Helm value config.blobStore.gcs.bucket)."
  value       = google_storage_bucket.images.name
}

output "artifact_registry_url" {
  description = "Docker repository URL; the image is <url>/image-retrieval (GitHub variable ARTIFACT_REGISTRY)."
  value       = local.artifact_registry_url
}

output "runtime_service_account_email" {
  description = "Google service account of the pods (Helm value serviceAccount.gcpServiceAccount)."
  value       = google_service_account.runtime.email
}

output "deployer_service_account_email" {
  description = "Google service account GitHub Actions impersonates (GitHub variable GCP_SERVICE_ACCOUNT)."
  value       = google_service_account.deployer.email
}

output "workload_identity_provider" {
  description = "Full name of the GitHub OIDC provider (GitHub variable GCP_WORKLOAD_IDENTITY_PROVIDER)."
  value       = google_iam_workload_identity_pool_provider.github.name
}

output "get_credentials_command" {
  description = "Command that writes a kubeconfig entry for the cluster."
  value       = "gcloud container clusters get-credentials ${google_container_cluster.primary.name} --location ${google_container_cluster.primary.location} --project ${var.project_id}"
}
